"""Running one oracle call safely: what a worker process executes.

Whatever the oracle does (returns garbage, raises, returns NaN), the caller gets an
``Outcome``; failures are data, not exceptions.
"""

from __future__ import annotations

import math
import multiprocessing
import numbers
import threading
import time
import traceback
from collections.abc import Sequence

from matloop.errors import EvaluationFailure
from matloop.protocols import MAX_MAGNITUDE, Candidate, Oracle, Outcome

TRACEBACK_LINES = 12
MAX_ERROR_CHARS = 4000  # stored error text: head and tail kept, the middle cut


def evaluate(oracle: Oracle, candidate: Candidate, required: Sequence[str]) -> Outcome:
    """Call ``oracle.evaluate`` and return a checked ``Outcome`` with its duration (s)."""
    start = time.perf_counter()
    try:
        outcome = oracle.evaluate(candidate)
        if not isinstance(outcome, Outcome):
            outcome = Outcome.failure("invalid", f"oracle returned {type(outcome).__name__}, "
                                      "not an Outcome")
        else:
            outcome = check_outcome(outcome, required)
    except EvaluationFailure as exc:
        outcome = Outcome.failure(exc.reason, str(exc))
    except BaseException as exc:  # SystemExit, KeyboardInterrupt from an oracle too
        if isinstance(exc, KeyboardInterrupt | SystemExit) and _in_main_thread_of_main():
            raise  # a real Ctrl-C (or exit) of this process, not the oracle's doing
        lines = traceback.format_exc().splitlines(keepends=True)
        tail = lines[0] + "".join(lines[1:][-TRACEBACK_LINES:])  # the header and the tail
        outcome = Outcome.failure("error", f"{type(exc).__name__}: {exc}\n{tail}")
    return Outcome(ok=outcome.ok, values=outcome.values, units=outcome.units,
                   reason=outcome.reason, error=capped(outcome.error),
                   duration_s=time.perf_counter() - start, provenance=outcome.provenance)


def _in_main_thread_of_main() -> bool:
    """Whether this is the main thread of the main process (where Ctrl-C lands; worker
    processes ignore SIGINT, see ``executor.ignore_interrupts``)."""
    return threading.current_thread() is threading.main_thread() and \
        multiprocessing.parent_process() is None


def capped(error: str | None, limit: int = MAX_ERROR_CHARS) -> str | None:
    """An error text of at most about ``limit`` characters: its head and tail, and how
    much of the middle was cut."""
    if error is None or len(error) <= limit:
        return error
    half = limit // 2
    cut = len(error) - 2 * half
    return f"{error[:half]}\n[... {cut} characters cut ...]\n{error[-half:]}"


def check_outcome(outcome: Outcome, required: Sequence[str]) -> Outcome:
    """A successful outcome must give every required property as a real number (int or
    float, not bool or text) that is finite and at most ``MAX_MAGNITUDE`` in size. Other
    (auxiliary) values that fail this are left out and noted in the provenance
    (``"dropped"``), not held against the evaluation."""
    if not outcome.ok:
        return outcome
    problems = [f"{name} is missing" for name in required if name not in outcome.values]
    values: dict[str, float] = {}
    dropped: dict[str, str] = {}
    for name, value in outcome.values.items():
        number, why = _real(value)
        if why is None:
            values[name] = number
        elif name in required:
            problems.append(f"{name} = {_shown(value)} {why}")
        else:
            dropped[name] = f"{_shown(value)} {why}"
    if problems:
        return Outcome.failure("invalid", "; ".join(problems), provenance=outcome.provenance)
    provenance = outcome.provenance
    if dropped:
        provenance = {**(provenance or {}), "dropped": dropped}
    return Outcome(ok=True, values=values, units=outcome.units, provenance=provenance)


def _real(value: object) -> tuple[float, str | None]:
    """``(value as float, None)``, or ``(nan, why it is not a usable measurement)``. A
    zero-dimensional numeric array (NumPy or torch) counts as its number."""
    if getattr(value, "ndim", None) == 0 and getattr(value, "dtype", None) is not None \
            and not str(value.dtype).endswith("bool"):  # type: ignore[attr-defined]
        value = value.item()  # type: ignore[attr-defined]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan, f"is a {type(value).__name__}, not a number"
    try:
        number = float(value)
    except OverflowError:
        return math.nan, "is too large for a float"
    if not math.isfinite(number):
        return math.nan, "is not finite"
    if abs(number) > MAX_MAGNITUDE:
        return math.nan, f"is beyond {MAX_MAGNITUDE:g} in size"
    return number, None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
