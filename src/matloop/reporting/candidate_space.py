"""Where has it looked? The pool projected on its first two principal components.

Features are min-max scaled to the pool (as the models see them), the PCA is fitted on
at most ``SAMPLE`` pool rows, and at most ``SAMPLE`` unmeasured rows are drawn as the grey
background, so the figure costs the same for 10^3 or 10^6 candidates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matloop.reporting.figures import FAILED, NEXT, POOL, new_figure, with_unit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SAMPLE = 20_000
MAX_PANELS = 3


@dataclass(frozen=True)
class Projection:
    """``points`` ``(n, 2)`` of the projected rows; ``explained`` ``(2,)`` the fraction of
    the scaled features' variance along each axis (0 for a missing second axis)."""

    points: np.ndarray
    explained: np.ndarray


def project(features: np.ndarray, bounds: np.ndarray, rows: np.ndarray, seed: int = 0
            ) -> Projection:
    """PCA of ``features`` ``(N, d)`` scaled by ``bounds`` ``(2, d)``, evaluated at ``rows``."""
    from sklearn.decomposition import PCA

    width = np.where(bounds[1] > bounds[0], bounds[1] - bounds[0], 1.0)
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(len(features), size=min(SAMPLE, len(features)), replace=False)
    components = min(2, features.shape[1], len(fit_rows))
    pca = PCA(n_components=components, random_state=seed)
    pca.fit((features[fit_rows] - bounds[0]) / width)
    points = pca.transform((features[rows] - bounds[0]) / width)
    explained = np.zeros(2)
    explained[:components] = pca.explained_variance_ratio_
    if components < 2:
        points = np.column_stack([points, np.zeros(len(points))])
    return Projection(points, explained)


def candidate_space_figure(features: np.ndarray, bounds: np.ndarray, measured: np.ndarray,
                           Y: np.ndarray, properties: Sequence[str],
                           units: Mapping[str, str | None], failed: np.ndarray,
                           next_rows: np.ndarray, seed: int = 0) -> Figure:
    """One panel per property (at most three): the unmeasured pool in grey, measured
    candidates (pool ``measured`` rows ``(n,)``, values ``Y`` ``(n, m)``) coloured by the
    property, ``failed`` rows as red crosses, ``next_rows`` as black stars numbered 1, 2, ...
    in their order (as in the report's table of next picks)."""
    unmeasured = np.setdiff1d(np.arange(len(features)),
                              np.concatenate([measured, failed, next_rows]).astype(int))
    rng = np.random.default_rng(seed)
    background = rng.choice(unmeasured, size=min(SAMPLE, len(unmeasured)), replace=False)
    rows = np.concatenate([background, measured, failed, next_rows]).astype(int)
    projection = project(features, bounds, rows, seed)
    parts = np.split(projection.points, np.cumsum([len(background), len(measured),
                                                   len(failed)]))
    pool_xy, measured_xy, failed_xy, next_xy = parts
    panels = list(range(len(properties)))[:MAX_PANELS]
    figure, axes = new_figure((6.0 * len(panels), 5.0), columns=len(panels))
    for axis, j in zip(np.ravel(axes), panels, strict=True):
        axis.scatter(pool_xy[:, 0], pool_xy[:, 1], s=4, color=POOL, alpha=0.5,
                     rasterized=True, label=f"not measured ({len(unmeasured)}"
                     + (f", {len(background)} shown" if len(background) < len(unmeasured)
                        else "") + ")")
        known = np.isfinite(Y[:, j]) if len(Y) else np.zeros(0, dtype=bool)
        if known.any():
            dots = axis.scatter(measured_xy[known, 0], measured_xy[known, 1], c=Y[known, j],
                                cmap="viridis", s=30, edgecolor="black", linewidth=0.4,
                                label=f"measured ({int(known.sum())})", zorder=3)
            figure.colorbar(dots, ax=axis, label=with_unit(properties[j],
                                                           units.get(properties[j])))
        if len(failed_xy):
            axis.scatter(failed_xy[:, 0], failed_xy[:, 1], marker="x", color=FAILED, s=40,
                         label=f"failed ({len(failed_xy)})", zorder=4)
        if len(next_xy):
            axis.scatter(next_xy[:, 0], next_xy[:, 1], marker="*", color=NEXT, s=160,
                         edgecolor="white", linewidth=0.6,
                         label="next picks (numbered as in the table)", zorder=5)
            for number, (x, y) in enumerate(next_xy, start=1):
                axis.annotate(str(number), (x, y), textcoords="offset points", xytext=(5, 3),
                              fontsize="x-small", fontweight="bold")
        axis.set_xlabel(f"PC1 ({projection.explained[0]:.0%} of variance)")
        axis.set_ylabel(f"PC2 ({projection.explained[1]:.0%} of variance)")
        axis.set_title(properties[j])
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize="x-small")
    figure.suptitle("Candidate space: PCA of the features")
    return figure
