"""The store over a real SQLite file and a real PostgreSQL database (each test runs on
both): proposals, outcomes, resume, the lock (also between two processes), config checks,
times in UTC, and clear errors for a database that cannot be opened."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from matloop.errors import CampaignLocked, StoreError
from matloop.protocols import Outcome
from matloop.store import Proposal, Store, sqlite_path
from matloop.store.store import Recorded
from matloop.store.tables import Evaluation, RunLock


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


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
    assert [r.status for r in rows] == ["succeeded", "failed", "succeeded"]
    assert rows[1].reason == "infeasible" and rows[1].error == "no product"
    assert rows[0].units["p"] == "eV"


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
    assert store.evaluations(cid)[0].status == "succeeded"
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


def test_reading_an_empty_database_creates_nothing(database_url: str) -> None:
    """An empty PostgreSQL database (or SQLite file) is not a campaign: nothing is made."""
    from sqlalchemy import create_engine, inspect

    path = sqlite_path(database_url)
    if path is not None:
        path.touch()
    with pytest.raises(StoreError, match="not a matloop database"):
        Store(database_url, create=False)
    engine = create_engine(database_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_a_reopened_database_resumes_where_it_stopped(database_url: str) -> None:
    """The schema is created once; a second Store (the next run) sees the same history."""
    first = Store(database_url)
    cid = first.campaign_id("c", {"space": 1})
    items = first.propose(cid, 0, [Proposal(0, "a", "A"), Proposal(1, "b", "B")])
    first.mark_running(items[0].evaluation_id, 1)
    first.record(items[1].evaluation_id, Outcome.success({"p": 2.0}))
    first.record_cycle(cid, 0, "initial", 0, 2, 0.0, 0.0, None, {"p": 2.0})
    first.engine.dispose()

    again = Store(database_url, create=False)
    assert again.campaign_id("c") == cid
    assert [(p.key, p.attempt) for p in again.requeue_in_flight(cid)] == [("a", 2)]
    assert again.next_cycle(cid) == 1
    assert again.tried_pool_indices(cid) == {"a": 0, "b": 1}
    assert again.observations(cid, ["p"]) == ([1], [[2.0]])
    assert [c.strategy for c in again.cycles(cid)] == ["initial"]


def test_times_are_utc_whatever_the_servers_time_zone(store: Store) -> None:
    """(The private PostgreSQL server of the tests runs in America/New_York.)"""
    from sqlmodel import Session

    cid = store.campaign_id("c", {"space": 1})
    (item,) = store.propose(cid, 0, [Proposal(0, "a", "A")])
    store.mark_running(item.evaluation_id, 1)
    store.record(item.evaluation_id, Outcome.success({"p": 1.0}))
    with Session(store.engine) as session:
        evaluation = session.get(Evaluation, item.evaluation_id)
        assert evaluation is not None
        times = [evaluation.proposed_at, evaluation.started_at, evaluation.finished_at]
    for time in times:
        assert time is not None and time.tzinfo == UTC
        assert abs(datetime.now(UTC) - time) < timedelta(minutes=5)
    assert times[0] <= times[1] <= times[2]


def test_concurrent_duplicates_are_recorded_exactly_once(store: Store) -> None:
    """Eight threads report the same evaluation at once: one outcome is stored."""
    cid = store.campaign_id("c", {"space": 1})
    (item,) = store.propose(cid, 0, [Proposal(0, "a", "A")])
    with ThreadPoolExecutor(8) as pool:
        stored = list(pool.map(
            lambda i: store.record(item.evaluation_id, Outcome.success({"p": float(i)})),
            range(8)))
    assert sum(stored) == 1
    _, values = store.observations(cid, ["p"])
    assert values == [[float(stored.index(True))]]


def test_concurrent_imports_fill_an_awaiting_evaluation_once(store: Store) -> None:
    """Eight imports of a result for the same lab evaluation at once: one fills it, the
    others are refused whole (a read-then-write let several through, even on SQLite)."""
    cid = store.campaign_id("c", {"space": 1})
    candidate = Proposal(0, "a", "A")
    (evaluation_id,) = store.propose_awaiting(cid, 0, [candidate], [{}])

    def fill(i: int) -> bool:
        result = Recorded(evaluation_id, candidate, {"p": float(i)}, {}, failed=False,
                          note="", cycle=0, provenance={})
        try:
            store.import_results(cid, [result])
        except StoreError as exc:
            assert "no longer awaiting" in str(exc)
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        filled = list(pool.map(fill, range(8)))
    assert sum(filled) == 1
    assert store.observations(cid, ["p"]) == ([0], [[float(filled.index(True))]])


def test_a_text_with_nul_characters_is_stored(store: Store) -> None:
    """PostgreSQL refuses NUL in text; an oracle's error message may hold one."""
    cid = store.campaign_id("c", {"space": 1})
    (item,) = store.propose(cid, 0, [Proposal(0, "a", "A")])
    store.record(item.evaluation_id, Outcome.failure("error", "bad output: \x00\x01"))
    assert store.evaluations(cid)[0].error == "bad output: \\x00\x01"


def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(store: Store) -> None:
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


LOCKER = """
import sys

from matloop.errors import CampaignLocked
from matloop.store import Store

print("ready", flush=True)
sys.stdin.readline()  # go: both processes open the new database at the same moment
store = Store(sys.argv[1])
campaign_id = store.campaign_id("c", {"space": 1}, fixed=("space",))
try:
    with store.lock(campaign_id):
        print("acquired", flush=True)
        sys.stdin.readline()  # hold the lock until told
except CampaignLocked as exc:
    print(f"refused: {exc}", flush=True)
"""


def test_two_runs_starting_at_once_one_gets_the_lock(
        database_url: str, start_together: Callable[..., list[subprocess.Popen[str]]]) -> None:
    """Two processes open a new database (creating its tables and the campaign) and take
    the run lock at the same moment: one holds it, the other gets ``CampaignLocked``."""
    runs = start_together(LOCKER, [database_url], 2)
    try:
        said = {run.pid: run.stdout.readline().strip() for run in runs if run.stdout}
        assert sorted(line.split(":")[0] for line in said.values()) == ["acquired",
                                                                         "refused"], said
        (holder,) = [pid for pid, line in said.items() if line == "acquired"]
        (refusal,) = [line for line in said.values() if line.startswith("refused")]
        assert f"campaign is being run by process {holder} on " in refusal
    finally:
        errors = [run.communicate("\n", timeout=60)[1] for run in runs]  # release, end
    assert [run.returncode for run in runs] == [0, 0], errors
    store = Store(database_url, create=False)
    with store.lock(store.campaign_id("c")):  # released by the holder on exit
        pass


def test_an_unreachable_server_is_one_clear_error_without_the_password(
        crossed_barrel) -> None:
    from typer.testing import CliRunner

    from matloop.cli.main import app

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://matloop:s3cret@127.0.0.1:{port}/campaigns"
    shown = f"postgresql+psycopg://matloop:***@127.0.0.1:{port}/campaigns"
    for create in (True, False):
        with pytest.raises(StoreError) as raised:
            Store(url, create=create)
        assert str(raised.value).startswith(f"cannot open database {shown}: ")
        assert "Connection refused" in str(raised.value) and "s3cret" not in str(raised.value)
    path = crossed_barrel()
    for command in (["run", str(path), "--db", url], ["status", str(path), "--db", url]):
        done = CliRunner().invoke(app, command)
        assert done.exit_code == StoreError.exit_code, done.output
        assert done.output.startswith(f"error: cannot open database {shown}: "), done.output
        assert "Traceback" not in done.output and "s3cret" not in done.output


def test_a_url_matloop_cannot_use_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="unknown kind of database 'postgres'; for "
                                         "PostgreSQL use postgresql") as raised:
        Store("postgres://u:pw@127.0.0.1/db")
    assert str(raised.value).startswith("postgres://u:***@127.0.0.1/db: ")


@pytest.mark.postgres
def test_status_and_validate_show_the_database_without_its_password(
        crossed_barrel, postgres_server) -> None:
    from sqlalchemy.engine import make_url
    from typer.testing import CliRunner

    from matloop.campaigns import load
    from matloop.cli.main import app
    from matloop.loop.session import run

    url = postgres_server.create_database()
    try:
        # the private server trusts loopback logins, so any password is accepted
        secret = make_url(url).set(password="s3cret").render_as_string(hide_password=False)
        path = crossed_barrel(budget=4, initial=4, database=secret)
        run(load(path))
        for command in (["status", str(path), "--json"], ["validate", str(path)]):
            done = CliRunner().invoke(app, command)
            assert done.exit_code == 0, done.output
            assert "s3cret" not in done.output and ":***@" in done.output
    finally:
        postgres_server.drop_database(url)


def test_changed_settings_name_each_field_and_leave_the_free_ones_out() -> None:
    from matloop.store import changed_settings

    old = {"space": {"kind": "table"}, "targets": [{"property": "y"}],
           "oracle": {"kind": "python", "function": "m:f", "timeout_s": None}}
    new = {"space": {"kind": "table"}, "targets": [{"property": "z"}],
           "oracle": {"kind": "python", "function": "m:g", "timeout_s": 60}}
    fixed = ("space", "targets", "oracle")
    assert changed_settings(old, new, fixed) == ["targets", "oracle.function",
                                                 "oracle.timeout_s"]
    assert changed_settings(old, new, fixed, ("oracle.timeout_s",)) == ["targets",
                                                                      "oracle.function"]
    assert changed_settings(old, new, ("space",)) == []
