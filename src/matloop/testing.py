"""Fakes for users' own tests: an oracle and a surrogate that are fast, deterministic and
keep the contracts of the real ones (``matloop.protocols``).

``FakeOracle`` stands in for a calculator or a lab; ``FakeSurrogate`` for a model (it is a
nearest-neighbour ensemble, exposed to BoTorch like matloop's forests and ensembles)::

    from matloop.testing import FakeOracle
    session.run(oracle=FakeOracle(("band_gap",), fail_every=5))
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from matloop.errors import NotFittedError
from matloop.protocols import Candidate, Outcome, Prediction

if TYPE_CHECKING:
    from botorch.models.model import Model


@dataclass(frozen=True)
class FakeOracle:
    """Property j of a candidate is ``scale[j] * Σ_i sin(i + j + 1 + x_i)`` over its
    inputs (a categorical option counts by its checksum; or element fractions; a
    structure counts by its key's checksum).
    With ``fail_every = k`` one candidate in k (by a checksum of its key) fails with
    ``reason``. Picklable, so it also runs in worker processes."""

    properties: tuple[str, ...] = ("y",)
    scale: tuple[float, ...] = ()
    fail_every: int = 0
    reason: str = "infeasible"
    units: dict[str, str] = field(default_factory=dict)

    def evaluate(self, candidate: Candidate) -> Outcome:
        checksum = zlib.crc32(candidate.key.encode())
        if self.fail_every and checksum % self.fail_every == 0:
            return Outcome.failure(self.reason, f"fake failure of {candidate.label}")
        x = _numbers(candidate, checksum)
        values = {}
        for j, name in enumerate(self.properties):
            scale = self.scale[j] if j < len(self.scale) else 1.0
            values[name] = scale * sum(math.sin(i + j + 1 + v) for i, v in enumerate(x))
        return Outcome.success(values, units=self.units, provenance={"oracle": "fake"})


def _numbers(candidate: Candidate, checksum: int) -> list[float]:
    if candidate.inputs is not None:
        return [zlib.crc32(v.encode()) / 2**32 if isinstance(v, str) else float(v)
                for v in candidate.inputs.values()]
    if candidate.composition is not None:
        return [float(candidate.composition[k]) for k in sorted(candidate.composition)]
    return [checksum / 2**32]


@dataclass
class FakeSurrogate:
    """The ``k`` nearest measured points (Euclidean in feature space) as an ensemble of
    ``k`` members: mean and spread ``(n, m)`` of their values. NaN targets are skipped
    per property."""

    k: int = 3
    _X: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _Y: list[np.ndarray] = field(default_factory=list, init=False, repr=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
        self._X, self._Y = [], []
        for j in range(Y.shape[1]):
            known = np.isfinite(Y[:, j])
            if not known.any():
                raise ValueError(f"property {j} has no measured value")
            self._X.append(X[known])
            self._Y.append(Y[known, j])
        return self

    def _members(self, X: np.ndarray) -> np.ndarray:
        """Member predictions ``(k, N, m)``: the values of the k nearest points."""
        if not self._X:
            raise NotFittedError("the fake surrogate has not been fitted yet: call fit(X, Y)")
        X = np.asarray(X, dtype=float)
        out = np.empty((self.k, len(X), len(self._X)))
        for j, (train, values) in enumerate(zip(self._X, self._Y, strict=True)):
            distance = ((X[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1)
            order = np.argsort(distance, axis=1, kind="stable")
            nearest = order[:, np.arange(self.k) % len(values)]
            out[:, :, j] = values[nearest].T
        return out

    def predict(self, X: np.ndarray) -> Prediction:
        members = self._members(X)
        return Prediction(mean=members.mean(axis=0), std=members.std(axis=0))

    @property
    def model(self) -> Model:
        from matloop.surrogates.ensemble import ensemble_model

        if not self._X:
            raise NotFittedError("the fake surrogate has not been fitted yet: call fit(X, Y)")
        return ensemble_model(self._members, len(self._X))

    def hyperparameters(self) -> dict[str, Any]:
        return {"k": self.k}
