"""Running one oracle call safely: what a worker process executes.

Whatever the oracle does (returns garbage, raises, returns NaN), the caller gets an
``Outcome``; failures are data, not exceptions.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Sequence

from matloop.errors import EvaluationFailure
from matloop.protocols import Candidate, Oracle, Outcome

TRACEBACK_LINES = 12


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
    except Exception as exc:
        lines = traceback.format_exc().splitlines(keepends=True)
        tail = lines[0] + "".join(lines[1:][-TRACEBACK_LINES:])  # the header and the tail
        outcome = Outcome.failure("error", f"{type(exc).__name__}: {exc}\n{tail}")
    return Outcome(ok=outcome.ok, values=outcome.values, units=outcome.units,
                   reason=outcome.reason, error=outcome.error,
                   duration_s=time.perf_counter() - start, provenance=outcome.provenance)


def check_outcome(outcome: Outcome, required: Sequence[str]) -> Outcome:
    """A successful outcome must give every required property as a finite number."""
    if not outcome.ok:
        return outcome
    problems = [f"{name} is missing" for name in required if name not in outcome.values]
    values: dict[str, float] = {}
    for name, value in outcome.values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.append(f"{name} = {value!r} is not a number")
            continue
        if not math.isfinite(number):
            problems.append(f"{name} = {number} is not finite")
        values[name] = number
    if problems:
        return Outcome.failure("invalid", "; ".join(problems), provenance=outcome.provenance)
    return Outcome(ok=True, values=values, units=outcome.units, provenance=outcome.provenance)
