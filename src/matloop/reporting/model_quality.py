"""Parity, calibration and history plots of the cross-validated surrogate, per property.

They are drawn from the k-fold cross-validation figures that model cycles record in their
``hyperparameters`` (``"validation"``, see ``matloop.surrogates.validation``): the latest
cycle that validated gives the parity and calibration plots, every such cycle one point of
the history. Matplotlib loads inside the functions and draws on an Agg canvas of its own
(no pyplot, no global backend switch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.reporting.figures import new_figure, save, slug, span
from matloop.surrogates.validation import calibration_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from matloop.reporting.history import CycleLike

Record = dict[str, dict[str, Any]]  # property name -> cross-validation figures


def model_quality_plots(cycles: Iterable[CycleLike], properties: Sequence[str], out: Path,
                        units: Mapping[str, str | None]) -> list[Path]:
    """Write ``parity-<property>.png`` and ``calibration-<property>.png`` for each of
    ``properties`` validated by the latest validating cycle, then ``validation-history.png``;
    returns the paths written (none when no cycle cross-validated)."""
    history = validation_history(cycles)
    if not history:
        return []
    cycle, latest = history[-1]
    written: list[Path] = []
    for name in properties:
        if name not in latest:
            continue
        figures, unit = latest[name], units.get(name)
        written.append(save(parity_figure(name, figures, cycle, unit),
                            out / f"parity-{slug(name)}.png"))
        written.append(save(calibration_figure(name, figures, cycle),
                            out / f"calibration-{slug(name)}.png"))
    shown = [name for name in properties if any(name in record for _, record in history)]
    written.append(save(history_figure(history, shown, units), out / "validation-history.png"))
    return written


def validation_history(cycles: Iterable[CycleLike]) -> list[tuple[int, Record]]:
    """``(cycle number, figures per property)`` for each cycle that cross-validated at
    least one property, oldest first (``seconds`` dropped)."""
    history = []
    for cycle in cycles:
        record = cycle.hyperparameters.get("validation") or {}
        figures = {name: f for name, f in record.items() if isinstance(f, dict)}
        if figures:
            history.append((cycle.number, figures))
    return history


def parity_figure(name: str, figures: Mapping[str, Any], cycle: int,
                  unit: str | None = None) -> Figure:
    """Measured vs cross-validated prediction with ±1σ bars, the y = x line and the
    accuracy and coverage figures."""
    measured, predicted, std = _held_out(figures)
    figure, axis = new_figure((5.6, 5.2))
    low, high = span(np.concatenate([measured, predicted - std, predicted + std]))
    axis.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1,
              label="y = x (perfect)")
    axis.errorbar(measured, predicted, yerr=std, fmt="o", markersize=4, capsize=2,
                  elinewidth=0.8, alpha=0.8, label="held-out prediction ± 1σ")
    axis.set_xlim(low, high)
    axis.set_ylim(low, high)
    axis.set_aspect("equal", adjustable="box")
    suffix = f" ({unit})" if unit else ""
    axis.set_xlabel(f"measured {name}{suffix}")
    axis.set_ylabel(f"cross-validated prediction{suffix}")
    axis.set_title(f"{name}: parity, cycle {cycle} (n = {len(measured)})")
    axis.text(0.03, 0.97, _parity_text(figures, unit), transform=axis.transAxes,
              va="top", ha="left", fontsize="small", family="monospace",
              bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})
    axis.legend(loc="lower right", fontsize="small")
    axis.grid(alpha=0.3)
    return figure


def calibration_figure(name: str, figures: Mapping[str, Any], cycle: int) -> Figure:
    """Observed vs stated fraction of held-out values inside central intervals."""
    levels, inside = calibration_curve(*_held_out(figures))
    area = float(np.mean(np.abs(inside - levels)))
    figure, axis = new_figure((5.6, 5.2))
    axis.plot([0, 1], [0, 1], color="0.4", linestyle="--", linewidth=1,
              label="perfect calibration")
    axis.plot(levels, inside, linewidth=1.8, label="model")
    axis.fill_between(levels, levels, inside, alpha=0.2,
                      label=f"miscalibration area = {area:.3f}")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.set_aspect("equal", adjustable="box")
    axis.set_xlabel("stated level of the central interval")
    axis.set_ylabel("observed fraction of held-out values inside")
    axis.set_title(f"{name}: calibration, cycle {cycle} (n = {figures['n']})")
    axis.text(0.97, 0.03, "above the diagonal: σ too wide\nbelow: overconfident",
              transform=axis.transAxes, ha="right", va="bottom", fontsize="x-small",
              color="0.3")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)
    return figure


def history_figure(history: Sequence[tuple[int, Record]], properties: Sequence[str],
                   units: Mapping[str, str | None]) -> Figure:
    """Per property (one row each): cross-validated MAE and 95 % coverage by cycle."""
    from matplotlib.ticker import MaxNLocator

    rows = max(len(properties), 1)
    figure, axes = new_figure((10, 3.2 * rows + 0.4), rows=rows, columns=2)
    grid = np.asarray(axes).reshape(rows, 2)
    for (left, right), name in zip(grid, properties, strict=False):
        points = [(number, record[name]) for number, record in history if name in record]
        cycles = [number for number, _ in points]
        unit = units.get(name)
        left.plot(cycles, [f["mae"] for _, f in points], marker="o")
        left.set_ylabel(f"CV MAE ({unit})" if unit else "CV MAE")
        left.set_title(f"{name}: cross-validated error")
        left.set_ylim(bottom=0)
        right.plot(cycles, [f["coverage_95"] for _, f in points], marker="o",
                   label="observed")
        right.axhline(0.95, color="0.4", linestyle="--", linewidth=1, label="stated (0.95)")
        right.set_ylim(0, 1.02)
        right.set_ylabel("coverage of 95 % intervals")
        right.set_title(f"{name}: uncertainty coverage")
        right.legend(loc="lower right", fontsize="small")
        for axis in (left, right):
            axis.set_xlabel("cycle")
            axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            if cycles:  # whole cycles at the ends, even for a single point
                axis.set_xlim(min(cycles) - 0.5, max(cycles) + 0.5)
            axis.grid(alpha=0.3)
    figure.suptitle("Cross-validation of the surrogate over the campaign")
    return figure


def _held_out(figures: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The held-out measured values, predictions and predictive stds, each ``(n,)``."""
    return tuple(np.asarray(figures[key], dtype=float)  # type: ignore[return-value]
                 for key in ("measured", "predicted", "std"))


def _parity_text(figures: Mapping[str, Any], unit: str | None) -> str:
    r2 = figures.get("r2")
    r2_text = "n/a" if r2 is None or not math.isfinite(r2) else f"{r2:.3f}"
    return "\n".join([f"MAE  = {figures['mae']:.4g}{' ' + unit if unit else ''}",
                      f"R²   = {r2_text}",
                      f"in 68 % interval: {figures['coverage_68']:.0%}",
                      f"in 95 % interval: {figures['coverage_95']:.0%}"])
