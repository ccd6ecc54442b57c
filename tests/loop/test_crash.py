"""A run killed with SIGKILL resumes with no evaluation lost and none done twice; a
second run of the same campaign is refused while the first runs. Both on SQLite and on
PostgreSQL (``--db URL``)."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from matloop.store import sqlite_path

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]


def query(url: str, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the database at ``url`` (none before the run has made it)."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return []
    engine = create_engine(url, poolclass=NullPool,
                           connect_args={"timeout": 30} if path is not None else {})
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    except DBAPIError:  # tables not created yet
        return []
    finally:
        engine.dispose()


def count(url: str, statuses: str = "'succeeded', 'failed'") -> int:
    rows = query(url, f"select count(*) from evaluation where status in ({statuses})")
    return int(rows[0][0]) if rows else 0


def finished(url: str) -> int:
    return count(url)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def kill_while_running(process: subprocess.Popen, db: str, timeout: float = 300.0) -> None:
    """SIGKILL ``process`` at a moment when 5 evaluations have finished and some run.

    The run is stopped (SIGSTOP) before its state is read, so that no evaluation can end
    between seeing it run and killing the run, however loaded the machine is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if finished(db) >= 5 and count(db, "'running'") > 0:
            process.send_signal(signal.SIGSTOP)
            if count(db, "'running'") > 0:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return
            process.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the run never had 5 finished evaluations and some running")


def kill_resume_export(path: Path, db: str, out: Path) -> tuple[int, int, list[dict]]:
    """Run the campaign, SIGKILL it once 5 evaluations finished and some are in flight,
    run it again to the end and export it: (finished at the kill, in flight at the kill,
    the exported rows)."""
    first = subprocess.Popen([*MATLOOP, "run", str(path), "--quiet", "--db", db],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kill_while_running(first, db)
    killed_at = finished(db)
    in_flight = count(db, "'running'")  # as the killed run left them
    second = subprocess.run([*MATLOOP, "run", str(path), "--db", db], capture_output=True,
                            text=True)
    assert second.returncode == 0, second.stderr
    subprocess.run([*MATLOOP, "export", str(path), "--out", str(out), "--db", db],
                   check=True, capture_output=True)
    return killed_at, in_flight, list(csv.DictReader(out.open()))


@pytest.mark.slow
def test_sigkill_then_resume_loses_nothing_and_repeats_nothing(python_campaign,
                                                                tmp_path: Path,
                                                                database_url: str) -> None:
    # evaluations last long next to the gap between seeing one run and killing the run,
    # so that on a loaded machine the kill still lands while evaluations are in flight
    path = python_campaign(budget=14, initial=4, batch_size=2, workers=2, delay=1.5)
    db = database_url
    killed_at, in_flight, rows = kill_resume_export(path, db, tmp_path / "all.csv")
    assert 5 <= killed_at < 14
    assert in_flight > 0
    assert len(rows) == 14
    assert all(r["status"] in ("succeeded", "failed") for r in rows)
    candidates = [r["candidate"] for r in rows]
    assert len(set(candidates)) == 14  # no candidate evaluated twice
    # the evaluations in flight at the kill were run again, as a new attempt; only they
    attempts = [a for (a,) in query(db, "select attempt from evaluation")]
    assert sorted(attempts) == [1] * (14 - in_flight) + [2] * in_flight


@pytest.mark.slow
def test_a_second_concurrent_run_is_refused(python_campaign, database_url: str) -> None:
    path = python_campaign(budget=8, initial=4, workers=1, delay=0.5)
    db = database_url
    first = subprocess.Popen([*MATLOOP, "run", str(path), "--quiet", "--db", db],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: finished(db) >= 1)
        second = subprocess.run([*MATLOOP, "run", str(path), "--db", db],
                                capture_output=True, text=True)
        assert second.returncode == 3
        assert second.stderr.startswith("error: campaign is being run by process "
                                        f"{first.pid}")
        assert "Traceback" not in second.stderr
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0
    assert finished(db) == 8


@pytest.mark.slow
@pytest.mark.parametrize("extra", ["fidelities", "related"])
def test_a_killed_multi_fidelity_or_transfer_campaign_resumes_with_nothing_lost(
        python_campaign, tmp_path: Path, extra: str) -> None:
    """As above, for a campaign with a cheaper source (each evaluation resumes at its own
    source) and for one with a related campaign (read again by the second run)."""
    path = python_campaign(budget=12, initial=4, batch_size=2, workers=2, delay=1.5)
    if extra == "fidelities":
        addition = ('[[fidelities]]\nname = "cheap"\ncost = 1\n[fidelities.oracle]\n'
                    'kind = "python"\nfunction = "toy:score"\n')
        path.write_text(path.read_text().replace('function = "toy:score"\n',
                                                 'function = "toy:score"\ncost = 10\n', 1)
                        + addition)
    else:
        rows = "\n".join(f"{x / 10},{y / 10},{-((x / 10 - 0.6) ** 2) - (y / 10 - 0.3) ** 2}"
                         for x in range(0, 11, 2) for y in range(0, 9, 2))
        (tmp_path / "earlier.csv").write_text("x,y,score\n" + rows + "\n")
        path.write_text(path.read_text()
                        + '[[campaign.related]]\nname = "earlier"\npath = "earlier.csv"\n')
    db = f"sqlite:///{tmp_path / 'killed.db'}"
    _, in_flight, rows_out = kill_resume_export(path, db, tmp_path / "all.csv")
    assert in_flight > 0
    assert all(r["status"] in ("succeeded", "failed") for r in rows_out)
    sources = [(r["candidate"], r.get("fidelity", "target")) for r in rows_out]
    assert len(set(sources)) == len(sources)  # nothing evaluated twice at one source
    assert sum(1 for _, source in sources if source == "target") == 12
    attempts = [a for (a,) in query(db, "select attempt from evaluation")]
    assert attempts.count(2) == in_flight  # only the evaluations in flight ran again
    status = subprocess.run([*MATLOOP, "status", str(path), "--json", "--db", db],
                            capture_output=True, text=True, check=True)
    assert ('"fidelities"' if extra == "fidelities" else '"related"') in status.stdout
