"""Progress over benchmark seeds: a rich bar on a terminal, one plain line per seed elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from matloop.benchmarking.replay import SeedRun


@contextmanager
def seed_progress(total: int, quiet: bool = False) -> Iterator[Callable[[SeedRun], None]]:
    """Yield a callback for each finished ``SeedRun``; writes to stderr."""
    if quiet:
        yield lambda _: None
        return
    if not sys.stderr.isatty():
        done = 0

        def line(run: SeedRun) -> None:
            nonlocal done
            done += 1
            print(f"[{done}/{total} seeds] {run.label} seed {run.seed}: {run.evaluations} "
                  f"evaluations in {run.wall_s:.1f} s (loop {run.fit_s + run.select_s:.1f} s)",
                  file=sys.stderr, flush=True)

        yield line
        return
    from rich.progress import BarColumn, TimeElapsedColumn, TimeRemainingColumn

    from matloop.cli.bar import CutText, count_column, terminal_bar

    label, track, elapsed = CutText("seeds"), BarColumn(), TimeElapsedColumn()
    with terminal_bar(label, track, count_column(), CutText("{task.fields[last]}"), elapsed,
                      TimeRemainingColumn(), optional=[elapsed, label, track]) as bar:
        task = bar.add_task("benchmark", total=total, last="")

        def update(run: SeedRun) -> None:
            bar.update(task, advance=1, last=f"last: {run.label} seed {run.seed} "
                                             f"({run.wall_s:.0f} s)")

        yield update
