"""Live progress of a run: a rich progress bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def terminal_bar(label: str, fields: str) -> Iterator[Any]:
    """A rich progress bar on stderr: ``label``, the bar, done/total, ``fields`` (rich
    templates over ``task.fields``), elapsed time and ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(fields),
                  TimeElapsedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True)) as bar:
        yield bar


@contextmanager
def progress_reporter(budget: int, quiet: bool) -> Iterator[Callable[[Any], None]]:
    """Yield a callback for ``matloop.loop.run.Progress`` events."""
    if quiet:
        yield lambda _: None
        return
    if not sys.stderr.isatty():
        def line(event: Any) -> None:
            best = "" if event.best is None else f", best {event.best:.6g}"
            if event.hypervolume is not None:
                best = f", hypervolume {event.hypervolume:.6g}"
            hits = "" if event.hits is None else f", hits {event.hits}"
            flight = f", {event.in_flight} in flight" if event.in_flight else ""
            print(f"[{event.finished}/{event.budget} done, {event.failed} failed{flight}{best}"
                  f"{hits}] "
                  f"{event.message}", file=sys.stderr, flush=True)

        yield line
        return
    with terminal_bar("cycle {task.fields[cycle]}", "failed {task.fields[failed]}  "
                      "in flight {task.fields[in_flight]}  best {task.fields[best]}  "
                      "hits {task.fields[hits]}") as bar:
        task = bar.add_task("run", total=budget, cycle="-", failed=0, in_flight=0, best="-",
                            hits=0)

        def update(event: Any) -> None:
            best = "-" if event.best is None else f"{event.best:.6g}"
            if event.hypervolume is not None:
                best = f"HV {event.hypervolume:.4g}"
            bar.update(task, completed=event.finished, cycle=event.cycle, failed=event.failed,
                       in_flight=event.in_flight, best=best,
                       hits="-" if event.hits is None else event.hits)

        yield update
