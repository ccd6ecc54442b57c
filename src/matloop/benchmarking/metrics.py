"""Discovery metrics as pure numpy functions, and random search's exact expectations.

Definitions (Liang et al., npj Comput. Mater. 7, 188 (2021), for one objective):

* top set: sort the pool's finite objective values best-first; the threshold is the value
  at rank ``ceil(fraction * N)`` (1-based); a candidate is in the set when it is at least
  as good as the threshold, so ties can make the set larger than ``fraction * N``.
* ``Top%(i)``: the fraction of the top set among the first ``i`` evaluations.
* ``EF(i) = Top%_method(i) / Top%_random(i)``; ``AF(p) = i_random(p) / i_method(p)``,
  with ``i(p)`` the evaluations needed to reach ``Top% >= p``.

Random search draws the pool without replacement, so with ``K`` good candidates among
``N`` (hypergeometric counts):

* expected good found after ``i`` draws: ``i K / N``, hence ``E[Top%(i)] = i / N``;
* expected draws to the ``k``-th good one: ``k (N + 1) / (K + 1)``;
* ``i_random(p)`` = the smallest ``i`` with ``E[Top%(i)] >= p`` = ``ceil(p N)``.

Evaluation counts are 1-based; "never" is ``inf``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

QUANTILES = (0.05, 0.5, 0.95)


def ceil_fraction(fraction: float, n: int) -> int:
    """``ceil(fraction * n)`` without float noise (``0.05 * 600`` is 30, not 31)."""
    return math.ceil(round(fraction * n, 9))


def top_set(values: np.ndarray, sign: float, fraction: float) -> tuple[np.ndarray, float]:
    """Members ``(N,)`` bool of the pool's top ``fraction`` and the threshold value.

    ``values`` ``(N,)`` are the pool's objective values (NaN: never a member, not counted
    in the rank); ``sign`` is +1 to maximise, -1 to minimise.
    """
    values = np.asarray(values, dtype=float)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    signed = sign * values
    finite = np.isfinite(signed)
    if not finite.any():
        raise ValueError("the pool has no finite objective value")
    ordered = np.sort(signed[finite])[::-1]
    threshold = ordered[ceil_fraction(fraction, int(finite.sum())) - 1]
    with np.errstate(invalid="ignore"):
        members = finite & (signed >= threshold)
    return members, float(sign * threshold)


def found_curve(good: np.ndarray, pool_index: np.ndarray, length: int) -> np.ndarray:
    """Distinct good candidates found after each of ``length`` evaluations ``(length,)``.

    ``good`` ``(n,)`` says whether evaluation ``j`` (in the order made) found a good
    candidate, ``pool_index`` ``(n,)`` which candidate it was (a candidate counts once).
    Evaluations beyond the ``n`` made (a run that stopped early) repeat the last count;
    evaluations beyond ``length`` are ignored.
    """
    good = np.asarray(good, dtype=bool)
    pool_index = np.asarray(pool_index)
    _, first = np.unique(pool_index, return_index=True)
    new = np.zeros(len(good), dtype=bool)
    new[first] = True
    counts = np.cumsum(good & new)[:length]
    if len(counts) < length:
        last = counts[-1] if len(counts) else 0
        counts = np.concatenate([counts, np.full(length - len(counts), last)])
    return counts.astype(int)


def evaluations_to(curve: np.ndarray, count: int) -> float:
    """The first evaluation (1-based) at which ``curve`` ``(n,)`` reaches ``count``;
    ``inf`` if it never does."""
    reached = np.flatnonzero(np.asarray(curve) >= count)
    return float(reached[0] + 1) if len(reached) else math.inf


def count_for_fraction(p: float, k: int) -> int:
    """Good candidates needed for ``Top% >= p`` with ``k`` in the set: ``ceil(p k)``."""
    return ceil_fraction(p, k)


def random_top_fraction(evaluations: np.ndarray, n: int) -> np.ndarray:
    """Random search's exact ``E[Top%(i)] = i / N`` for ``i`` in ``evaluations``."""
    return np.minimum(np.asarray(evaluations, dtype=float) / n, 1.0)


def random_expected_found(evaluations: np.ndarray, n: int, k: int) -> np.ndarray:
    """Random search's expected good candidates after ``i`` draws: ``i K / N``."""
    return np.minimum(np.asarray(evaluations, dtype=float), n) * k / n


def random_evaluations_to_kth(k: int, n: int, good: int) -> float:
    """Expected draws without replacement to the ``k``-th of ``good`` among ``n``:
    ``k (N + 1) / (K + 1)``; ``inf`` when ``k > good``."""
    if k > good:
        return math.inf
    return k * (n + 1) / (good + 1)


def random_evaluations_to_fraction(p: float, n: int) -> int:
    """``i_random(p)``: the smallest ``i`` with ``E[Top%(i)] = i / N >= p``, ``ceil(p N)``."""
    return ceil_fraction(p, n)


def enhancement(top_fraction: np.ndarray, n: int) -> np.ndarray:
    """``EF(i) = Top%(i) / (i / N)`` for curves ``(..., B)`` over ``i = 1..B``."""
    top_fraction = np.asarray(top_fraction, dtype=float)
    i = np.arange(1, top_fraction.shape[-1] + 1)
    return top_fraction / random_top_fraction(i, n)


def ratio(random: float, method: float) -> float | None:
    """``random / method`` (an acceleration factor); None when the method never got
    there (``method`` infinite) or random never does."""
    if not math.isfinite(method) or not math.isfinite(random) or method <= 0:
        return None
    return random / method


def quantiles(x: np.ndarray, q: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Linear-interpolated quantiles over axis 0 of ``x`` ``(S, ...)`` -> ``(len(q), ...)``.

    ``inf`` (never reached) is a valid value: a quantile that needs it is ``inf``.
    """
    x = np.sort(np.asarray(x, dtype=float), axis=0)
    s = x.shape[0]
    out = []
    for level in q:
        position = level * (s - 1)
        lo, hi = math.floor(position), math.ceil(position)
        weight = position - lo
        below, above = x[lo], x[hi]
        if weight == 0:
            out.append(below)
            continue
        with np.errstate(invalid="ignore"):  # inf - inf where both are never reached
            value = below + (above - below) * weight
        out.append(np.where(np.isinf(above), math.inf, value))
    return np.stack(out)


def band(x: np.ndarray) -> dict[str, Any]:
    """Median and 5 / 95 % quantiles over seeds (axis 0) as plain data (``inf`` -> None)."""
    p05, median, p95 = quantiles(x)

    def plain(a: np.ndarray) -> list[float | None] | float | None:
        if a.ndim == 0:
            return float(a) if math.isfinite(float(a)) else None
        return [float(v) if math.isfinite(v) else None for v in a.tolist()]

    return {"median": plain(median), "p05": plain(p05), "p95": plain(p95)}
