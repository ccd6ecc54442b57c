"""Initial designs: which candidates to measure before there is a model.

Each design picks q of the available pool rows given the rows already planned (earlier
picks of the design, prior measurements), in the pool's feature space scaled to the
unit box, reproducibly from the campaign's seed and the cycle:

- ``random`` — uniformly without replacement;
- ``farthest`` — greedy max-min distance: each pick is the available row farthest from
  everything planned so far (the first, when nothing is, drawn at random);
- ``diameter`` — the same, but starting (when nothing is planned) from the ends of an
  approximate diameter of the pool: the row farthest from the centroid, then the row
  farthest from it (BayBE's farthest-point start, in O(N·d) instead of O(N²));
- ``kmeans`` — k-means++ seeding: each pick drawn with probability ∝ its squared
  distance to the nearest planned row;
- ``sobol`` — a scrambled Sobol sequence over the box, each point taking the nearest
  row not yet picked (the rows fill the box as the sequence does, not the pool's
  densest region).

Distances are Euclidean; memory is O(N) per pick, time O(N·d) per pick.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Design = Callable[[np.ndarray, np.ndarray, np.ndarray, int, int, int], np.ndarray]


def initial_design(name: str, features: np.ndarray, available: np.ndarray, q: int,
                   seed: int, cycle: int) -> np.ndarray:
    """Pool rows (q of the ``available`` rows, int64) chosen by design ``name``.

    ``features`` ``(N, d)``; ``available`` ``(N,)`` bool, False for the rows already
    measured or proposed (which the spreading designs keep away from)."""
    try:
        design = DESIGNS[name]
    except KeyError:
        raise ValueError(f"unknown initial design {name!r}; known: {sorted(DESIGNS)}") \
            from None
    q = min(q, int(available.sum()))
    if q <= 0:
        return np.zeros(0, dtype=np.int64)
    if name == "random":  # no features needed
        return _random(features, available, np.zeros(0, np.int64), q, seed, cycle)
    planned = np.flatnonzero(~available)
    return design(unit_box(features), available, planned, q, seed, cycle)


def unit_box(features: np.ndarray) -> np.ndarray:
    """Features ``(N, d)`` scaled column-wise to [0, 1] over the pool (constant -> 0)."""
    x = np.asarray(features, dtype=np.float64)
    low = x.min(axis=0)
    span = x.max(axis=0) - low
    return (x - low) / np.where(span > 0, span, 1.0)


def _random(x: np.ndarray, available: np.ndarray, planned: np.ndarray, q: int, seed: int,
            cycle: int) -> np.ndarray:
    rng = np.random.default_rng([seed, cycle])
    return rng.choice(np.flatnonzero(available), size=q, replace=False).astype(np.int64)


def _nearest_planned(x: np.ndarray, planned: np.ndarray) -> np.ndarray:
    """Squared distance ``(N,)`` from every row to its nearest planned row (inf if none)."""
    nearest = np.full(len(x), np.inf)
    for row in planned:
        np.minimum(nearest, np.square(x - x[row]).sum(axis=1), out=nearest)
    return nearest


def _farthest(x: np.ndarray, available: np.ndarray, planned: np.ndarray, q: int,
              seed: int, cycle: int) -> np.ndarray:
    return _spread(x, available, planned, q, np.random.default_rng([seed, cycle]), True)


def _diameter(x: np.ndarray, available: np.ndarray, planned: np.ndarray, q: int,
              seed: int, cycle: int) -> np.ndarray:
    if len(planned) > 0:  # something to keep away from: farthest-point as it is
        return _farthest(x, available, planned, q, seed, cycle)
    rng = np.random.default_rng([seed, cycle])
    candidates = np.flatnonzero(available)
    x_open = x[candidates]
    first = candidates[_argmax_tied(np.square(x_open - x_open.mean(axis=0)).sum(axis=1), rng)]
    rest = available.copy()
    rest[first] = False
    return np.concatenate([[first], _spread(x, rest, np.array([first]), q - 1, rng, True)]
                          ).astype(np.int64)


def _argmax_tied(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest of ``values`` ``(n,)``, ties broken at random."""
    best = np.flatnonzero(values == values.max())
    return int(best[rng.integers(len(best))])


def _kmeans(x: np.ndarray, available: np.ndarray, planned: np.ndarray, q: int, seed: int,
            cycle: int) -> np.ndarray:
    return _spread(x, available, planned, q, np.random.default_rng([seed, cycle]), False)


def _spread(x: np.ndarray, available: np.ndarray, planned: np.ndarray, q: int,
            rng: np.random.Generator, greedy: bool) -> np.ndarray:
    """Farthest-point (``greedy``) or k-means++ picks."""
    open_rows = available.copy()
    nearest = _nearest_planned(x, planned)
    picks: list[int] = []
    for _ in range(q):
        candidates = np.flatnonzero(open_rows)
        gaps = nearest[candidates]
        if not np.isfinite(gaps).all():  # nothing planned yet: start anywhere
            row = int(rng.choice(candidates))
        elif greedy or gaps.sum() <= 0:
            row = int(candidates[_argmax_tied(gaps, rng)])
        else:
            row = int(rng.choice(candidates, p=gaps / gaps.sum()))
        picks.append(row)
        open_rows[row] = False
        np.minimum(nearest, np.square(x - x[row]).sum(axis=1), out=nearest)
    return np.asarray(picks, dtype=np.int64)


def _sobol(x: np.ndarray, available: np.ndarray, planned: np.ndarray, q: int, seed: int,
           cycle: int) -> np.ndarray:
    """One scrambled sequence per campaign seed; the points before ``len(planned)`` went
    to earlier picks (or stand for the rows measured before the design)."""
    import warnings

    from scipy.stats import qmc

    engine = qmc.Sobol(d=min(x.shape[1], qmc.Sobol.MAXDIM), scramble=True, seed=seed)
    with warnings.catch_warnings():  # "balance properties ... need n a power of 2"
        warnings.simplefilter("ignore", UserWarning)
        points = engine.random(len(planned) + q)[len(planned):]
    x = x[:, : points.shape[1]]
    open_rows = available.copy()
    picks: list[int] = []
    for point in points:
        candidates = np.flatnonzero(open_rows)
        row = int(candidates[np.square(x[candidates] - point).sum(axis=1).argmin()])
        picks.append(row)
        open_rows[row] = False
    return np.asarray(picks, dtype=np.int64)


DESIGNS: dict[str, Design] = {"random": _random, "farthest": _farthest,
                              "diameter": _diameter, "kmeans": _kmeans, "sobol": _sobol}
