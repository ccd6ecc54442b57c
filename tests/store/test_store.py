"""The store over a real SQLite file: proposals, outcomes, resume, lock, config checks."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from matloop.errors import CampaignLocked, StoreError
from matloop.protocols import Outcome
from matloop.store import Proposal, Store
from matloop.store.tables import RunLock


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'c.db'}")


def test_outcomes_are_recorded_and_averaged(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    first = store.propose(cid, 0, [Proposal(3, "a", "A"), Proposal(5, "b", "B")])
    again = store.propose(cid, 1, [Proposal(3, "a", "A")])  # a replicate of candidate a
    store.record(first[0].evaluation_id, Outcome.success({"p": 1.0, "q": 2.0}, {"p": "eV"}))
    store.record(first[1].evaluation_id, Outcome.failure("infeasible", "no product"))
    store.record(again[0].evaluation_id, Outcome.success({"p": 3.0}))

    indices, values = store.training_data(cid, ["p", "q"])
    assert indices == [3]
    assert values[0][0] == 2.0 and values[0][1] == 2.0
    assert store.counts(cid) == {"proposed": 0, "running": 0, "succeeded": 2, "failed": 1}
    rows = store.evaluations(cid)
    assert [r["status"] for r in rows] == ["succeeded", "failed", "succeeded"]
    assert rows[1]["reason"] == "infeasible" and rows[1]["error"] == "no product"
    assert rows[0]["units"]["p"] == "eV"


def test_observations_keep_replicates_apart(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    first = store.propose(cid, 0, [Proposal(3, "a", "A"), Proposal(5, "b", "B")])
    again = store.propose(cid, 1, [Proposal(3, "a", "A")])
    store.record(first[0].evaluation_id, Outcome.success({"p": 1.0, "q": 2.0}))
    store.record(first[1].evaluation_id, Outcome.success({"q": 4.0}))
    store.record(again[0].evaluation_id, Outcome.success({"p": 3.0}))

    indices, values = store.observations(cid, ["p", "q"])
    assert indices == [3, 3, 5]
    assert values[0] == [1.0, 2.0] and values[1][0] == 3.0 and math.isnan(values[1][1])
    assert math.isnan(values[2][0]) and values[2][1] == 4.0


def test_an_outcome_is_recorded_exactly_once(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    (item,) = store.propose(cid, 0, [Proposal(0, "a", "A")])
    assert store.record(item.evaluation_id, Outcome.success({"p": 1.0}))
    # a late duplicate (a worker presumed dead finished after all) changes nothing
    assert not store.record(item.evaluation_id, Outcome.success({"p": 9.0}))
    assert not store.record(item.evaluation_id, Outcome.failure("crashed", "late"))
    rows, values = store.observations(cid, ["p"])
    assert rows == [0] and values == [[1.0]]
    assert store.evaluations(cid)[0]["status"] == "succeeded"
    with pytest.raises(StoreError, match="does not exist"):
        store.record(12345, Outcome.success({"p": 1.0}))


def test_missing_property_is_nan_not_zero(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    (item,) = store.propose(cid, 0, [Proposal(0, "a", "A")])
    store.record(item.evaluation_id, Outcome.success({"p": 1.0}))
    _, values = store.training_data(cid, ["p", "q"])
    assert values[0][0] == 1.0 and math.isnan(values[0][1])


def test_in_flight_evaluations_are_requeued_once(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    items = store.propose(cid, 0, [Proposal(0, "a", "A"), Proposal(1, "b", "B"),
                                   Proposal(2, "c", "C")])
    store.mark_running(items[0].evaluation_id, 1)
    store.mark_running(items[1].evaluation_id, 1)
    store.record(items[1].evaluation_id, Outcome.success({"p": 1.0}))

    requeued = store.requeue_in_flight(cid)
    assert [(p.key, p.attempt) for p in requeued] == [("a", 2), ("c", 1)]
    assert store.counts(cid)["proposed"] == 2
    assert store.requeue_in_flight(cid)[0].attempt == 2  # not started again: no new attempt


def test_next_cycle_counts_unrecorded_cycles(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    assert store.next_cycle(cid) == 0
    store.propose(cid, 4, [Proposal(0, "a", "A")])
    assert store.next_cycle(cid) == 5


def test_changed_search_is_refused_other_changes_are_kept(store: Store) -> None:
    fixed = ("space", "targets")
    store.campaign_id("c", {"space": {"kind": "table"}, "targets": [1], "budget": 5}, fixed)
    cid = store.campaign_id("c", {"space": {"kind": "table"}, "targets": [1], "budget": 9},
                            fixed)
    assert store.config(cid)["budget"] == 9
    with pytest.raises(StoreError, match="targets"):
        store.campaign_id("c", {"space": {"kind": "table"}, "targets": [2]}, fixed)
    assert store.config(cid)["targets"] == [1]


def test_reading_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not been run"):
        Store(f"sqlite:///{tmp_path / 'none.db'}", create=False)
    assert not (tmp_path / "none.db").exists()


def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(store: Store) -> None:
    import socket

    from sqlmodel import Session

    cid = store.campaign_id("c", {"space": 1})
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Session(store.engine) as session:
            session.add(RunLock(campaign_id=cid, host=socket.gethostname(), pid=sleeper.pid))
            session.commit()
        with pytest.raises(CampaignLocked, match=str(sleeper.pid)), store.lock(cid):
            pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with store.lock(cid), pytest.raises(CampaignLocked), store.lock(cid):
        pass  # the dead owner's lock was taken over; a second holder is refused
    with store.lock(cid):  # released on exit
        pass
