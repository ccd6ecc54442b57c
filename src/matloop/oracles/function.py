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

from matloop.protocols import Candidate, Outcome


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
