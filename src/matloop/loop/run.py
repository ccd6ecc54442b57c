"""The run: cycles of fit -> select -> evaluate -> record, resumable from the store alone.

Every proposal is written before it is dispatched and every outcome as it arrives, so a
run killed at any moment resumes with another run: unfinished evaluations are run again
(their ``attempt`` counted when they had started), finished ones never. ``Session.run``
is the way in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matloop.errors import ConfigError, ExecutorLost, OracleFailing
from matloop.loop.context import Context, check_pool_unchanged
from matloop.loop.dispatch import Dispatcher, Task
from matloop.loop.executor import Executor
from matloop.loop.fidelity import spent
from matloop.loop.progress import ProgressCallback, RunResult
from matloop.loop.propose import Planner
from matloop.loop.sources import SourcePlanner
from matloop.loop.stopping import stop_reason
from matloop.protocols import FAILURE_REASONS, Oracle
from matloop.store import Pending


class Run:
    """One run of one opened campaign until its budget is spent, its pool exhausted or a
    stopping rule holds. ``resume``: evaluations to (re-)run first (in flight when an
    earlier run stopped, or awaiting results when the oracle can now provide them)."""

    def __init__(self, context: Context, oracle: Oracle, on_progress: ProgressCallback,
                 executor: Executor | None = None, sources: Mapping[str, Oracle] | None = None
                 ) -> None:
        from matloop.lab.results import lab_fidelities

        if lab_fidelities(context.campaign):
            raise ConfigError(f"fidelities: {', '.join(lab_fidelities(context.campaign))} "
                              "is a lab, whose results come from the lab: propose batches "
                              "and import them (no oracle in this process measures it)")
        self.x = context
        self.c = context.campaign
        self.on_progress = on_progress
        self.earlier = context.keeper.finished()  # by earlier runs, or imported
        self.planner = Planner(context)
        self.sources = SourcePlanner(context, self.planner) if self.c.fidelities else None
        self.dispatcher = Dispatcher(context, oracle, self.report, executor, sources)

    def run(self, resume: list[Pending]) -> RunResult:
        x = self.x
        check_pool_unchanged(x.store, x.campaign_id, x.space.pool)
        x.store.set_stop_reason(x.campaign_id, None)
        self.report(x.store.next_cycle(x.campaign_id), started(self.earlier, len(resume)))
        removed = x.space.pool.duplicates_removed
        if removed:
            self.report(x.store.next_cycle(x.campaign_id),
                        f"pool: {len(x.space.pool)} candidates, {removed} repeated "
                        f"structure{'s' if removed != 1 else ''} removed")
        try:
            if self.c.loop.mode == "async":
                reason = self.asynchronous(resume)
            else:
                if resume:
                    self.dispatcher.start_all(resume, x.store.next_cycle(x.campaign_id) - 1)
                    self.dispatcher.drain()
                reason = self.cycles()
        except (OracleFailing, ExecutorLost) as exc:
            x.store.set_stop_reason(x.campaign_id, str(exc))
            raise
        finally:
            self.dispatcher.shutdown()
        x.store.set_stop_reason(x.campaign_id, reason)
        return x.keeper.result(reason)

    def cycles(self) -> str:
        """Batch mode: propose a batch, wait for all of it, repeat."""
        x = self.x
        while True:
            stop = self.propose()
            if stop is not None:
                return stop
            cycle = next(iter(self.dispatcher.running.values())).cycle
            self.dispatcher.drain()
            x.store.finish_cycle(x.campaign_id, cycle, x.keeper.best_record(
                x.keeper.training()[1]))

    def asynchronous(self, resume: list[Pending]) -> str:
        """Asynchronous mode: keep ``[executor] workers`` evaluations running and
        ``[loop] queued`` more waiting for a free worker. Each one that finishes is
        recorded and replaced by one new proposal, chosen by a model refit on everything
        finished, with the ones still in flight as pending points."""
        x, dispatcher = self.x, self.dispatcher
        dispatcher.start_all(resume, x.store.next_cycle(x.campaign_id) - 1)
        slots = self.c.executor.workers + self.c.loop.queued
        stop: str | None = None
        while True:
            while stop is None and len(dispatcher.running) < slots:
                stop = self.propose(free=slots - len(dispatcher.running))
            if not dispatcher.running:
                assert stop is not None
                return stop
            recorded = dispatcher.collect()
            if recorded:
                best = x.keeper.best_record(x.keeper.training()[1])
                for number in {task.cycle for task in recorded}:
                    x.store.finish_cycle(x.campaign_id, number, best)

    def propose(self, free: int | None = None) -> str | None:
        """Propose the next cycle and start its evaluations; returns why nothing more
        will be proposed, if so. ``free``: how many may start (async mode: one past the
        initial design, the others in flight being pending points); None: a whole batch."""
        x, loop, dispatcher = self.x, self.c.loop, self.dispatcher
        counts = x.store.counts(x.campaign_id)
        running = sum(task.item.fidelity is None for task in dispatcher.running.values())
        planned = counts["succeeded"] + counts["failed"] + running
        if loop.budget - planned <= 0:
            return "budget"
        if loop.cost_budget is not None and \
                spent(self.c, x.store, x.campaign_id) >= loop.cost_budget:
            return "cost budget"
        remaining = loop.budget - planned if free is None else min(loop.budget - planned,
                                                                    free)
        available = x.untried()
        indices, values = x.keeper.training()
        stop = stop_reason(loop, x.targets, x.store, x.campaign_id, values, available)
        if stop is not None:
            return stop
        cycle = x.store.next_cycle(x.campaign_id)
        before = len(dispatcher.running)
        if self.sources is not None:
            choice, proposals = self.sources.choose(indices, values, available, planned,
                                                    remaining, cycle)
        else:
            choice = self.planner.choose(indices, values, available, planned, remaining,
                                         cycle, dispatcher.in_flight())
            proposals = self.planner.proposals(choice)
        pending = x.store.propose(x.campaign_id, cycle, proposals)
        for item in pending:
            dispatcher.start(Task(item, item.attempt, 0, cycle))
        # while they run: validate the model and record the cycle
        self.planner.record_cycle(cycle, choice, len(indices), len(pending), values)
        self.report(cycle, self.planner.describe(choice, cycle, counted(pending), before))
        return None

    def report(self, cycle: int, message: str) -> None:
        self.on_progress(self.x.keeper.progress(cycle, message, self.c.loop.budget,
                                                self.earlier))


def counted(pending: Sequence[Pending]) -> str:
    """``5``, or with other fidelities ``5 (+ 5 chgnet)``: the evaluations proposed."""
    target = sum(item.fidelity is None for item in pending)
    others: dict[str, int] = {}
    for item in pending:
        if item.fidelity is not None:
            others[item.fidelity] = others.get(item.fidelity, 0) + 1
    extra = ", ".join(f"{n} {name}" for name, n in others.items())
    return f"{target}" + (f" (+ {extra})" if extra else "")


def started(earlier: int, unfinished: int) -> str:
    """``run started: 12 evaluations finished before it, 2 unfinished to run first``."""
    parts = [f"{earlier} evaluation{'s' if earlier != 1 else ''} finished before it"] \
        if earlier else []
    if unfinished:
        parts.append(f"{unfinished} unfinished to run first")
    return "run started" + (": " + ", ".join(parts) if parts else "")


def check_retry(reasons: Sequence[str], lab: bool) -> None:
    """``ConfigError`` unless ``reasons`` are failure reasons of an oracle matloop calls."""
    unknown = sorted(set(reasons) - set(FAILURE_REASONS))
    if unknown:
        raise ConfigError(f"retry: unknown failure reason {', '.join(map(repr, unknown))}; "
                          f"use {', '.join(FAILURE_REASONS)}")
    if reasons and lab:
        raise ConfigError("retry: a lab campaign's failures are results the lab reported; "
                          "import a new measurement of the candidate instead")


def to_resume(context: Context, reasons: Sequence[str], report: ProgressCallback,
              awaiting: bool) -> list[Pending]:
    """The evaluations a run runs first: each candidate that failed for one of
    ``reasons`` gets a new evaluation (the failures no longer charged to the budget; how
    many is reported), then those left in flight by a stopped run, and with ``awaiting``
    (an oracle in this process) the lab's evaluations awaiting results."""
    x = context
    if reasons and (n := x.store.retry_failures(x.campaign_id, reasons)):
        report(x.keeper.progress(x.store.next_cycle(x.campaign_id) - 1,
                                 f"retrying {n} failed candidate{'s' * (n != 1)} "
                                 f"({', '.join(reasons)})", x.campaign.loop.budget))
    resume = x.store.requeue_in_flight(x.campaign_id)
    if awaiting:
        resume += [Pending(row.evaluation_id, row.pool_index, row.key, 1)
                   for row in x.store.awaiting(x.campaign_id)]
    return resume
