"""A multi-fidelity campaign's cycle: which candidates to measure, and with which source.

The campaign's own ``[oracle]`` is the target fidelity; each ``[[fidelities]]`` entry is a
cheaper source. A cycle goes as the replay benchmark's ``multi`` strategy
(``matloop.benchmarking.fidelity``), which measured it:

- the initial design, and every cycle while no source has shown that it pays for itself
  (``loop.fidelity.verdicts`` on the candidates measured by both), is the single-fidelity
  cycle; each of its picks is also measured by every source not yet found useless (a
  probe, at the source's small cost: the evidence);
- once a source pays, the multi-fidelity GP over the target and the paying sources
  (``surrogates.multifidelity``) and the cost-aware choice of candidate and source
  (``loop.fidelity.choose_pairs``): per cycle the cost of ``batch_size`` target
  evaluations, spent on at most ``CHEAP_PER_TARGET * batch_size`` evaluations per source.

Costs are the sources' given costs, else their measured median seconds per evaluation;
until both of a pair are known, the source is undecided and probed.
"""

from __future__ import annotations

import time

import numpy as np

from matloop.loop.context import Context
from matloop.loop.fidelity import Pick, SourceVerdict, source_costs, standing
from matloop.loop.propose import Choice, Planner
from matloop.store import Proposal

CHEAP_PER_TARGET = 10  # a cost-aware cycle's evaluations per source per target one, at most


class SourcePlanner:
    """Chooses the cycles of a multi-fidelity campaign (see the module)."""

    def __init__(self, context: Context, planner: Planner) -> None:
        self.x = context
        self.c = context.campaign
        self.planner = planner

    def choose(self, indices: list[int], values: np.ndarray, available: np.ndarray,
               planned: int, remaining: int, cycle: int, batch_size: int | None = None
               ) -> tuple[Choice, list[Proposal]]:
        """The cycle's choice (as recorded) and its evaluations, at every fidelity;
        ``proposals[k]`` is the pick ``choice.chosen[k]`` while ``k < len(chosen)``.
        ``remaining`` caps the target evaluations; ``batch_size`` replaces the
        campaign's."""
        sources = standing(self.c, self.x.store, self.x.campaign_id)
        paying = [s for s in sources if s.pays.any()]
        batch = batch_size or self.c.loop.batch_size
        if paying and planned >= self.c.loop.initial and len(indices) >= 2:
            from matloop.loop.model import numerical_failures

            try:
                return self.cost_aware(indices, values, remaining, cycle, paying, batch)
            except numerical_failures() as exc:  # the single-fidelity cycle instead
                failed = f"multi-fidelity model failed: {type(exc).__name__}: {exc}"[:300]
                choice, proposals = self.probed(indices, values, available, planned,
                                                remaining, cycle, sources, batch_size)
                choice.strategy = f"{choice.strategy} ({failed})"
                return choice, proposals
        return self.probed(indices, values, available, planned, remaining, cycle, sources,
                           batch_size)

    def probed(self, indices: list[int], values: np.ndarray, available: np.ndarray,
               planned: int, remaining: int, cycle: int, sources: list[SourceVerdict],
               batch_size: int | None = None) -> tuple[Choice, list[Proposal]]:
        """The single-fidelity cycle, each pick also measured by every source that is
        not useless (and has not measured it)."""
        choice = self.planner.choose(indices, values, available, planned, remaining, cycle,
                                     batch_size=batch_size)
        proposals = self.planner.proposals(choice)
        for source in sources:
            if source.useless:
                continue
            done = self.x.store.evaluated_rows(self.x.campaign_id, source.name)
            proposals += [Proposal(p.pool_index, p.key, p.label, source.name)
                          for p in self.planner.proposals(choice)
                          if p.pool_index not in done]
        return choice, proposals

    def cost_aware(self, indices: list[int], values: np.ndarray, remaining: int,
                   cycle: int, paying: list[SourceVerdict], batch: int
                   ) -> tuple[Choice, list[Proposal]]:
        """The multi-fidelity GP over the target and the paying sources, and the
        cost-aware choice of candidate and source."""
        from matloop.loop.acquisition import scores
        from matloop.loop.fidelity import choose_pairs, log_information
        from matloop.loop.model import feasibility_classifier, model_seed
        from matloop.surrogates.multifidelity import MultiFidelityGP

        x, c, features = self.x, self.c, self.x.space.features
        properties = x.targets.properties
        seed = model_seed(c, cycle)
        levels: list[str | None] = [None, *(s.name for s in paying)]
        start = time.perf_counter()
        rows, observed, level = [], [], []
        for k, name in enumerate(levels):
            found_rows, found = x.store.observations(x.campaign_id, properties, name)
            rows += found_rows
            observed += found
            level += [k] * len(found_rows)
        latest = (x.store.latest_hyperparameters(x.campaign_id) or {}).get("multifidelity")
        warm = latest if latest and latest.get("sources") == levels[1:] else None
        surrogate = MultiFidelityGP(x.space.bounds, len(levels), seed=seed, warm_start=warm)
        Y = np.asarray(observed, dtype=float).reshape(len(rows), len(properties))
        surrogate.fit(features[rows], Y, np.asarray(level))
        classifier = feasibility_classifier(c, x.store, x.campaign_id, x.space, seed)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        measured = np.isfinite(values).all(axis=1)
        log_a = scores(c.loop.acquisition, surrogate, features,
                       features[np.asarray(indices)[measured]], values[measured], x.targets,
                       beta=c.loop.beta, incumbent=c.loop.incumbent,
                       reference=x.keeper.reference_point(values, choose=True),
                       success=None if classifier is None else classifier.probability)
        measures = np.vstack([np.ones(len(properties), dtype=bool),
                              *(s.pays for s in paying)])
        log_info = log_information(surrogate, features, measures)
        open_pairs = np.stack([x.untried(name) for name in levels], axis=1)
        costs = source_costs(c, x.store, x.campaign_id)
        level_costs = [float(costs[name] or 0.0) for name in levels]
        picks = choose_pairs(log_a, log_info, open_pairs, level_costs,
                             allowance=batch * level_costs[0],
                             limits=[remaining, *[CHEAP_PER_TARGET * batch]
                                     * len(paying)])
        select_s = time.perf_counter() - start
        return self.recorded(surrogate, picks, levels, fit_s, select_s, classifier)

    def recorded(self, surrogate: object, picks: list[Pick], levels: list[str | None],
                 fit_s: float, select_s: float, classifier: object
                 ) -> tuple[Choice, list[Proposal]]:
        """The choice as a cycle records it, and its proposals."""
        from matloop.loop.acquisition import derive

        x = self.x
        chosen = np.array([p.row for p in picks], dtype=int)
        prediction = surrogate.predict(x.space.features[chosen])  # type: ignore[attr-defined]
        predicted = {"mean": prediction.mean.tolist(), "std": prediction.std.tolist(),
                     "fidelity": [levels[p.fidelity] for p in picks]}
        if x.targets.bounds:
            predicted["hit_probability"] = x.targets.hit_probability(
                prediction.mean, prediction.std).tolist()
        fitted = surrogate.hyperparameters()  # type: ignore[attr-defined]
        hyperparameters = {"multifidelity": {**fitted, "sources": levels[1:]},
                           "correlation": {name: dict(zip(
                               x.targets.properties, (row[k + 1] for row in
                                                      fitted["correlation"]), strict=True))
                               for k, name in enumerate(levels[1:])}}
        if classifier is not None:
            hyperparameters["feasibility"] = classifier.hyperparameters()  # type: ignore[attr-defined]
        strategy = (f"{derive(x.targets, self.c.loop.acquisition)}, multi-fidelity "
                    f"({', '.join(str(n) for n in levels[1:])})")
        pool = x.space.pool
        proposals = [Proposal(p.row, pool.key(p.row), pool.candidate(p.row).label,
                              levels[p.fidelity]) for p in picks]
        return Choice(strategy, chosen, fit_s, select_s, hyperparameters, predicted), \
            proposals
