"""A six-component mixture's response, for ``examples/box/mixture.toml``.

A Scheffé quadratic mixture model (fixed coefficients) plus one narrow optimum, a
Gaussian bump of height 1 at ``PEAK`` (a feasible mixture): the smooth part leads a
search towards the wrong corner, the bump rewards a search that keeps learning.
"""

from __future__ import annotations

import math

LINEAR = (0.30, 0.10, 0.45, 0.20, 0.05, 0.25)
PAIRS = {(0, 1): 0.6, (0, 3): -0.8, (1, 2): 0.5, (2, 4): -0.6, (3, 5): 0.9, (4, 5): 0.4}
PEAK = (0.25, 0.10, 0.15, 0.30, 0.05, 0.15)
WIDTH = 0.15


def strength(a: float, b: float, c: float, d: float, e: float, f: float) -> dict[str, float]:
    """The mixture's strength (arbitrary units) at fractions ``a..f`` (summing to 1)."""
    x = (a, b, c, d, e, f)
    smooth = sum(w * v for w, v in zip(LINEAR, x, strict=True))
    smooth += sum(w * x[i] * x[j] for (i, j), w in PAIRS.items())
    distance = sum((v - p) ** 2 for v, p in zip(x, PEAK, strict=True))
    return {"strength": smooth + math.exp(-distance / (2 * WIDTH**2))}
