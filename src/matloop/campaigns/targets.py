"""The target property set as numbers: which outputs are optimised, which are bounded.

A candidate is a **hit** when every bounded property is measured and inside its interval
(the intersection of all range targets on that property). With two or more optimised
properties the measured candidates that meet every bound and are not dominated form the
**Pareto front**. Outputs are indexed in the order of ``Campaign.properties``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from matloop.campaigns.schema import Target

Kind = Literal["single", "multi", "thresholds"]


PARETO_CHUNK = 1024  # rows compared at a time: memory (chunk x n x k) stays small


@dataclass(frozen=True)
class TargetSet:
    """``properties`` are the modelled outputs; ``objectives`` the ``(index, sign)`` of
    each optimised output (none for a pure range search); ``bounds`` maps an output index
    to its accepted ``(lo, hi)`` (±inf for an open side); ``references`` maps an optimised
    output to the worst value of interest its target gives (hypervolume reference)."""

    properties: tuple[str, ...]
    objectives: tuple[tuple[int, float], ...]
    bounds: dict[int, tuple[float, float]]
    references: dict[int, float] = field(default_factory=dict)

    @classmethod
    def from_targets(cls, targets: Sequence[Target]) -> TargetSet:
        properties = tuple(dict.fromkeys(t.property for t in targets))
        index = {name: j for j, name in enumerate(properties)}
        objectives = tuple((index[t.property], t.sign) for t in targets if t.optimised)
        references = {index[t.property]: t.reference for t in targets
                      if t.optimised and t.reference is not None}
        bounds: dict[int, tuple[float, float]] = {}
        for target in targets:
            if target.optimised:
                continue
            j = index[target.property]
            lo, hi = bounds.get(j, (-math.inf, math.inf))
            bounds[j] = (max(lo, target.interval[0]), min(hi, target.interval[1]))
        return cls(properties, objectives, bounds, references)

    @property
    def kind(self) -> Kind:
        if not self.objectives:
            return "thresholds"
        return "single" if len(self.objectives) == 1 else "multi"

    @property
    def objective(self) -> tuple[int, float] | None:
        """``(index, sign)`` of the one optimised output; None unless ``kind == "single"``."""
        return self.objectives[0] if len(self.objectives) == 1 else None

    def hits(self, Y: np.ndarray) -> np.ndarray:
        """Boolean ``(n,)``: rows of ``Y`` ``(n, m)`` that meet every bound (NaN never does)."""
        Y = _matrix(Y, len(self.properties))
        if not self.bounds:
            return np.zeros(len(Y), dtype=bool)
        ok = np.ones(len(Y), dtype=bool)
        for j, (lo, hi) in self.bounds.items():
            with np.errstate(invalid="ignore"):
                ok &= (Y[:, j] >= lo) & (Y[:, j] <= hi)
        return ok

    def hit_probability(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """P(hit) ``(n,)`` under independent Gaussian marginals ``(n, m)`` per output."""
        from scipy.special import ndtr

        probability = np.ones(len(mean))
        for j, (lo, hi) in self.bounds.items():
            sigma = np.maximum(std[:, j], 1e-12)
            probability *= ndtr((hi - mean[:, j]) / sigma) - ndtr((lo - mean[:, j]) / sigma)
        return probability

    def best(self, Y: np.ndarray) -> float | None:
        """The best objective value among hits (among all measured values when there are
        no bounds); None for a pure range search or before any value qualifies."""
        Y = _matrix(Y, len(self.properties))
        if self.objective is None:
            return None
        j, sign = self.objective
        values = Y[self.hits(Y), j] if self.bounds else Y[:, j]
        values = values[np.isfinite(values)]
        if not len(values):
            return None
        return float(values.max() if sign > 0 else values.min())

    def signed_objectives(self, Y: np.ndarray) -> np.ndarray:
        """``(n, k)``: each optimised output of ``Y`` ``(n, m)`` times its sign, so that
        larger is better in every column."""
        Y = _matrix(Y, len(self.properties))
        return np.stack([sign * Y[:, j] for j, sign in self.objectives], axis=-1) \
            if self.objectives else np.zeros((len(Y), 0))

    def pareto(self, Y: np.ndarray) -> np.ndarray:
        """Boolean ``(n,)``: rows that meet every bound, have every objective measured and
        are not dominated by another such row (duplicates of a front point all count).

        The same mask as BoTorch's ``is_non_dominated(Z, deduplicate=False)`` (a test
        checks it), in numpy so that ``status`` does not import torch."""
        Y = _matrix(Y, len(self.properties))
        Z = self.signed_objectives(Y)
        eligible = np.isfinite(Z).all(axis=1) & (self.hits(Y) if self.bounds else True)
        front = np.zeros(len(Y), dtype=bool)
        rows = np.flatnonzero(eligible)
        points = Z[rows]
        for start in range(0, len(rows), PARETO_CHUNK):
            chunk = points[start:start + PARETO_CHUNK, None, :]  # (c, 1, k) against (n, k)
            better = np.all(points >= chunk, axis=-1) & np.any(points > chunk, axis=-1)
            dominated = np.any(better, axis=1)
            front[rows[start:start + PARETO_CHUNK]] = ~dominated
        return front


def goodness(targets: TargetSet, j: int, values: np.ndarray) -> np.ndarray:
    """Larger is better for output ``j``: the signed value of the optimised output; for a
    bounded one, the value (lower bound only), minus the value (upper bound only), or
    minus the distance to the middle of the range (both bounds)."""
    values = np.asarray(values, dtype=float)
    for index, sign in targets.objectives:
        if index == j:
            return sign * values
    lo, hi = targets.bounds.get(j, (-math.inf, math.inf))
    if math.isfinite(lo) and math.isfinite(hi):
        return -np.abs(values - (lo + hi) / 2)
    return -values if math.isfinite(hi) else values


def _matrix(Y: np.ndarray, m: int) -> np.ndarray:
    """``Y`` as ``(n, m)``: an ``(n, m)`` array, an ``(m,)`` row, or empty."""
    Y = np.asarray(Y, dtype=float)
    if Y.size == 0:
        return Y.reshape(0, m)
    if Y.ndim == 1 and len(Y) == m:
        return Y.reshape(1, m)
    if Y.ndim != 2 or Y.shape[1] != m:
        raise ValueError(f"values must be shaped (n, {m}), one column per property; "
                         f"got {Y.shape}")
    return Y
