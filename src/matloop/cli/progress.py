"""Live progress of a run: a rich progress bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def terminal_bar(label: str, fields: str, eta: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr: ``label``, the bar, done/total, ``fields`` (rich
    templates over ``task.fields``), elapsed time and (with ``eta``) rich's estimate of the
    time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(fields),
               TimeElapsedColumn(), *([TimeRemainingColumn()] if eta else [])]
    with Progress(*columns, console=Console(stderr=True)) as bar:
        yield bar


class Pace:
    """Seconds per evaluation and per cycle in this run so far, and the time left.

    Counted from the first event: evaluations finished by earlier runs (a resume) do not
    make this run look fast."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.start: float | None = None
        self.finished_at_start = 0
        self.cycles: dict[int, float] = {}  # cycle number -> when it was first reported
        self._now, self._finished, self._budget = 0.0, 0, 0

    def update(self, event: Any) -> None:
        now = self.clock()
        if self.start is None:
            self.start, self.finished_at_start = now, event.finished
        self.cycles.setdefault(event.cycle, now)
        self._now, self._finished, self._budget = now, event.finished, event.budget

    @property
    def per_evaluation(self) -> float | None:
        done = self._finished - self.finished_at_start
        return (self._now - self.start) / done if self.start is not None and done else None

    @property
    def per_cycle(self) -> float | None:
        """Mean time between the starts of this run's cycles (None before the second)."""
        starts = sorted(self.cycles.values())
        return (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else None

    @property
    def remaining(self) -> float | None:
        each = self.per_evaluation
        return None if each is None else each * max(self._budget - self._finished, 0)

    def describe(self) -> str:
        """``1.2 s/eval, 4.8 s/cycle, 2m10s left`` (parts unknown yet left out)."""
        parts = []
        if self.per_evaluation is not None:
            parts.append(f"{_duration(self.per_evaluation)}/eval")
        if self.per_cycle is not None:
            parts.append(f"{_duration(self.per_cycle)}/cycle")
        if self.remaining is not None:
            parts.append(f"{_duration(self.remaining)} left")
        return ", ".join(parts)


def _duration(seconds: float) -> str:
    """``0.42 s``, ``12 s``, ``3m05s``, ``2h07m``."""
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def describe_event(event: Any) -> str:
    """The counters of a progress event: ``12/60 done, 1 failed, 2 in flight, best 3.1``."""
    flight = [f"{event.in_flight} in flight"] if event.in_flight else []
    return ", ".join([f"{event.finished}/{event.budget} done", f"{event.failed} failed",
                      *flight, *_found(event, "hypervolume")])


def _found(event: Any, hypervolume: str) -> list[str]:
    """What the campaign has found: ``["best 4.5", "hits 3"]``, the hypervolume (named
    ``hypervolume``) in place of the best value for several objectives."""
    parts = []
    if event.hypervolume is not None:
        parts.append(f"{hypervolume} {event.hypervolume:.6g}")
    elif event.best is not None:
        parts.append(f"best {event.best:.6g}")
    if event.hits is not None:
        parts.append(f"hits {event.hits}")
    return parts


@contextmanager
def progress_reporter(budget: int, quiet: bool,
                      clock: Callable[[], float] = time.monotonic
                      ) -> Iterator[Callable[[Any], None]]:
    """Yield a callback for ``matloop.loop.run.Progress`` events: a live bar on a
    terminal, one line per event elsewhere (CI, files), nothing when ``quiet``."""
    if quiet:
        yield lambda _: None
        return
    pace = Pace(clock)
    if not sys.stderr.isatty():
        def line(event: Any) -> None:
            pace.update(event)
            timing = pace.describe()
            print(f"[{describe_event(event)}{'; ' + timing if timing else ''}] "
                  f"{event.message}", file=sys.stderr, flush=True)

        yield line
        return
    with terminal_bar("cycle {task.fields[cycle]}", "failed {task.fields[failed]}  "
                      "in flight {task.fields[in_flight]}  {task.fields[score]}  "
                      "{task.fields[pace]}", eta=False) as bar:
        task = bar.add_task("run", total=budget, cycle="-", failed=0, in_flight=0, score="",
                            pace="")

        def update(event: Any) -> None:
            pace.update(event)
            bar.update(task, completed=event.finished, cycle=max(pace.cycles),
                       failed=event.failed, in_flight=event.in_flight,
                       score="  ".join(_found(event, "HV")), pace=pace.describe())

        yield update
