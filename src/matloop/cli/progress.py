"""Live progress of a run: a rich progress bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Pace:
    """Seconds per evaluation and per cycle in this run so far, and the time left.

    Only this run's evaluations count (``finished - earlier`` of its events), timed from
    this run's start: its first event when nothing was finished by the run yet (the loop
    reports its start), else the ``Pace``'s creation. Evaluations finished by earlier runs
    (a resume) or imported (a prior) neither make the run look fast nor count as done in
    no time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.start = clock()
        self.seen = False
        # cycle number -> when it was first reported; older cycles reported later (an
        # evaluation of an earlier cycle finishing) are not this run's new cycles
        self.cycles: dict[int, float] = {}
        self._now, self._finished, self._earlier, self._budget = self.start, 0, 0, 0

    def update(self, event: Any) -> None:
        now = self.clock()
        if not self.seen and event.finished == event.earlier:
            self.start = now
        self.seen = True
        if not self.cycles or event.cycle > max(self.cycles):
            self.cycles[event.cycle] = now
        self._now, self._finished, self._budget = now, event.finished, event.budget
        self._earlier = event.earlier

    @property
    def per_evaluation(self) -> float | None:
        """This run's time over the evaluations it finished (None before the first)."""
        done = self._finished - self._earlier
        return (self._now - self.start) / done if done > 0 else None

    @property
    def per_cycle(self) -> float | None:
        """Mean time between the starts of this run's cycles (None before the second)."""
        starts = sorted(self.cycles.values())
        return (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else None

    @property
    def remaining(self) -> float | None:
        each = self.per_evaluation
        return None if each is None else each * max(self._budget - self._finished, 0)

    def rates(self) -> str:
        """``1.2 s/eval, 4.8 s/cycle`` (parts unknown yet left out)."""
        parts = []
        if self.per_evaluation is not None:
            parts.append(f"{_duration(self.per_evaluation)}/eval")
        if self.per_cycle is not None:
            parts.append(f"{_duration(self.per_cycle)}/cycle")
        return ", ".join(parts)

    def left(self) -> str:
        """``2m10s left``, or nothing before this run finished an evaluation."""
        return "" if self.remaining is None else f"{_duration(self.remaining)} left"

    def describe(self) -> str:
        """``1.2 s/eval, 4.8 s/cycle, 2m10s left`` (parts unknown yet left out)."""
        return ", ".join(part for part in (self.rates(), self.left()) if part)


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
    """Yield a callback for ``matloop.loop.progress.Progress`` events: a live bar on a
    terminal, one line per event elsewhere (CI, files), nothing when ``quiet``; the pace
    is timed by ``clock``."""
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
    with run_bar(budget, pace) as update:
        yield update


@contextmanager
def run_bar(budget: int, pace: Pace) -> Iterator[Callable[[Any], None]]:
    """The live bar of a run, timed by ``pace``'s clock: ``cycle 4  ━━━━  13/40  failed 1
    in flight 2  best 4.5  4 s/eval, 4 s/cycle  1m48s left  0:00:52``. It appears with the
    run's first event, at what was finished before the run. A narrow terminal loses the
    elapsed time, the cycle, the bar, the rates, the scores and the counters, in that
    order; done/budget and the time left stay."""
    from rich.progress import BarColumn, TimeElapsedColumn

    from matloop.cli.bar import CutText, count_column, terminal_bar

    cycle, bar, elapsed = CutText("cycle {task.fields[cycle]}"), BarColumn(), \
        TimeElapsedColumn()
    rates = CutText("{task.fields[rates]}")
    counters = CutText("failed {task.fields[failed]}  in flight {task.fields[in_flight]}")
    score, left = CutText("{task.fields[score]}"), CutText("{task.fields[left]}")
    with terminal_bar(cycle, bar, count_column(), counters, score, rates, left, elapsed,
                      optional=[elapsed, cycle, bar, rates, score, counters],
                      clock=pace.clock) as live:
        task = live.add_task("run", total=budget, visible=False, cycle="-", failed=0,
                             in_flight=0, score="", rates="", left="")

        def update(event: Any) -> None:
            pace.update(event)
            live.update(task, completed=event.finished, visible=True,
                        cycle=max(pace.cycles), failed=event.failed,
                        in_flight=event.in_flight, score="  ".join(_found(event, "HV")),
                        rates=pace.rates(), left=pace.left())

        yield update
