"""A run killed with SIGKILL resumes with no evaluation lost and none done twice."""

from __future__ import annotations

import csv
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]


def count(db: Path, statuses: str = "'succeeded', 'failed'") -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as connection:
        try:
            return connection.execute("select count(*) from evaluation where status in "
                                      f"({statuses})").fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def finished(db: Path) -> int:
    return count(db)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_then_resume_loses_nothing_and_repeats_nothing(python_campaign,
                                                                tmp_path: Path) -> None:
    path = python_campaign(budget=14, initial=4, batch_size=2, workers=2, delay=0.4)
    db = tmp_path / "toy.db"
    first = subprocess.Popen([*MATLOOP, "run", str(path), "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: finished(db) >= 5 and count(db, "'running'") > 0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = finished(db)
    assert 5 <= killed_at < 14

    second = subprocess.run([*MATLOOP, "run", str(path)], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr

    out = tmp_path / "all.csv"
    subprocess.run([*MATLOOP, "export", str(path), "--out", str(out)], check=True,
                   capture_output=True)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 14
    assert all(r["status"] in ("succeeded", "failed") for r in rows)
    candidates = [r["candidate"] for r in rows]
    assert len(set(candidates)) == 14  # no candidate evaluated twice
    # the evaluations in flight at the kill were run again, as a new attempt
    with sqlite3.connect(db) as connection:
        attempts = [a for (a,) in connection.execute("select attempt from evaluation")]
    assert max(attempts) == 2


@pytest.mark.slow
def test_a_second_concurrent_run_is_refused(python_campaign, tmp_path: Path) -> None:
    path = python_campaign(budget=8, initial=4, workers=1, delay=0.5)
    first = subprocess.Popen([*MATLOOP, "run", str(path), "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: finished(tmp_path / "toy.db") >= 1)
        second = subprocess.run([*MATLOOP, "run", str(path)], capture_output=True, text=True)
        assert second.returncode == 3
        assert second.stderr.startswith("error: campaign is being run by process "
                                        f"{first.pid}")
        assert "Traceback" not in second.stderr
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0
    assert finished(tmp_path / "toy.db") == 8
