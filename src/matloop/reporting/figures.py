"""What every report figure shares: an Agg canvas of its own (no pyplot, no global backend
switch), the resolution, axis limits, file names and the report's colours."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110
MEASURED = "tab:blue"
HIT = "tab:orange"
FAILED = "tab:red"
NEXT = "black"
POOL = "0.78"


def new_figure(size: tuple[float, float], rows: int = 1, columns: int = 1
               ) -> tuple[Figure, Any]:
    """A figure on its own Agg canvas and its axes (one axis, or an array when several)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, columns, squeeze=rows * columns == 1)


def save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI)
    return path


def span(values: np.ndarray) -> tuple[float, float]:
    """Axis limits around the finite ``values`` with a 5 % margin."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    margin = 0.05 * (high - low) or 0.5 * (abs(high) or 1.0)
    return low - margin, high + margin


def slug(name: str) -> str:
    """``name`` made safe for a file name: runs of other characters than letters, digits,
    ``.``, ``_`` and ``-`` become ``_`` (never empty, never a leading dot)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return safe or "property"


def with_unit(name: str, unit: str | None) -> str:
    return f"{name} ({unit})" if unit else name
