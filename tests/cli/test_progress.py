"""The live progress of `matloop run` when output is not a terminal: one line per event
with the counters, the pace (per evaluation, per cycle) and the time left."""

from __future__ import annotations

import pytest

from matloop.cli.progress import Pace, _duration, progress_reporter
from matloop.loop.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def event(cycle: int, finished: int, in_flight: int = 0, message: str = "m") -> Progress:
    return Progress(cycle=cycle, finished=finished, failed=1 if finished > 2 else 0,
                    budget=10, best=None if finished == 0 else 2.5, hits=None,
                    message=message, in_flight=in_flight)


def test_plain_lines_give_counters_pace_and_time_left(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    clock = Clock()
    with progress_reporter(10, quiet=False, clock=clock) as report:
        report(event(0, 0, in_flight=2, message="cycle 0: initial proposed 2"))
        clock.now += 4
        report(event(0, 2, message="x=1: ok"))
        report(event(1, 2, in_flight=2, message="cycle 1: logei proposed 2"))
        clock.now += 6
        report(event(1, 4, message="x=2: ok"))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[0/10 done, 0 failed, 2 in flight] cycle 0: initial proposed 2"
    assert lines[1] == "[2/10 done, 0 failed, best 2.5; 2 s/eval, 16 s left] x=1: ok"
    assert lines[2].startswith("[2/10 done, 0 failed, 2 in flight, best 2.5; 2 s/eval, "
                               "4 s/cycle, 16 s left]")
    assert lines[3] == ("[4/10 done, 1 failed, best 2.5; 2.5 s/eval, 4 s/cycle, 15 s left] "
                        "x=2: ok")


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_reporter(10, quiet=True) as report:
        report(event(0, 1))
    assert capsys.readouterr().err == ""


def test_a_resumed_run_is_timed_from_its_own_start() -> None:
    clock = Clock()
    pace = Pace(clock)
    pace.update(event(5, 8))  # 8 finished by an earlier run
    assert pace.per_evaluation is None and pace.describe() == ""
    clock.now += 30
    pace.update(event(5, 9))
    assert pace.per_evaluation == 30 and pace.remaining == 30


@pytest.mark.parametrize(("seconds", "shown"), [(0.4217, "0.42 s"), (12.4, "12 s"),
                                                (185, "3m05s"), (7620, "2h07m")])
def test_durations_read_like_a_clock(seconds: float, shown: str) -> None:
    assert _duration(seconds) == shown


def test_on_a_terminal_the_bar_shows_counters_pace_and_time_left(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The live bar (rich) as a terminal would receive it, after its last refresh."""
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    clock = Clock()
    with progress_reporter(10, quiet=False, clock=clock) as report:
        report(event(0, 0, in_flight=2))
        clock.now += 4
        report(event(1, 2, in_flight=2))
        clock.now += 6
        report(Progress(cycle=2, finished=4, failed=1, budget=10, best=4.5, hits=3,
                        message="m", in_flight=2))
    import re

    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().err)
    shown = [line for line in plain.splitlines() if line.strip()][-1]
    for part in ("cycle 2", "4/10", "failed 1", "in flight 2", "best 4.5", "hits 3",
                 "2.5 s/eval", "5 s/cycle", "15 s left"):
        assert part in shown, (part, shown)
