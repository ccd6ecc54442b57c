"""Is the campaign working? Its progress measure after every finished evaluation.

The measure is the loop's own (``_Runner._best_record``): the best objective value (among
hits when there are range targets) for one objective, the number of distinct hit
candidates for a range search, the hypervolume of the measured Pareto front for several
objectives. Evaluations are taken in the order they finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.targets import TargetSet
from matloop.reporting.figures import FAILED, HIT, MEASURED, new_figure, with_unit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from matloop.reporting.history import EvaluationLike


@dataclass(frozen=True)
class Series:
    """``measure`` ``(n,)`` after each of the n finished evaluations (NaN before it is
    defined), named ``label``; ``values`` ``(n,)`` the plotted property's measured value of
    each (NaN when failed or not a single objective); ``failed`` and ``initial`` ``(n,)``
    mark failed evaluations and those of the initial design."""

    label: str
    measure: np.ndarray
    values: np.ndarray
    failed: np.ndarray
    initial: np.ndarray


def progress_series(targets: TargetSet, evaluations: Sequence[EvaluationLike],
                    initial_cycles: set[int], units: Mapping[str, str | None],
                    reference: np.ndarray | None = None) -> Series:
    """The progress of ``evaluations`` (any order; only finished ones count).

    ``reference``: the signed hypervolume reference point (multi-objective); inferred from
    all measured values when None."""
    finished = sorted((e for e in evaluations if e.status in ("succeeded", "failed")),
                      key=lambda e: (e.finished_at is None, e.finished_at or 0,
                                     e.evaluation_id))
    Y = np.array([[e.values.get(p, np.nan) if e.status == "succeeded" else np.nan
                   for p in targets.properties] for e in finished],
                 dtype=float).reshape(len(finished), len(targets.properties))
    failed = np.array([e.status == "failed" for e in finished], dtype=bool)
    initial = np.array([e.cycle in initial_cycles for e in finished], dtype=bool)
    values = np.full(len(finished), np.nan)
    if targets.kind == "single":
        j, _ = targets.objectives[0]
        label = f"best {with_unit(targets.properties[j], units.get(targets.properties[j]))}"
        if targets.bounds:
            label += " among hits"
        measure = _running_best(targets, Y)
        values = Y[:, j]
    elif targets.kind == "thresholds":
        label = "hits found (distinct candidates)"
        keys = [e.key for e in finished]
        hit = targets.hits(Y)
        seen: set[str] = set()
        measure = np.empty(len(Y))
        for k, key in enumerate(keys):
            if hit[k]:
                seen.add(key)
            measure[k] = len(seen)
    else:
        label = "hypervolume of the measured Pareto front"
        measure = _hypervolumes(targets, Y, reference)
    return Series(label, measure, values, failed, initial)


def _running_best(targets: TargetSet, Y: np.ndarray) -> np.ndarray:
    """``targets.best`` of the first k + 1 rows of ``Y`` for every k (NaN while none
    qualifies), in one pass: the objective's running best among hits (among all measured
    values when there are no bounds)."""
    j, sign = targets.objectives[0]
    eligible = np.isfinite(Y[:, j]) & (targets.hits(Y) if targets.bounds else True)
    running = np.maximum.accumulate(np.where(eligible, sign * Y[:, j], -np.inf))
    return np.where(np.isfinite(running), sign * running, np.nan)


def _hypervolumes(targets: TargetSet, Y: np.ndarray, reference: np.ndarray | None
                  ) -> np.ndarray:
    """Hypervolume after each row of ``Y``, recomputed only when the new row joins the
    front (it is measured, meets the bounds and no front point is at least as good)."""
    from matloop.campaigns.pareto import reference_point, signed_hypervolume

    out = np.full(len(Y), np.nan)
    if reference is None:
        try:
            reference = reference_point(targets, Y)
        except ValueError:
            return out
    Z = targets.signed_objectives(Y)
    eligible = np.isfinite(Z).all(axis=1) & (targets.hits(Y) if targets.bounds else True)
    front = np.empty((0, Z.shape[1]))
    current = 0.0
    for k, z in enumerate(Z):
        if eligible[k] and not (front >= z).all(axis=1).any():
            front = np.vstack([front[~(front <= z).all(axis=1)], z])
            current = signed_hypervolume(front, reference)
        out[k] = current
    return out


def progress_figure(series: Series, name: str | None, unit: str | None) -> Figure:
    """The measure as a step line against the evaluation count; each measured value of
    the objective as a dot (one objective); failed evaluations as red ticks on the x-axis;
    the initial design shaded. ``name``, ``unit``: the dotted property."""
    figure, axis = new_figure((8.4, 4.6))
    n = len(series.measure)
    x = np.arange(1, n + 1)
    if series.initial.any():
        end = int(np.flatnonzero(series.initial).max()) + 1
        axis.axvspan(0.5, end + 0.5, color="0.92", zorder=0,
                     label=f"initial design ({int(series.initial.sum())})")
    shown = np.isfinite(series.values)
    if shown.any() and name is not None:
        axis.scatter(x[shown], series.values[shown], s=14, color=MEASURED, alpha=0.45,
                     label=f"measured {name}", zorder=2)
    axis.step(x, series.measure, where="post", color=HIT, linewidth=2.2, zorder=3,
              label=series.label)
    if series.failed.any():
        axis.plot(x[series.failed], np.zeros(int(series.failed.sum())), linestyle="none",
                  marker="x", color=FAILED, markersize=7, clip_on=False, zorder=4,
                  transform=axis.get_xaxis_transform(),
                  label=f"failed evaluation ({int(series.failed.sum())})")
    axis.set_xlim(0.5, max(n, 1) + 0.5)
    axis.set_xlabel("evaluations finished")
    axis.set_ylabel(with_unit(name, unit) if shown.any() and name else series.label)
    axis.set_title(f"Progress: {series.label}")
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize="small")
    return figure
