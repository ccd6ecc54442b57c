"""Benchmark: what ``PRAGMA quick_check`` adds to opening a large SQLite database to write.

``run``, ``propose`` and ``import`` open the database with ``Store(url)`` (create=True),
which checks an existing file with ``PRAGMA quick_check`` before writing; readers
(``status``, ``export``) open it with ``create=False`` and do not. This script fills a
database through the store's own API (``--evaluations`` evaluations of one campaign,
``--per-cycle`` per cycle, each recorded with one measurement and its provenance, as a
run records them), then times the median of ``--repeat`` openings each way and of the
pragma alone, with the file in the page cache ("warm"), and opening to write once more
with the file dropped from the page cache before each opening ("cold",
``posix_fadvise(DONTNEED)``: read from the disk again). ``--db PATH`` keeps the database
(filled only if the file does not exist) for another measurement.

    .venv/bin/python benchmarks/quick_check.py [--evaluations 100000] [--repeat 5]
        [--db big.db]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from matloop.protocols import Outcome
from matloop.store import Proposal, Store


def fill(url: str, evaluations: int, per_cycle: int) -> None:
    """A campaign with ``evaluations`` succeeded evaluations, recorded as a run does."""
    store = Store(url)
    campaign = store.campaign_id("big", {"campaign": {"name": "big"}})
    for cycle, start in enumerate(range(0, evaluations, per_cycle)):
        keys = range(start, min(start + per_cycle, evaluations))
        pending = store.propose(campaign, cycle, [Proposal(i, f"k{i}", f"x={i / 7:.6g}")
                                                  for i in keys])
        for item in pending:
            store.mark_running(item.evaluation_id, 1)
            store.record(item.evaluation_id, replace(Outcome.success(
                {"toughness": item.pool_index / 3}, {"toughness": "J"},
                {"oracle": "table", "file": "/data/barrel.csv"}), duration_s=0.25))
        store.record_cycle(campaign, cycle, "logei", start, len(pending), 0.5, 0.1,
                           {"lengthscale": [0.3, 0.2]}, {"toughness": start / 3})
    store.close()


def drop_from_cache(path: Path) -> None:
    """Ask the kernel to forget the file's cached pages (and its write-ahead log's)."""
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            descriptor = os.open(file, os.O_RDONLY)
            os.fsync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(descriptor)


def median_seconds(action: Callable[[], None], repeat: int,
                   before: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evaluations", type=int, default=100_000)
    parser.add_argument("--per-cycle", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="keep the database here (filled if absent)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = (args.db or Path(folder) / "big.db").resolve()
        url = f"sqlite:///{path}"
        start = time.perf_counter()
        if not path.exists():
            fill(url, args.evaluations, args.per_cycle)
        filled = time.perf_counter() - start

        def open_store(create: bool) -> Callable[[], None]:
            return lambda: Store(url, create=create).close()

        reading = median_seconds(open_store(False), args.repeat)
        writing = median_seconds(open_store(True), args.repeat)
        cold = median_seconds(open_store(True), args.repeat, lambda: drop_from_cache(path))
        store = Store(url, create=False)
        with store.engine.connect() as connection:
            pragma = median_seconds(
                lambda: connection.execute(text("PRAGMA quick_check")).all(), args.repeat)
            count = connection.execute(text("SELECT count(*) FROM evaluation")).scalar_one()
        store.close()
        size = path.stat().st_size / 1e6
        print(f"{count} evaluations, {size:.1f} MB (filled in {filled:.0f} s)")
        print("| open to read | open to write (quick_check) | the same, cold | "
              "quick_check alone |")
        print("|---|---|---|---|")
        print(f"| {reading * 1e3:.1f} ms | {writing * 1e3:.1f} ms | {cold * 1e3:.1f} ms | "
              f"{pragma * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
