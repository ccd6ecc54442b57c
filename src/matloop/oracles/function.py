"""A Python callable as an oracle (``Session.run(oracle=f)``): called in this process.

``f`` gets the candidate as ``PythonOracle`` passes it — inputs as keyword arguments
(numbers, or a categorical option's name), ``composition=`` a pymatgen ``Composition``,
or ``structure=`` a ``Structure`` — and returns ``{property: value}``; raising marks the
evaluation failed (``matloop.errors.EvaluationFailure`` carries its own reason).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from matloop.errors import ConfigError
from matloop.protocols import Candidate, Oracle, Outcome


@dataclass(frozen=True)
class FunctionOracle:
    """Calls ``function`` for each candidate; ``properties`` are the ones it returns."""

    function: Callable[..., Any]
    properties: tuple[str, ...]

    def evaluate(self, candidate: Candidate) -> Outcome:
        name = getattr(self.function, "__qualname__", repr(self.function))
        return call(self.function, candidate, {"oracle": "function", "function": name})


def call(function: Callable[..., Any], candidate: Candidate, provenance: Mapping[str, Any]
         ) -> Outcome:
    """``function`` called with the candidate (inputs as keywords, ``composition=`` or
    ``structure=``); its ``{property: value}`` as a success with ``provenance``, anything
    else as an ``invalid`` failure. Exceptions propagate (``evaluate`` records them)."""
    if candidate.structure is not None:
        from pymatgen.core import Structure

        result = function(structure=Structure.from_str(candidate.structure, fmt="json"))
    elif candidate.composition is not None:
        from pymatgen.core import Composition

        result = function(composition=Composition(dict(candidate.composition)))
    else:
        result = function(**dict(candidate.inputs or {}))
    if not isinstance(result, Mapping):
        name = provenance.get("function", "the function")
        return Outcome.failure("invalid", f"{name} returned {type(result).__name__}, not a "
                               "dict of property values")
    return Outcome.success(result, provenance=provenance)


def as_oracle(oracle: Any, properties: tuple[str, ...]) -> Oracle:
    """An ``Oracle`` as it is; a function ``f(**inputs) -> {property: value}`` wrapped as
    one measuring ``properties``; ``ConfigError`` for anything else."""
    if hasattr(oracle, "evaluate") and hasattr(oracle, "properties"):
        return oracle
    if callable(oracle):
        return FunctionOracle(oracle, properties)
    raise ConfigError(f"oracle: expected an Oracle or a function, got "
                      f"{type(oracle).__name__}")
