"""What the model says along each input of a space of inputs (a table's or a box's).

A partial dependence over the pool: for each numeric input, the unmeasured candidates'
predicted means averaged within ``BINS`` quantile bins of that input (the line) with the
10–90 % of those predictions (the band), and the measured values as points; for each
categorical input, the same per option. The average runs over the candidates themselves,
so inputs tied by constraints (fractions summing to one) are never varied apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.reporting.figures import MEASURED, NEXT, new_figure, with_unit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BINS = 12
MAX_INPUTS = 9


def input_effects_figure(names: Sequence[str], values: np.ndarray,
                         categories: Mapping[str, Sequence[str]], predicted_rows: np.ndarray,
                         predicted: np.ndarray, measured_rows: np.ndarray, measured: np.ndarray,
                         prop: str, unit: str | None) -> Figure:
    """One panel per input (the first ``MAX_INPUTS``): pool ``values`` ``(N, k)`` (codes
    in the ``categories`` columns), predicted means ``(r,)`` at ``predicted_rows`` and
    measured values ``(n,)`` at ``measured_rows`` of property ``prop``."""
    shown = list(names)[:MAX_INPUTS]
    columns = min(3, len(shown))
    rows = -(-len(shown) // columns)
    figure, axes = new_figure((4.2 * columns, 3.2 * rows), rows=rows, columns=columns)
    flat = np.ravel(axes)
    for axis, name in zip(flat, shown, strict=False):
        j = list(names).index(name)
        x_pred, x_meas = values[predicted_rows, j], values[measured_rows, j]
        if name in categories:
            _categorical_panel(axis, categories[name], x_pred, predicted, x_meas, measured)
        else:
            _numeric_panel(axis, x_pred, predicted, x_meas, measured)
        axis.set_xlabel(name)
        axis.set_ylabel(with_unit(prop, unit))
        axis.grid(alpha=0.3)
    for axis in flat[len(shown):]:
        axis.set_visible(False)
    more = f" (first {MAX_INPUTS} of {len(names)} inputs)" if len(names) > MAX_INPUTS else ""
    figure.suptitle(f"{prop} along each input: model mean over the unmeasured candidates, "
                    f"measured values as points{more}", fontsize="medium")
    return figure


def _numeric_panel(axis: Any, x: np.ndarray, y: np.ndarray, x_meas: np.ndarray,
                   y_meas: np.ndarray) -> None:
    edges = np.unique(np.quantile(x, np.linspace(0, 1, BINS + 1))) if len(x) else np.zeros(0)
    centres, mean, low, high = [], [], [], []
    for left, right in itertools.pairwise(edges):
        inside = (x >= left) & ((x < right) | (right == edges[-1]))
        if inside.any():
            centres.append(float(np.mean(x[inside])))
            mean.append(float(np.mean(y[inside])))
            low.append(float(np.quantile(y[inside], 0.1)))
            high.append(float(np.quantile(y[inside], 0.9)))
    if centres:
        axis.fill_between(centres, low, high, color=NEXT, alpha=0.12, linewidth=0)
        axis.plot(centres, mean, color=NEXT, linewidth=1.5)
    axis.scatter(x_meas, y_meas, s=14, color=MEASURED, zorder=3)


def _categorical_panel(axis: Any, options: Sequence[str], codes: np.ndarray,
                       y: np.ndarray, measured_codes: np.ndarray, y_meas: np.ndarray) -> None:
    positions = np.arange(len(options))
    means = [float(np.mean(y[codes == k])) if (codes == k).any() else np.nan
             for k in positions]
    axis.bar(positions, means, color=NEXT, alpha=0.25, width=0.6)
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(measured_codes))
    axis.scatter(measured_codes + jitter, y_meas, s=14, color=MEASURED, zorder=3)
    axis.set_xticks(positions, [str(o)[:14] for o in options], rotation=30,
                    fontsize="small")
