"""A lab's next batch, recorded as awaiting results (``Session.propose``).

In a multi-fidelity campaign whose ``[oracle]`` is the lab, the cheaper sources
(``[[fidelities]]``: an ML potential, DFT, or a quicker lab measurement) are oracles
matloop runs, or labs too. Proposing then goes as a cycle of ``matloop run`` does
(``loop.sources``): the cycle's picks at the computed sources are measured here and
now, on the campaign's executor, and its picks at the lab's fidelities are recorded as
awaiting results (the batch sheet says which in its ``fidelity`` column). A cost-aware
cycle may pick computed measurements only; then the next cycle is chosen with what they
showed, until one has a batch for the lab. Computed measurements that a killed
``propose`` left unfinished are measured first, by the next one.
"""

from __future__ import annotations

from collections.abc import Mapping

from matloop.lab.results import lab_fidelities
from matloop.loop.context import Context
from matloop.loop.dispatch import Dispatcher
from matloop.loop.fidelity import spent
from matloop.loop.progress import ProgressCallback
from matloop.loop.propose import AWAITING_LAB, Choice, Planner
from matloop.loop.sources import SourcePlanner
from matloop.loop.stopping import stop_reason
from matloop.protocols import Oracle
from matloop.store import Pending, Proposal


class LabBatch:
    """Records lab batches of one opened campaign. ``on_progress`` is told of each cycle
    and cheaper evaluation; ``oracles``: the lab's oracle and the cheaper sources' by
    name, for a multi-fidelity campaign (else None)."""

    def __init__(self, context: Context, on_progress: ProgressCallback,
                 oracles: tuple[Oracle, Mapping[str, Oracle]] | None = None) -> None:
        self.x = context
        self.c = context.campaign
        self.on_progress = on_progress
        self.planner = Planner(context)
        self.sources = SourcePlanner(context, self.planner) if oracles else None
        self.labs: set[str | None] = {None, *lab_fidelities(self.c)}
        self.dispatcher = Dispatcher(context, oracles[0], self.report, None, oracles[1]) \
            if oracles else None

    def record(self, batch: int | None = None, more: bool = False) -> str:
        """Choose a batch and record it as awaiting results. Returns ``AWAITING_LAB``
        when one was recorded, else why none was (a batch awaits and not ``more``,
        budget, cost budget, pool exhausted, a stopping rule)."""
        try:
            self.finish_unfinished()
            if self.x.store.awaiting(self.x.campaign_id) and not more:
                return "a batch is awaiting results"
            while True:
                reason = self.cycle(batch)
                if reason is not None:
                    return reason
        finally:
            if self.dispatcher is not None:
                self.dispatcher.shutdown()

    def report(self, cycle: int, message: str) -> None:
        self.on_progress(self.x.keeper.progress(cycle, message, self.c.loop.budget))

    def finish_unfinished(self) -> None:
        """Measure the cheaper sources' evaluations that a stopped ``propose`` left."""
        x = self.x
        if self.dispatcher is None:
            return
        left = x.store.requeue_in_flight(x.campaign_id)
        if left:
            cycle = x.store.next_cycle(x.campaign_id) - 1
            self.report(cycle, f"measuring {len(left)} evaluation{'s' * (len(left) != 1)} "
                        "left unfinished")
            self.dispatcher.start_all(left, cycle)
            self.dispatcher.drain()

    def cycle(self, batch: int | None) -> str | None:
        """One cycle: its lab picks recorded as awaiting and its cheaper ones measured;
        ``AWAITING_LAB`` when it had lab picks, None when it had none, else why no
        cycle was chosen."""
        x, loop = self.x, self.c.loop
        waiting = sum(a.fidelity is None for a in x.store.awaiting(x.campaign_id))
        counts = x.store.counts(x.campaign_id)
        finished = counts["succeeded"] + counts["failed"]
        remaining = loop.budget - finished - waiting
        if remaining <= 0:
            return "budget"
        if loop.cost_budget is not None and \
                spent(self.c, x.store, x.campaign_id) >= loop.cost_budget:
            return "cost budget"
        available = x.untried()
        if not available.any():
            return "pool exhausted"
        indices, values = x.keeper.training()
        cycle = x.store.next_cycle(x.campaign_id)
        if cycle > 0:  # the last cycle's results are in (as far as they came)
            x.store.finish_cycle(x.campaign_id, cycle - 1, x.keeper.best_record(values))
        stop = stop_reason(loop, x.targets, x.store, x.campaign_id, values)
        if stop is not None:
            return stop
        planned = finished + waiting
        if self.sources is None:
            choice = self.planner.choose(indices, values, available, planned, remaining,
                                         cycle, batch_size=batch)
            proposals = self.planner.proposals(choice)
        else:
            choice, proposals = self.sources.choose(indices, values, available, planned,
                                                    remaining, cycle, batch_size=batch)
        lab = self.record_lab(cycle, choice, proposals)
        pending = x.store.propose(x.campaign_id, cycle, [p for p in proposals
                                                         if p.fidelity not in self.labs])
        self.planner.record_cycle(cycle, choice, len(indices), len(proposals), values)
        self.report(cycle, f"cycle {cycle}: {choice.strategy} proposed {lab} to the lab"
                    + (f" (+ {measured_now(pending)})" if pending else ""))
        if pending:
            assert self.dispatcher is not None
            self.dispatcher.start_all(pending, cycle)
            self.dispatcher.drain()
        return AWAITING_LAB if lab else None

    def record_lab(self, cycle: int, choice: Choice, proposals: list[Proposal]) -> int:
        """Record the cycle's picks at the lab's fidelities as awaiting, each with the
        model's prediction for its candidate (a probe's is its target pick's); how many."""
        x = self.x
        lab = [p for p in proposals if p.fidelity in self.labs]
        position = {int(row): k for k, row in enumerate(choice.chosen)}
        x.store.propose_awaiting(x.campaign_id, cycle, lab, [
            {"lab": choice.prediction_of(position[p.pool_index], x.targets.properties)}
            for p in lab])
        return len(lab)


def measured_now(pending: list[Pending]) -> str:
    """``5 chgnet, 2 dft measured now``: the cheaper evaluations of a lab cycle."""
    counts: dict[str | None, int] = {}
    for item in pending:
        counts[item.fidelity] = counts.get(item.fidelity, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in counts.items()) + " measured now"
