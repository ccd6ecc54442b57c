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


@pytest.mark.slow
def test_sigkill_then_resume_loses_nothing_and_repeats_nothing(python_campaign,
                                                                tmp_path: Path,
                                                                database_url: str) -> None:
    # evaluations last long next to the gap between seeing one run and killing the run,
    # so that on a loaded machine the kill still lands while evaluations are in flight
    path = python_campaign(budget=14, initial=4, batch_size=2, workers=2, delay=1.5)
    db = database_url
    first = subprocess.Popen([*MATLOOP, "run", str(path), "--quiet", "--db", db],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: finished(db) >= 5 and count(db, "'running'") > 0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = finished(db)
    in_flight = count(db, "'running'")  # as the killed run left them
    assert 5 <= killed_at < 14
    assert in_flight > 0

    second = subprocess.run([*MATLOOP, "run", str(path), "--db", db], capture_output=True,
                            text=True)
    assert second.returncode == 0, second.stderr

    out = tmp_path / "all.csv"
    subprocess.run([*MATLOOP, "export", str(path), "--out", str(out), "--db", db],
                   check=True, capture_output=True)
    rows = list(csv.DictReader(out.open()))
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
