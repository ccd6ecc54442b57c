"""Asynchronous mode on the local process pool: every finished evaluation is replaced by
one proposal chosen with the in-flight ones as pending points; nothing is lost or
repeated, failures included. (A killed async run resuming: ``test_dask.py``.)"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from matloop.campaigns import Campaign
from matloop.loop.session import run
from matloop.store import EvaluationRow, Store


def evaluations(campaign: Campaign) -> list[EvaluationRow]:
    store = Store(campaign.database_url, create=False)
    return store.evaluations(store.campaign_id(campaign.campaign.name))


@pytest.mark.slow
def test_async_proposes_with_the_in_flight_candidates_as_pending_points(
        make_campaign, toy_config, toy_pool, monkeypatch: pytest.MonkeyPatch) -> None:
    import matloop.loop.acquisition as acquisition

    seen: list[tuple[int, np.ndarray | None]] = []
    real = acquisition.select

    def spy(*args: Any, **kwargs: Any) -> np.ndarray:
        call = inspect.signature(real).bind(*args, **kwargs)
        if call.arguments.get("min_success", 0.5) > 0:  # not the filter's inner call
            seen.append((call.arguments["q"], call.arguments.get("X_pending")))
        return real(*args, **kwargs)

    monkeypatch.setattr(acquisition, "select", spy)
    config = toy_config(budget=14, initial=4, workers=2, delay=0.2,
                        loop={"mode": "async", "queued": 1})
    result = run(make_campaign(config, pool=toy_pool))
    assert result.stop_reason == "budget"
    rows = evaluations(make_campaign(config, pool=toy_pool))
    assert len(rows) == 14 and len({r.key for r in rows}) == 14
    # the grid fails for x > 0.8: failures are recorded like successes, once each
    assert result.counts["succeeded"] + result.counts["failed"] == 14
    assert seen, "no model cycle ran"
    assert all(q == 1 for q, _ in seen)
    # two workers + one queued: up to two others are in flight at each proposal (none only
    # when every evaluation ended before the loop looked)
    in_flight = [0 if pending is None else len(pending) for _, pending in seen]
    assert max(in_flight) == 2 and all(n <= 2 for n in in_flight)
    cycles = Store(make_campaign(config, pool=toy_pool).database_url).cycles(1)
    assert cycles[0].n_proposed == 3 and all(c.n_proposed == 1 for c in cycles[1:])


def test_queued_zero_keeps_exactly_the_workers_busy(make_campaign, toy_config,
                                                     toy_pool) -> None:
    config = toy_config(budget=8, initial=2, workers=2, delay=0.1,
                        loop={"mode": "async", "queued": 0})
    run(make_campaign(config, pool=toy_pool))
    cycles = Store(make_campaign(config, pool=toy_pool).database_url).cycles(1)
    assert cycles[0].n_proposed == 2 and sum(c.n_proposed for c in cycles) == 8
