"""What did it find? The measured candidates in the space of the target properties.

Pairs of properties (at most three panels) as scatter plots with the target region
shaded, hits highlighted, the measured Pareto front drawn for two optimised properties and
the next picks at their predicted values with ±1σ bars; one property as a histogram.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.targets import TargetSet
from matloop.reporting.figures import HIT, MEASURED, NEXT, new_figure, span, with_unit

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REGION = "tab:green"
FRONT = "tab:purple"
MAX_PANELS = 3


def target_space_figure(targets: TargetSet, Y: np.ndarray, units: Mapping[str, str | None],
                        next_mean: np.ndarray | None = None,
                        next_std: np.ndarray | None = None) -> Figure:
    """``Y`` ``(n, m)``: each measured candidate's (mean) values, NaN where not measured;
    ``next_mean``, ``next_std`` ``(k, m)``: the model's prediction for the next picks."""
    pairs = list(itertools.combinations(range(len(targets.properties)), 2))[:MAX_PANELS]
    hits = targets.hits(Y)
    front = targets.pareto(Y) if targets.kind == "multi" else np.zeros(len(Y), dtype=bool)
    if not pairs:
        figure, axis = new_figure((7.0, 4.6))
        _histogram(axis, targets, Y[:, 0], hits, units, next_mean, next_std)
        return figure
    figure, axes = new_figure((5.6 * len(pairs), 5.2), columns=len(pairs))
    for axis, (a, b) in zip(np.ravel(axes), pairs, strict=True):
        _pair(axis, targets, Y, (a, b), hits, front, units, next_mean, next_std)
    figure.suptitle("Measured candidates in target space")
    return figure


def _pair(axis: Axes, targets: TargetSet, Y: np.ndarray, pair: tuple[int, int],
          hits: np.ndarray, front: np.ndarray, units: Mapping[str, str | None],
          next_mean: np.ndarray | None, next_std: np.ndarray | None) -> None:
    a, b = pair
    both = np.isfinite(Y[:, a]) & np.isfinite(Y[:, b])
    x_all, y_all = Y[both, a], Y[both, b]
    if next_mean is not None:
        x_all = np.concatenate([x_all, next_mean[:, a]])
        y_all = np.concatenate([y_all, next_mean[:, b]])
    xlim, ylim = span(np.concatenate([x_all, _finite_bounds(targets, a)])), \
        span(np.concatenate([y_all, _finite_bounds(targets, b)]))
    _shade(axis, targets, a, b, xlim, ylim)
    plain = both & ~hits
    axis.scatter(Y[plain, a], Y[plain, b], s=18, color=MEASURED, alpha=0.6,
                 label=f"measured ({int(both.sum())})", zorder=2)
    if targets.bounds and (both & hits).any():
        axis.scatter(Y[both & hits, a], Y[both & hits, b], s=46, color=HIT,
                     edgecolor="black", linewidth=0.6, label=f"hit ({int((both & hits).sum())})",
                     zorder=3)
    if (front & both).any():
        _front(axis, targets, Y[front & both], a, b)
    if next_mean is not None and next_std is not None and len(next_mean):
        axis.errorbar(next_mean[:, a], next_mean[:, b], xerr=next_std[:, a],
                      yerr=next_std[:, b], fmt="*", color=NEXT, markersize=11,
                      elinewidth=0.8, capsize=2, label="next picks (predicted ± 1σ)", zorder=5)
    axis.set_xlim(*xlim)
    axis.set_ylim(*ylim)
    name_a, name_b = targets.properties[a], targets.properties[b]
    axis.set_xlabel(with_unit(name_a, units.get(name_a)))
    axis.set_ylabel(with_unit(name_b, units.get(name_b)))
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize="small")


def _shade(axis: Axes, targets: TargetSet, a: int, b: int, xlim: tuple[float, float],
           ylim: tuple[float, float]) -> None:
    """The accepted region of properties a and b (a band when only one is bounded)."""
    if a not in targets.bounds and b not in targets.bounds:
        return
    lo_a, hi_a = targets.bounds.get(a, (-math.inf, math.inf))
    lo_b, hi_b = targets.bounds.get(b, (-math.inf, math.inf))
    x0, x1 = max(lo_a, xlim[0]), min(hi_a, xlim[1])
    y0, y1 = max(lo_b, ylim[0]), min(hi_b, ylim[1])
    axis.fill_between([x0, x1], y0, y1, color=REGION, alpha=0.14, zorder=0,
                      label="target region")
    for value in (lo_a, hi_a):
        if math.isfinite(value):
            axis.axvline(value, color=REGION, linewidth=1, linestyle="--", zorder=1)
    for value in (lo_b, hi_b):
        if math.isfinite(value):
            axis.axhline(value, color=REGION, linewidth=1, linestyle="--", zorder=1)


def _front(axis: Axes, targets: TargetSet, points: np.ndarray, a: int, b: int) -> None:
    """Front members ringed; with exactly two optimised properties, a and b, also the
    staircase bounding the region they dominate."""
    axis.scatter(points[:, a], points[:, b], s=90, facecolor="none", edgecolor=FRONT,
                 linewidth=1.6, label=f"Pareto front ({len(points)})", zorder=4)
    signs = dict(targets.objectives)
    if len(targets.objectives) != 2 or a not in signs or b not in signs:
        return
    z = np.stack([signs[a] * points[:, a], signs[b] * points[:, b]], axis=1)
    z = z[np.argsort(z[:, 0])]
    corners = [z[0]]
    for previous, point in itertools.pairwise(z):
        corners += [np.array([previous[0], point[1]]), point]
    line = np.array(corners) * np.array([signs[a], signs[b]])
    axis.plot(line[:, 0], line[:, 1], color=FRONT, linewidth=1.3, zorder=3)


def _histogram(axis: Axes, targets: TargetSet, values: np.ndarray, hits: np.ndarray,
               units: Mapping[str, str | None], next_mean: np.ndarray | None,
               next_std: np.ndarray | None) -> None:
    name = targets.properties[0]
    measured = np.isfinite(values)
    predicted = next_mean[:, 0] if next_mean is not None else np.zeros(0)
    low, high = span(np.concatenate([values[measured], _finite_bounds(targets, 0),
                                     predicted]))
    edges = np.linspace(low, high, 31).tolist()
    axis.hist(values[measured & ~hits], bins=edges, color=MEASURED, alpha=0.7,
              label=f"measured ({int(measured.sum())})")
    if hits.any():
        axis.hist(values[hits], bins=edges, color=HIT, label=f"hit ({int(hits.sum())})")
    lo, hi = targets.bounds.get(0, (-math.inf, math.inf))
    if 0 in targets.bounds:
        axis.axvspan(max(lo, low), min(hi, high), color=REGION, alpha=0.14,
                     label="target region")
    if targets.objectives:
        sign = targets.objectives[0][1]
        axis.annotate("better", xy=(0.97 if sign > 0 else 0.03, 0.93),
                      xytext=(0.80 if sign > 0 else 0.20, 0.93), xycoords="axes fraction",
                      ha="center", va="center", arrowprops={"arrowstyle": "->"})
    if next_mean is not None and next_std is not None and len(next_mean):
        top = axis.get_ylim()[1]
        levels = top * np.linspace(0.55, 0.8, len(next_mean))
        axis.errorbar(next_mean[:, 0], levels, xerr=next_std[:, 0], fmt="*", color=NEXT,
                      markersize=11, capsize=2, label="next picks (predicted ± 1σ)")
    axis.set_xlim(low, high)
    axis.set_xlabel(with_unit(name, units.get(name)))
    axis.set_ylabel("candidates")
    axis.set_title(f"Measured {name}")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize="small")


def _finite_bounds(targets: TargetSet, j: int) -> np.ndarray:
    """Property j's finite bounds, so that the axes show where the target region starts."""
    return np.array([v for v in targets.bounds.get(j, ()) if math.isfinite(v)], dtype=float)
