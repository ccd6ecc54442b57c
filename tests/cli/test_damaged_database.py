"""The real ``matloop`` command on a damaged database and on a full disk: exit 4 with one
line naming the file, no SQL, no traceback. ``run`` checks the file (``PRAGMA
quick_check``) before it writes: damage that reads may not notice is refused and the file
is left as it was; a write that fails mid-run keeps everything committed before, and the
next run resumes."""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import matloop as package
from matloop.api import Campaign

CLI = [sys.executable, "-m", "matloop.cli.main"]
SRC = Path(package.__file__).resolve().parents[1]  # the matloop under test, in the commands


def matloop(*args: str, cwd: Path, preexec_fn: Callable[[], None] | None = None
            ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, preexec_fn=preexec_fn, env=env)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The only line of stderr, after checking exit 4 and that it shows no SQL."""
    assert done.returncode == 4, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in ("SELECT", "INSERT", "UPDATE", "[SQL", "Traceback", "internal error"):
        assert word not in lines[0]
    assert lines[0].startswith("error: database ") or lines[0].startswith("error: cannot ")
    return lines[0]


@pytest.mark.slow
def test_a_damaged_database_is_exit_4_and_run_leaves_it_as_it_was(
        crossed_barrel: Callable[..., Path], damage_table: Callable[..., None],
        tmp_path: Path) -> None:
    path = crossed_barrel(budget=6, initial=4)
    assert matloop("run", str(path), "--quiet", cwd=tmp_path).returncode == 0
    db = tmp_path / "cb.db"
    damage_table(db)
    before = db.read_bytes()

    refused = one_error_line(matloop("run", str(path), "--budget", "10", "--quiet",
                                     cwd=tmp_path))
    assert refused.startswith(f"error: database {db} is damaged (On tree page ")
    assert "nothing was written" in refused and f"`sqlite3 {db} .recover" in refused
    assert db.read_bytes() == before
    wal = db.with_name("cb.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0

    for command in (["status", str(path)], ["export", str(path), "--out", "x.csv"]):
        line = one_error_line(matloop(*command, cwd=tmp_path))
        assert line.startswith(f"error: database {db} is damaged (database disk image is "
                               "malformed); restore it from a backup"), line
    assert not (tmp_path / "x.csv").exists()
    assert db.read_bytes() == before


def test_a_file_that_is_not_a_database_is_exit_4(crossed_barrel: Callable[..., Path],
                                                 tmp_path: Path) -> None:
    path = crossed_barrel()
    junk = tmp_path / "junk.db"
    junk.write_bytes(random.Random(0).randbytes(50_000))
    before = junk.read_bytes()
    for command in ("run", "status"):
        line = one_error_line(matloop(command, str(path), "--db", str(junk), cwd=tmp_path))
        assert line.startswith(f"error: database {junk} is damaged (file is not a database: "
                               "not an SQLite file, or its header is overwritten)"), line
    assert junk.read_bytes() == before


@pytest.mark.slow
def test_a_full_disk_mid_run_is_exit_4_and_the_next_run_resumes(
        crossed_barrel: Callable[..., Path], tmp_path: Path) -> None:
    """The disk fills up mid-run: the run's process may not write past 300 kB into any
    file (``RLIMIT_FSIZE``, with SIGXFSZ ignored so that the write fails with EFBIG
    instead of killing the process). The database is about 90 kB and the run's commits go
    to its write-ahead log, which reaches the limit after a few cycles; SQLite reports it
    as "disk I/O error" (SQLITE_IOERR_WRITE; ENOSPC, a really full disk, is SQLITE_FULL,
    which tests/store/test_damaged_files.py makes with ``PRAGMA max_page_count``)."""
    path = crossed_barrel(budget=6, initial=4, batch_size=4)
    assert matloop("run", str(path), "--quiet", cwd=tmp_path).returncode == 0
    db = tmp_path / "cb.db"

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    full = one_error_line(matloop("run", str(path), "--budget", "20", "--quiet",
                                  cwd=tmp_path, preexec_fn=limited))
    assert full.startswith(f"error: database {db}: disk I/O error (a full disk, a file-size "
                           "limit or a failing disk)"), full
    assert "everything committed before is intact" in full

    with Campaign.from_file(path).session() as session:
        kept = session.evaluations()
    finished = kept[kept["status"] == "succeeded"]
    assert 6 < len(finished) < 20  # the run recorded some before the disk filled up
    assert matloop("run", str(path), "--budget", "20", "--quiet", cwd=tmp_path
                   ).returncode == 0
    with Campaign.from_file(path).session() as session:
        counts = session.status()["evaluations"]
        after = session.evaluations()
    assert counts == {"succeeded": 20, "failed": 0, "pending": 0}  # none left running
    assert after["candidate_id"].nunique() == 20 and set(after["status"]) == {"succeeded"}
    resumed = after.set_index("candidate_id").loc[finished["candidate_id"]]
    assert list(resumed["toughness"]) == list(finished["toughness"])
