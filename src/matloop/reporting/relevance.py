"""What drives the model? Feature relevance per property from the latest fitted model.

For a GP (exact or sparse) it is the inverse length scale of each feature (features are
scaled to [0, 1] over the pool before the kernel sees them, so they compare directly: a
large value means the property changes quickly along that feature); for the forest it is
the impurity-based importance. The ensemble records none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matloop.reporting.figures import MEASURED, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from matloop.reporting.history import CycleLike

TOP = 15
LABEL_WIDTH = 32  # characters of a feature name on the figure's axis


@dataclass(frozen=True)
class Relevance:
    """``scores`` ``(m, d)``: one row per property, one column per feature; ``measure``
    says what they are; ``cycle`` which model cycle fitted them."""

    scores: np.ndarray
    measure: str
    cycle: int


def latest_relevance(cycles: Iterable[CycleLike], n_features: int) -> Relevance | None:
    """From the newest cycle whose hyperparameters have length scales or feature
    importances for ``n_features`` features; None when there is none."""
    for cycle in reversed(list(cycles)):
        record = cycle.hyperparameters
        if record.get("lengthscales"):
            scores = 1.0 / np.asarray(record["lengthscales"], dtype=float)
            measure = "inverse GP length scale (scaled features)"
        elif record.get("feature_importances"):
            scores = np.asarray(record["feature_importances"], dtype=float)
            measure = "forest impurity importance"
        else:
            continue
        if scores.ndim == 2 and scores.shape[1] == n_features:
            return Relevance(scores, measure, cycle.number)
    return None


def relevance_figure(relevance: Relevance, names: Sequence[str],
                     properties: Sequence[str]) -> Figure:
    """Per property, the ``TOP`` most relevant features as horizontal bars."""
    m = len(relevance.scores)
    shown = min(TOP, len(names))
    figure, axes = new_figure((5.4 * m, max(0.32 * shown + 1.6, 3.2)), columns=m)
    for axis, scores, name in zip(np.ravel(axes), relevance.scores, properties,
                                  strict=False):
        order = np.argsort(-scores, kind="stable")[:shown][::-1]
        axis.barh(np.arange(shown), scores[order], color=MEASURED)
        axis.set_yticks(np.arange(shown), [shortened(names[i]) for i in order],
                        fontsize="small")
        axis.set_xlabel(relevance.measure)
        axis.set_title(name)
        axis.grid(axis="x", alpha=0.3)
    figure.suptitle(f"What drives the model (cycle {relevance.cycle}; top {shown} of "
                    f"{len(names)} features)")
    return figure


def shortened(name: str, width: int = LABEL_WIDTH) -> str:
    """A feature name cut to ``width`` characters with an ellipsis in the middle (long
    category options such as SMILES strings would squeeze the bars off the figure)."""
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return f"{name[:head]}…{name[len(name) - (width - 1 - head):]}"
