"""The live progress of `matloop run`: one line per event when output is not a terminal,
a rich bar fitted to the terminal's width on one, both with the counters, the pace (per
evaluation, per cycle, this run's only) and the time left."""

from __future__ import annotations

import re
import sys
from dataclasses import replace

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
    clock.now += 5  # the campaign loads
    pace.update(replace(event(5, 8), earlier=8))  # the run starts; 8 finished before it
    assert pace.per_evaluation is None and pace.describe() == ""
    clock.now += 30
    pace.update(replace(event(4, 9), earlier=8))  # one left unfinished by cycle 4
    assert pace.per_evaluation == 30 and pace.remaining == 30
    assert pace.per_cycle is None  # cycle 4 is no cycle of this run


def resumed(finished: int, in_flight: int = 0) -> Progress:
    """An event of a run that resumed a campaign with 12 of 40 evaluations finished."""
    return Progress(cycle=3, finished=finished, failed=1, budget=40, best=4.5, hits=3,
                    message="m", in_flight=in_flight, earlier=12)


def test_a_resumed_run_counts_only_its_own_evaluations_from_its_own_start(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The first event can come after this run's first evaluation (one left unfinished
    by the earlier run): the pace is still this run's evaluations over this run's time."""
    clock = Clock()
    with progress_reporter(40, quiet=False, clock=clock) as report:
        clock.now += 4
        report(resumed(13, in_flight=1))
        clock.now += 2
        report(resumed(15))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("[13/40 done, 1 failed, 1 in flight, best 4.5, hits 3; "
                               "4 s/eval, 1m48s left]")
    assert lines[1].startswith("[15/40 done, 1 failed, best 4.5, hits 3; 2 s/eval, "
                               "50 s left]")


@pytest.mark.parametrize(("seconds", "shown"), [(0.4217, "0.42 s"), (12.4, "12 s"),
                                                (185, "3m05s"), (7620, "2h07m")])
def test_durations_read_like_a_clock(seconds: float, shown: str) -> None:
    assert _duration(seconds) == shown


def as_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    """stderr as a terminal ``columns`` wide, so that the live bar shows."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))


def live(err: str) -> str:
    """The last line a terminal shows of the live bar (after its last refresh)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    return [line for line in plain.splitlines() if line.strip()][-1]


def test_on_a_terminal_the_bar_shows_counters_pace_and_time_left(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The live bar (rich) as a terminal would receive it, after its last refresh."""
    as_terminal(monkeypatch, 200)
    clock = Clock()
    with progress_reporter(10, quiet=False, clock=clock) as report:
        report(event(0, 0, in_flight=2))
        clock.now += 4
        report(event(1, 2, in_flight=2))
        clock.now += 6
        report(Progress(cycle=2, finished=4, failed=1, budget=10, best=4.5, hits=3,
                        message="m", in_flight=2))
    shown = live(capsys.readouterr().err)
    for part in ("cycle 2", "━", "4/10", "failed 1", "in flight 2", "best 4.5", "hits 3",
                 "2.5 s/eval", "5 s/cycle", "15 s left", "0:00:10"):
        assert part in shown, (part, shown)


def test_on_a_terminal_a_resumed_run_starts_at_what_earlier_runs_finished(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """No 0/40 while the run loads: the bar appears with the run's first event."""
    as_terminal(monkeypatch, 200)
    clock = Clock()
    with progress_reporter(40, quiet=False, clock=clock) as report:
        clock.now += 3
        report(resumed(12, in_flight=2))  # the run's start: nothing finished by it yet
        clock.now += 3
        report(resumed(13, in_flight=1))
    err = capsys.readouterr().err
    assert not re.search(r"(?<!\d)0/40", err), err
    shown = live(err)
    assert "13/40" in shown and "3 s/eval" in shown and "1m21s left" in shown, shown


@pytest.mark.parametrize(("columns", "parts"), [
    (80, ["13/40", "failed 1", "in flight 1", "best 4.5", "hits 3", "4 s/eval, 4 s/cycle",
          "1m48s left"]),
    (60, ["13/40", "failed 1", "in flight 1", "best 4.5", "hits 3", "1m48s left"]),
    (30, ["13/40", "1m48s left"])])
def test_a_narrow_terminal_keeps_done_of_budget_on_one_line(
        columns: int, parts: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The elapsed time, the cycle, the bar, the rates, the scores and the counters give
    way, in that order; done/budget and the time left stay."""
    as_terminal(monkeypatch, columns)
    clock = Clock()
    with progress_reporter(40, quiet=False, clock=clock) as report:
        report(resumed(12, in_flight=2))
        clock.now += 4
        report(replace(resumed(13, in_flight=1), cycle=4))
    shown = live(capsys.readouterr().err)
    assert len(shown.rstrip()) <= columns, shown
    for part in parts:
        assert part in shown, (part, shown)
