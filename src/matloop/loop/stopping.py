"""Stopping rules checked before each cycle: pool exhausted, enough hits, no progress."""

from __future__ import annotations

import numpy as np

from matloop.campaigns.schema import LoopSection
from matloop.campaigns.targets import TargetSet
from matloop.store import Store


def stop_reason(loop: LoopSection, targets: TargetSet, store: Store, campaign_id: int,
                values: np.ndarray, available: np.ndarray | None = None) -> str | None:
    """Why the campaign should not start another cycle, or None.

    ``values`` ``(n, m)``: the measured values; ``available`` ``(N,)``: pool rows never
    proposed (None: do not check for an exhausted pool)."""
    if available is not None and not available.any():
        return "pool exhausted"
    hits = int(targets.hits(values).sum())
    if loop.stop_after_hits is not None and hits >= loop.stop_after_hits:
        return f"found {hits} hits (stop_after_hits = {loop.stop_after_hits})"
    if loop.patience is not None:
        recorded = [c.best.get("progress") for c in store.cycles(campaign_id)
                    if c.strategy != "initial"]
        history: list[float] = [h for h in recorded if h is not None]
        if len(history) > loop.patience and \
                max(history[-loop.patience:]) <= max(history[:-loop.patience]):
            return f"no progress in {loop.patience} cycles (patience)"
    return None
