"""What a report draws from, gathered by the session (``matloop.loop.gather``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.campaigns.targets import TargetSet
from matloop.reporting.history import CycleLike, EvaluationLike
from matloop.reporting.tables import Prediction
from matloop.spaces.featurised import Featurised


@dataclass(frozen=True)
class NextPicks:
    """The candidates the campaign measures next: ``rows`` ``(k,)`` pool rows, their
    ``labels``, the model's ``mean`` and ``std`` ``(k, m)`` (None when unknown), where they
    come from (``source``) and, when ranked here, ``score`` ``(k,)`` named ``score_name``
    and the predicted mean ``(r, m)`` of every unmeasured row ``unmeasured`` ``(r,)``."""

    rows: np.ndarray
    labels: list[str]
    mean: np.ndarray | None
    std: np.ndarray | None
    source: str
    score: np.ndarray | None = None
    score_name: str = ""
    unmeasured: np.ndarray | None = None
    unmeasured_mean: np.ndarray | None = None


@dataclass(frozen=True)
class Gathered:
    """What the sections draw from: the store's records, the measured candidates (pool
    ``rows`` ``(n,)``, mean values ``Y`` ``(n, m)``), the featurised pool, the next picks
    and, in a multi-fidelity campaign, per cheaper source the candidates it measured that
    the target measured too: ``(target values, source values)``, ``(k, m)`` each."""

    campaign: Campaign
    targets: TargetSet
    summary: dict[str, Any]
    evaluations: Sequence[EvaluationLike]
    cycles: Sequence[CycleLike]
    rows: np.ndarray
    Y: np.ndarray
    labels: dict[int, str]
    predictions: dict[int, Prediction]
    space: Featurised
    picks: NextPicks | None
    pick_note: str | None
    paired: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def units(self) -> dict[str, str | None]:
        """Each target property's unit (from the file, else as the oracle recorded it)."""
        return self.summary["units"]
