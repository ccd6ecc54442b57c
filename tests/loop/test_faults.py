"""Faulty oracles: every way an evaluation can go wrong becomes one recorded failure.

Each candidate of a small table is one fault (raise, hang past the timeout, ``os._exit``,
SIGSEGV, NaN, a wrong type, a missing property, ``Infeasible``); a whole campaign runs
over them with two workers. Also: the retry policy, the abort on a broken oracle (and
the resume after it is fixed), and the feasibility classifier steering away from a
region where candidates fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from matloop.campaigns import load
from matloop.errors import OracleFailing
from matloop.loop.session import Session, run
from matloop.store import EvaluationRow, Store

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]

FAULTY = '''
import math
import os
import signal
import time

from matloop.errors import Infeasible


def evaluate(case):
    case = int(case)
    if case == 1:
        raise RuntimeError("the SCF diverged")
    if case == 2:
        time.sleep(120)
    if case == 3:
        os._exit(3)
    if case == 4:
        os.kill(os.getpid(), signal.SIGSEGV)
    if case == 5:
        return {"y": math.nan}
    if case == 6:
        return {"y": "twelve"}
    if case == 7:
        return {"z": 1.0}
    if case == 8:
        raise Infeasible("no single phase formed")
    return {"y": float(case)}
'''

EXPECTED = {1: "error", 2: "timeout", 3: "crashed", 4: "crashed", 5: "invalid",
            6: "invalid", 7: "invalid", 8: "infeasible"}


def write_campaign(folder: Path, module: str, cases: list[float], budget: int,
                   oracle: str = "", loop: str = "", initial: int | None = None,
                   database: str | None = None) -> Path:
    (folder / "oracle_module.py").write_text(module)
    (folder / "cases.csv").write_text("case\n" + "\n".join(f"{c:g}" for c in cases) + "\n")
    path = folder / "faulty.toml"
    path.write_text(textwrap.dedent(f"""
        [campaign]
        name = "faulty"
        {"" if database is None else f"database = {json.dumps(database)}"}

        [space]
        kind = "table"
        path = "cases.csv"
        inputs = ["case"]

        [[targets]]
        property = "y"
        goal = "maximize"

        [oracle]
        kind = "python"
        function = "oracle_module:evaluate"
        {oracle}

        [executor]
        workers = 2

        [loop]
        initial = {initial if initial is not None else budget}
        budget = {budget}
        batch_size = 2
        {loop}
    """))
    return path


def evaluations(path: Path) -> list[EvaluationRow]:
    campaign = load(path)
    store = Store(campaign.database_url, create=False)
    return store.evaluations(store.campaign_id(campaign.campaign.name))


def test_every_fault_is_recorded_once_and_the_campaign_goes_on(tmp_path: Path) -> None:
    # 6 s: a loaded CI machine must not time out the cases that return at once
    path = write_campaign(tmp_path, FAULTY, list(range(12)), budget=12,
                          oracle="timeout_s = 6\nretries = 1")
    result = run(load(path))
    assert result.stop_reason == "budget"
    assert result.counts == {"proposed": 0, "running": 0, "succeeded": 4, "failed": 8}
    rows = evaluations(path)
    assert sorted(int(float(r.key.split("=")[1])) for r in rows) == list(range(12))
    collateral = 0
    for row in rows:
        case = int(float(row.key.split("=")[1]))
        assert row.reason == EXPECTED.get(case), (case, row.reason, row.error)
        # transient failures (timeout, crashed) were retried once; the rest ran once, but
        # for the evaluation beside a worker that died at once and broke pebble's pool
        if EXPECTED.get(case) in ("timeout", "crashed"):
            assert row.attempt == 2
        else:
            assert row.attempt in (1, 2)
            collateral += row.attempt == 2
    assert collateral <= 2  # at most one beside each of the two crashing cases
    by_case = {int(float(r.key.split("=")[1])): r for r in rows}
    assert "RuntimeError: the SCF diverged" in by_case[1].error
    assert 'raise RuntimeError("the SCF diverged")' in by_case[1].error  # traceback tail
    assert "6.0 s" in by_case[2].error and "killed" in by_case[2].error
    assert "exit code 3" in by_case[3].error
    assert f"exit code {-signal.SIGSEGV}" in by_case[4].error
    assert "not finite" in by_case[5].error
    assert "not a number" in by_case[6].error
    assert "y is missing" in by_case[7].error
    assert by_case[8].error == "no single phase formed"


def test_a_transient_failure_that_passes_on_retry_is_a_success(tmp_path: Path) -> None:
    flaky = textwrap.dedent(f'''
        import os
        from pathlib import Path

        def evaluate(case):
            marker = Path({str(tmp_path)!r}) / f"started-{{case}}"
            if case == 1 and not marker.exists():
                marker.touch()
                os._exit(9)  # dies the first time only
            return {{"y": float(case)}}
    ''')
    path = write_campaign(tmp_path, flaky, [0, 1, 2, 3], budget=4)
    result = run(load(path))
    assert result.counts["succeeded"] == 4
    attempts = {r.key: r.attempt for r in evaluations(path)}
    assert attempts["case=1.0"] == 2
    # a worker that dies at once can break pebble's whole pool (tested below): the
    # evaluation running beside it is then run again too
    assert all(attempts[f"case={c}.0"] in (1, 2) for c in (0, 2, 3))


def test_a_broken_pool_is_a_crash_to_retry_and_is_replaced() -> None:
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from matloop.loop.executor import LocalExecutor

    class Pool:
        stopped = False

        def stop(self) -> None:
            self.stopped = True

        def join(self, timeout: float | None = None) -> None:
            pass

    executor = LocalExecutor(workers=2)
    broken_pool, new_pool = Pool(), Pool()
    first, second = Future(), Future()
    for future in (first, second):  # pebble aborts every task of a broken pool
        future.set_exception(BrokenProcessPool("All workers expired"))
    executor._pool = broken_pool  # type: ignore[assignment]
    executor._pool_of = {first: broken_pool, second: broken_pool}  # type: ignore[dict-item]
    outcome = executor.outcome(first)
    assert outcome.reason == "crashed" and "All workers expired" in (outcome.error or "")
    assert broken_pool.stopped and executor._pool is None
    executor._pool = new_pool  # type: ignore[assignment]  # started for the retries
    assert executor.outcome(second).reason == "crashed"
    assert executor._pool is new_pool and not new_pool.stopped


def test_no_retries_when_the_policy_says_so(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, FAULTY, [0, 3], budget=2, oracle="retries = 0")
    run(load(path))
    (crashed,) = [r for r in evaluations(path) if r.status == "failed"]
    assert crashed.reason == "crashed" and crashed.attempt == 1


def test_a_broken_oracle_aborts_cleanly_and_the_fixed_one_resumes(tmp_path: Path,
                                                                  database_url: str) -> None:
    broken = "def evaluate(case):\n    raise ImportError('libxc.so not found')\n"
    path = write_campaign(tmp_path, broken, list(range(20)), budget=20, initial=4,
                          loop="max_failure_rate = 0.5\nfailure_window = 4",
                          database=database_url)
    with pytest.raises(OracleFailing, match=r"aborted: 4 of the last 4 evaluations failed"):
        run(load(path))
    campaign = load(path)
    store = Store(campaign.database_url, create=False)
    campaign_id = store.campaign_id("faulty")
    assert store.stop_reason(campaign_id).startswith("aborted: 4 of the last 4")
    failed_before = store.counts(campaign_id)["failed"]
    assert 4 <= failed_before < 20

    cli = subprocess.run([*MATLOOP, "run", str(path)], capture_output=True, text=True)
    assert cli.returncode == 5, cli.stderr
    assert cli.stderr.splitlines()[-1].startswith("error: aborted:")
    assert "Traceback" not in cli.stderr

    (tmp_path / "oracle_module.py").write_text(
        "def evaluate(case):\n    return {'y': -abs(float(case) - 7)}\n")
    result = run(load(path))
    assert result.stop_reason == "budget"
    rows = evaluations(path)
    assert len(rows) == 20 and len({r.key for r in rows}) == 20  # nothing done twice
    assert all(r.status in ("succeeded", "failed") for r in rows)
    assert sum(r.status == "failed" for r in rows) >= failed_before


HIDDEN_RULE = '''
from matloop.errors import Infeasible
from matloop.loop.session import Session


def evaluate(case):
    if case > 0.6:  # the hidden rule: nothing beyond 0.6 can be made
        raise Infeasible("did not form")
    return {"y": case}
'''


@pytest.mark.slow
def test_the_feasibility_model_steers_away_from_failing_candidates(tmp_path: Path) -> None:
    """y = x grows towards a region that always fails: a model of successes alone keeps
    proposing into it; with the classifier the loop stops wasting evaluations there."""
    wasted = {}
    for learn in (True, False):
        folder = tmp_path / str(learn)
        folder.mkdir()
        path = write_campaign(folder, HIDDEN_RULE, list(np.linspace(0, 1, 101)), budget=24,
                              initial=6, loop="max_failure_rate = 1.0")
        path.write_text(path.read_text() + f"\n[surrogate]\nfeasibility = {str(learn).lower()}\n")
        run(load(path))
        rows = evaluations(path)
        model_rows = [r for r in rows if r.cycle > 0]
        assert model_rows and all(r.reason in (None, "infeasible") for r in rows)
        wasted[learn] = sum(r.status == "failed" for r in model_rows)
        if learn:
            campaign = load(path)
            store = Store(campaign.database_url, create=False)
            cycles = store.cycles(store.campaign_id("faulty"))
            assert any("success_probability" in (c.predicted or {}) for c in cycles)
            ranking = Session(campaign).ranking(top=5)
            assert ranking.success is not None and np.all(ranking.success > 0.5)
    assert wasted[True] < wasted[False] / 2, wasted


HOSTILE = '''
import math


def evaluate(case):
    case = int(case)
    if case == 1:
        raise SystemExit(3)
    if case == 2:
        raise KeyboardInterrupt
    if case == 3:
        return {"y": "12.5"}
    if case == 4:
        return {"y": True}
    if case == 5:
        return {"y": 10**400}
    if case == 6:
        return {"y": 1e200}
    if case == 7:
        raise RuntimeError("x" * 2_000_000)
    if case == 8:
        return {"y": 8.0, "pressure": math.nan}
    return {"y": float(case)}
'''


def test_hostile_outcomes_are_recorded_failures_and_the_run_goes_on(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, HOSTILE, list(range(10)), budget=10,
                          loop="max_failure_rate = 1.0")
    result = run(load(path))
    assert result.stop_reason == "budget"
    assert result.counts["succeeded"] == 3 and result.counts["failed"] == 7
    by_case = {int(float(r.key.split("=")[1])): r for r in evaluations(path)}
    assert by_case[1].reason == "error" and "SystemExit: 3" in by_case[1].error
    assert by_case[2].reason == "error" and "KeyboardInterrupt" in by_case[2].error
    assert by_case[3].reason == "invalid" and "is a str, not a number" in by_case[3].error
    assert by_case[4].reason == "invalid" and "is a bool, not a number" in by_case[4].error
    assert by_case[5].reason == "invalid" and "too large for a float" in by_case[5].error
    assert by_case[6].reason == "invalid" and "beyond 1e+100" in by_case[6].error
    assert by_case[7].reason == "error" and len(by_case[7].error) < 5000
    assert "characters cut" in by_case[7].error
    assert by_case[8].status == "succeeded" and by_case[8].values == {"y": 8.0}
    import sqlite3

    database = load(path).database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        (provenance,) = connection.execute("SELECT provenance FROM evaluation WHERE id = ?",
                                           (by_case[8].evaluation_id,)).fetchone()
    assert json.loads(provenance)["dropped"] == {"pressure": "nan is not finite"}


def test_the_failures_of_a_broken_oracle_are_retried_uncharged_after_its_fix(
        tmp_path: Path, database_url: str) -> None:
    """Item 8 of issue 27: after a broken oracle aborted the run, its ``error`` failures
    stayed charged to the budget and were never proposed again, and pointing
    ``oracle.function`` at the fixed function was refused. Now ``--accept-oracle-change``
    accepts the new function (time limits change freely) and ``--retry error`` runs those
    candidates again first, the failures kept as ``retried``."""
    module = ("def evaluate(case):\n    raise ImportError('libxc.so not found')\n\n\n"
              "def fixed(case):\n    return {'y': -abs(float(case) - 7)}\n")
    path = write_campaign(tmp_path, module, list(range(20)), budget=12, initial=4,
                          loop="max_failure_rate = 0.5\nfailure_window = 4",
                          database=database_url)
    with pytest.raises(OracleFailing):
        run(load(path))
    broken = {r.key for r in evaluations(path) if r.reason == "error"}
    assert len(broken) >= 4
    path.write_text(path.read_text().replace('function = "oracle_module:evaluate"',
                                             'function = "oracle_module:fixed"\n'
                                             'timeout_s = 60'))

    refused = subprocess.run([*MATLOOP, "run", str(path), "--retry", "error"],
                             capture_output=True, text=True)
    assert refused.returncode == 4, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert "(oracle.function)" in line and "--accept-oracle-change" in line
    unknown = subprocess.run([*MATLOOP, "run", str(path), "--retry", "bug"],
                             capture_output=True, text=True)
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines() == [
        "error: retry: unknown failure reason 'bug'; use error, timeout, crashed, invalid, "
        "not_converged, infeasible"]
    assert {r.key for r in evaluations(path) if r.status == "retried"} == set()

    with Session(load(path)) as session:
        result = session.run(retry=("error",), oracle_changed=True)
    assert result.stop_reason == "budget"
    rows = evaluations(path)
    retried = [r for r in rows if r.status == "retried"]
    assert {r.key for r in retried} == broken
    assert all(r.error and "libxc.so not found" in r.error for r in retried)
    succeeded = [r.key for r in rows if r.status == "succeeded"]
    assert broken <= set(succeeded) and len(succeeded) == len(set(succeeded)) == 12
    assert not [r for r in rows if r.status == "failed"]  # the budget: 12 charged, all ok
    status = subprocess.run([*MATLOOP, "status", str(path), "--json"], capture_output=True,
                            text=True)
    assert json.loads(status.stdout)["evaluations"] == {
        "succeeded": 12, "failed": 0, "pending": 0, "retried": len(broken)}
    table = subprocess.run([*MATLOOP, "status", str(path)], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200"})
    assert f"0 failed, 0 pending; {len(broken)} failures retried" in table.stdout
    again = {r.key: r.attempt for r in rows if r.status == "succeeded" and r.key in broken}
    assert min(again.values()) >= 2  # a retry is the evaluation's next attempt
