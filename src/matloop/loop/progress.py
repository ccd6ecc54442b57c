"""What a campaign has found so far, as the run reports it: best value, hits, hypervolume.

``Scorekeeper`` reads measured values from the store and keeps the multi-objective
reference point fixed once chosen, so that hypervolumes stay comparable across cycles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from matloop.campaigns.pareto import signed_reference
from matloop.campaigns.targets import TargetSet
from matloop.store import Store


@dataclass(frozen=True)
class Progress:
    """Reported as a run starts, after each cycle is planned and after each evaluation is
    recorded."""

    cycle: int
    finished: int
    failed: int
    budget: int
    best: float | None  # best objective value (among hits when there are range targets)
    hits: int | None  # None when the set has no range targets
    message: str
    hypervolume: float | None = None  # of the measured Pareto front (multi-objective)
    in_flight: int = 0  # evaluations proposed or running
    earlier: int = 0  # of ``finished``, those finished before this run started


@dataclass(frozen=True)
class RunResult:
    """How a run (or a proposal) ended: why, the evaluation counts by status, the best
    value, the number of hits and, with several objectives, the hypervolume."""

    campaign_id: int
    stop_reason: str
    counts: dict[str, int]
    best: float | None
    hits: int
    hypervolume: float | None = None


ProgressCallback = Callable[[Progress], None]


def training(store: Store, campaign_id: int, targets: TargetSet) -> tuple[list[int],
                                                                          np.ndarray]:
    """Pool rows of measured candidates and their mean values ``(n, m)``."""
    properties = targets.properties
    indices, values = store.training_data(campaign_id, properties)
    return indices, np.asarray(values, dtype=float).reshape(len(indices), len(properties))


class Scorekeeper:
    """The campaign's standing, computed from the store on demand."""

    def __init__(self, store: Store, campaign_id: int, targets: TargetSet) -> None:
        self.store = store
        self.id = campaign_id
        self.targets = targets
        self.reference: np.ndarray | None = None  # signed, fixed once chosen

    def training(self) -> tuple[list[int], np.ndarray]:
        return training(self.store, self.id, self.targets)

    def best_record(self, values: np.ndarray) -> dict[str, Any]:
        """Best value and hit count so far; ``progress`` grows when the campaign improves
        (the signed best value, the hit count for a range search, the hypervolume for
        several objectives, which also records its reference point and front size)."""
        from matloop.campaigns.pareto import raw_reference

        targets = self.targets
        best = targets.best(values)
        hits = int(targets.hits(values).sum())
        record: dict[str, Any] = {"best": best, "hits": hits}
        if targets.kind == "thresholds":
            record["progress"] = hits
        elif targets.kind == "single":
            record["progress"] = None if best is None else best * targets.objectives[0][1]
        else:
            record["progress"] = record["hypervolume"] = self.hypervolume(values)
            record["pareto"] = int(targets.pareto(values).sum())
            if self.reference is not None:
                record["reference"] = raw_reference(targets, self.reference)
        return record

    def reference_point(self, values: np.ndarray, choose: bool = False) -> np.ndarray | None:
        """The signed hypervolume reference point of a multi-objective campaign: the one
        stored with its cycles, else the targets' own when all are given, else (with
        ``choose``, at the first model cycle) inferred from ``values``."""
        from matloop.campaigns.pareto import reference_point

        targets = self.targets
        if targets.kind != "multi" or self.reference is not None:
            return self.reference
        self.reference = stored_reference(self.store, self.id, targets)
        if self.reference is None and (choose or len(targets.references) ==
                                       len(targets.objectives)):
            try:
                self.reference = reference_point(targets, values)
            except ValueError:
                return None
        return self.reference

    def hypervolume(self, values: np.ndarray) -> float | None:
        from matloop.campaigns.pareto import hypervolume

        reference = self.reference_point(values)
        return None if reference is None else hypervolume(self.targets, values, reference)

    def result(self, reason: str) -> RunResult:
        """The campaign's standing as a ``RunResult`` that stopped for ``reason``."""
        _, values = self.training()
        return RunResult(self.id, reason, self.store.counts(self.id), self.targets.best(values),
                         int(self.targets.hits(values).sum()), self.hypervolume(values))

    def finished(self) -> int:
        """Evaluations finished so far, succeeded or failed."""
        counts = self.store.counts(self.id)
        return counts["succeeded"] + counts["failed"]

    def progress(self, cycle: int, message: str, budget: int, earlier: int | None = None
                 ) -> Progress:
        """A progress event for ``cycle`` saying ``message``; ``earlier`` evaluations were
        finished before the run started (None: all those finished so far)."""
        counts = self.store.counts(self.id)
        _, values = self.training()
        finished = counts["succeeded"] + counts["failed"]
        return Progress(cycle, finished, counts["failed"], budget, self.targets.best(values),
                        int(self.targets.hits(values).sum()) if self.targets.bounds else None,
                        message, self.hypervolume(values),
                        counts["proposed"] + counts["running"],
                        finished if earlier is None else earlier)


def stored_reference(store: Store, campaign_id: int, targets: TargetSet) -> np.ndarray | None:
    """The signed reference point the campaign's latest cycle recorded, if any."""
    for cycle in reversed(store.cycles(campaign_id)):
        raw = cycle.best.get("reference")
        if raw:
            return signed_reference(targets, raw)
    return None
