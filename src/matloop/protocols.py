"""The small interfaces that hold matloop together, and the plain values that cross them.

Implementations do not inherit from these protocols; they only need the attributes.
Everything that travels to a worker process (``Candidate``, ``Outcome``, oracles) is a
plain, picklable value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from botorch.models.model import Model

MAX_MAGNITUDE = 1e100  # no input or measured value, in any unit, comes near this size
FAILURE_REASONS = ("error", "timeout", "crashed", "invalid", "not_converged", "infeasible")


@dataclass(frozen=True)
class Candidate:
    """One point of the candidate space, as an oracle sees it.

    ``key`` identifies the candidate within its campaign (canonical text: a normalised
    formula, ``name=value`` pairs or a structure's unique name); ``label`` is the same
    candidate in words for people. Exactly one of ``inputs`` (parameters by column name:
    numbers, and the option's name for a categorical column), ``composition`` (element
    symbol -> atomic fraction, summing to 1) and ``structure`` (a crystal structure as
    pymatgen JSON text, lengths in Å) is set.
    """

    key: str
    label: str
    inputs: Mapping[str, float | str] | None = None
    composition: Mapping[str, float] | None = None
    structure: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of one evaluation: property values on success, a reason on failure.

    ``values`` maps property name -> value in ``units[property]``; ``provenance`` records
    how the values were made (calculator, settings, versions); ``duration_s`` is wall time.
    """

    ok: bool
    values: Mapping[str, float] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def success(
        cls,
        values: Mapping[str, float],
        units: Mapping[str, str] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> Outcome:
        return cls(ok=True, values=dict(values), units=dict(units or {}),
                   provenance=dict(provenance or {}))

    @classmethod
    def failure(cls, reason: str, error: str, provenance: Mapping[str, Any] | None = None
                ) -> Outcome:
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {reason!r}; use one of {FAILURE_REASONS}")
        return cls(ok=False, reason=reason, error=error, provenance=dict(provenance or {}))


@dataclass(frozen=True)
class Prediction:
    """Predictive mean and standard deviation, both shaped ``(n, m)`` for m properties."""

    mean: np.ndarray
    std: np.ndarray


@runtime_checkable
class Featurizer(Protocol):
    """Turns candidates of a pool into numeric vectors."""

    @property
    def names(self) -> tuple[str, ...]:
        """One name per feature column."""
        ...

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Pool values ``(n, k)`` -> features ``(n, d)`` with ``d == len(names)``."""
        ...


@runtime_checkable
class Surrogate(Protocol):
    """A model of m properties over d features."""

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        """Fit on features ``(n, d)`` and targets ``(n, m)``; NaN marks a missing value."""
        ...

    def predict(self, X: np.ndarray) -> Prediction:
        """Mean and std ``(n, m)`` at features ``(n, d)``; raises before ``fit``."""
        ...

    @property
    def model(self) -> Model:
        """The fitted model as a BoTorch ``Model`` with m outputs."""
        ...

    def hyperparameters(self) -> dict[str, Any]:
        """Fitted hyperparameters as plain JSON-able values (for the cycle log)."""
        ...


@runtime_checkable
class Oracle(Protocol):
    """Evaluates candidates. Picklable; no side effects beyond its own scratch directory."""

    @property
    def properties(self) -> tuple[str, ...]:
        """Names of the properties an evaluation returns."""
        ...

    def evaluate(self, candidate: Candidate) -> Outcome:
        """Evaluate one candidate; failures come back as ``Outcome.failure``."""
        ...


def missing_properties(outcome: Outcome, required: Sequence[str]) -> list[str]:
    """Names in ``required`` that a successful ``outcome`` did not return."""
    return [name for name in required if name not in outcome.values]
