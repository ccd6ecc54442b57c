"""Sending evaluations to the executor and recording each outcome as it arrives.

Every evaluation is marked running before it is sent and recorded once when it ends, so
a run killed at any moment loses nothing: the next run re-runs what was in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

from matloop.campaigns.schema import OracleSection
from matloop.errors import OracleFailing
from matloop.loop.context import Context
from matloop.loop.evaluate import evaluate
from matloop.loop.executor import Executor, make_executor
from matloop.protocols import Oracle, Outcome
from matloop.store import Pending


@dataclass(frozen=True)
class Task:
    """An evaluation handed to the executor: its attempt, re-runs so far and cycle."""

    item: Pending
    attempt: int
    retried: int
    cycle: int


class Dispatcher:
    """Runs evaluations of one campaign on its executor (started on first use).

    ``report(cycle, message)`` is told of each outcome and retry; ``executor``: a ready
    executor to use instead of the campaign's (then not shut down here); ``sources``:
    the oracles of the campaign's ``[[fidelities]]`` by name."""

    def __init__(self, context: Context, oracle: Oracle, report: Callable[[int, str], None],
                 executor: Executor | None = None, sources: Mapping[str, Oracle] | None = None
                 ) -> None:
        self.x = context
        self.oracles: dict[str | None, Oracle] = {None: oracle}
        self.oracles.update(sources or {})
        self.sections: dict[str | None, OracleSection] = {
            None: context.campaign.oracle,
            **{f.name: f.oracle for f in context.campaign.fidelities}}
        self.report = report
        self.executor = executor
        self.owned = executor is None
        self.running: dict[Future[Outcome], Task] = {}
        self.finished_before = {name: len(context.store.finished(context.campaign_id, name))
                                for name in self.oracles}

    def start_all(self, items: Iterable[Pending], cycle: int) -> None:
        for item in items:
            self.start(Task(item, item.attempt, 0, cycle))

    def start(self, task: Task) -> None:
        settings = self.sections[task.item.fidelity]
        oracle = self.oracles[task.item.fidelity]
        if self.executor is None:
            self.executor = make_executor(self.x.campaign.executor,
                                          self.x.campaign.oracle.timeout_s)
        candidate = self.x.space.pool.candidate(task.item.pool_index)
        future = self.executor.submit(evaluate, oracle, candidate, oracle.properties,
                                      timeout=settings.timeout_s)
        self.running[future] = task
        self.x.store.mark_running(task.item.evaluation_id, task.attempt)

    def in_flight(self) -> list[int]:
        """Pool rows of the evaluations running now."""
        return [task.item.pool_index for task in self.running.values()]

    def drain(self) -> None:
        """Wait for every running evaluation and record it."""
        while self.running:
            self.collect()

    def collect(self) -> list[Task]:
        """Wait for at least one evaluation to end and record it; returns the recorded.

        A failure whose reason is in the oracle's ``retry_on`` (by default a timeout or a
        dead worker) is run again, up to ``retries`` times, as a new attempt; only the last
        outcome is recorded. Raises ``OracleFailing`` when too many recent evaluations
        failed (in-flight ones are left to be re-run by the next run)."""
        assert self.executor is not None
        done, _ = wait(self.running, return_when=FIRST_COMPLETED)
        recorded = []
        for future in done:
            task = self.running.pop(future)
            settings = self.sections[task.item.fidelity]
            outcome = self.executor.outcome(future)
            label = self.x.label(task.item.pool_index)
            if task.item.fidelity is not None:
                label = f"{label} [{task.item.fidelity}]"
            if (not outcome.ok and outcome.reason in settings.retry_on
                    and task.retried < settings.retries):
                self.report(task.cycle, f"{label}: {outcome.reason}, retrying")
                self.start(Task(task.item, task.attempt + 1, task.retried + 1, task.cycle))
                continue
            self.x.store.record(task.item.evaluation_id, outcome)
            self.report(task.cycle, f"{label}: "
                        + ("ok" if outcome.ok else f"failed ({outcome.reason})"))
            recorded.append(task)
            self.check_failure_rate(task.item.fidelity)
        return recorded

    def check_failure_rate(self, fidelity: str | None = None) -> None:
        """Abort when too many of this run's latest evaluations at ``fidelity`` failed (a
        new run, e.g. after the oracle was fixed, starts with a clean window)."""
        loop = self.x.campaign.loop
        finished = self.x.store.finished(self.x.campaign_id, fidelity)
        recent = [f.succeeded for f in
                  finished[self.finished_before[fidelity]:][-loop.failure_window:]]
        failed = recent.count(False)
        if len(recent) == loop.failure_window and failed > loop.max_failure_rate * len(recent):
            source = "" if fidelity is None else f" at fidelity {fidelity!r}"
            raise OracleFailing(
                f"aborted: {failed} of the last {len(recent)} evaluations{source} failed "
                "(more than "
                f"max_failure_rate = {loop.max_failure_rate:g}); the oracle looks broken — "
                "see the failures in the campaign's status or evaluations, fix it and run "
                "again to resume (`run --retry error` runs its failures again)")

    def shutdown(self) -> None:
        if self.executor is not None and self.owned:
            self.executor.shutdown()
