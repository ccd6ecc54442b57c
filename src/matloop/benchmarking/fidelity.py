"""Replaying a two-fidelity campaign on tables of known answers.

A ``FidelityProblem`` holds a pool's features and, per candidate, the values of the
target fidelity (e.g. DFT moduli) and of one cheaper source (e.g. an ML potential), with
their costs. ``replay`` runs one strategy for one seed and returns every evaluation in
the order it was made, with the cost spent so far:

- ``single``: the target fidelity only — matloop's default loop (farthest-point initial
  design, GP, the target set's acquisition, batches of ``batch``);
- ``multi``: both fidelities — the initial design measured at both; then, while the
  cheap source has not shown that it pays for itself (``loop.fidelity.verdicts``), the
  ``single`` cycle with each pick also measured cheaply (a probe: the evidence), and
  once it has, the multi-fidelity GP (``surrogates.multifidelity``) and the cost-aware
  choice of candidate and fidelity (``loop.fidelity``), spending ``batch`` target
  evaluations' cost per cycle on at most ``CHEAP_PER_TARGET * batch`` cheap evaluations
  and the rest;
- ``funnel``: trust the cheap source — screen the whole pool with it, then measure at the
  target fidelity in the order of its values (``funnel_order``), ``batch`` at a time.

Hits count at the target fidelity only. Costs are per evaluation in one unit (seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.campaigns.targets import TargetSet

if TYPE_CHECKING:
    from matloop.loop.fidelity import Pick

STRATEGIES = ("single", "multi", "funnel")


@dataclass(frozen=True)
class FidelityProblem:
    """``features`` ``(N, d)``, ``bounds`` ``(2, d)``; ``target`` and ``cheap`` ``(N, m)``
    values of ``targets.properties`` at the target fidelity and from the cheap source
    (NaN: that evaluation fails); ``costs`` = (target, cheap) per evaluation."""

    features: np.ndarray
    bounds: np.ndarray
    target: np.ndarray
    cheap: np.ndarray
    costs: tuple[float, float]
    targets: TargetSet

    @property
    def hits(self) -> np.ndarray:
        """``(N,)`` bool: candidates whose target-fidelity values meet the target set."""
        return self.targets.hits(self.target)


@dataclass(frozen=True)
class Trace:
    """Evaluations in order: pool ``rows``, ``fidelity`` (0 target, 1 cheap), whether
    each was a target-fidelity hit, and the cumulative ``cost`` after each;
    ``correlation`` ``(m, 2)``: the last multi-fidelity model's learnt correlations
    (None when none was fitted)."""

    rows: np.ndarray
    fidelity: np.ndarray
    hit: np.ndarray
    cost: np.ndarray
    correlation: list[list[float]] | None = None

    def to_hits(self, k: int) -> tuple[float, float]:
        """(target evaluations, cost) spent when the k-th hit was found; (inf, inf)
        if it never was."""
        top = self.fidelity == 0
        found = np.cumsum(self.hit & top)
        reached = np.flatnonzero(found >= k)
        if not len(reached):
            return math.inf, math.inf
        at = int(reached[0])
        return float(np.count_nonzero(top[:at + 1])), float(self.cost[at])


def funnel_order(targets: TargetSet, values: np.ndarray) -> np.ndarray:
    """Pool rows best first by ``values`` ``(N, m)`` taken at face value: a single
    objective by its signed value; a target set by its worst relative margin over the
    bounds (positive when every bound is met); failed rows (NaN) last."""
    from matloop.campaigns.targets import goodness

    if targets.objectives:
        j, _ = targets.objectives[0]
        score = goodness(targets, j, values[:, j])
    else:
        margins = []
        for j, (lo, hi) in targets.bounds.items():
            scale_lo = abs(lo) if math.isfinite(lo) and lo else 1.0
            scale_hi = abs(hi) if math.isfinite(hi) and hi else 1.0
            low = (values[:, j] - lo) / scale_lo if math.isfinite(lo) else np.inf
            high = (hi - values[:, j]) / scale_hi if math.isfinite(hi) else np.inf
            margins.append(np.minimum(low, high))
        score = np.min(np.stack(margins), axis=0)
    score = np.where(np.isfinite(score), score, -np.inf)
    return np.argsort(-score, kind="stable")


def replay(problem: FidelityProblem, strategy: str, seed: int, initial: int = 6,
           batch: int = 5, hits_wanted: int = 20, max_target: int = 300) -> Trace:
    """One seed of ``strategy``, until ``hits_wanted`` hits or ``max_target`` target
    evaluations (or the pool is spent)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    state = _State(problem)
    if strategy == "funnel":
        state.evaluate(np.arange(len(problem.features)), 1)
        order = funnel_order(problem.targets, problem.cheap)
        for start in range(0, len(problem.features), batch):
            if state.done(hits_wanted, max_target):
                break
            state.evaluate(order[start:start + batch], 0)
        return state.trace()
    from matloop.loop.initial import initial_design

    first = initial_design("farthest", problem.features, state.open[:, 0], initial, seed, 0)
    state.evaluate(first, 0)
    if strategy == "multi":
        state.evaluate(first, 1)
    warm = None
    cycle = 1
    while not state.done(hits_wanted, max_target) and state.open[:, 0].any():
        if strategy == "single":
            state.evaluate(_single_cycle(problem, state, batch, seed, cycle), 0)
        else:
            picks, warm = _multi_cycle(problem, state, batch, seed, cycle, warm)
            for pick in picks:
                state.evaluate(np.array([pick.row]), pick.fidelity)
        cycle += 1
    return state.trace(None if warm is None else warm["correlation"])


class _State:
    """What a replay has measured so far, and the order it did."""

    def __init__(self, problem: FidelityProblem) -> None:
        self.p = problem
        self.open = np.ones((len(problem.features), 2), dtype=bool)
        self.rows: list[int] = []
        self.levels: list[int] = []

    def evaluate(self, rows: np.ndarray, level: int) -> None:
        for row in np.asarray(rows, dtype=int):
            if self.open[row, level]:
                self.open[row, level] = False
                self.rows.append(int(row))
                self.levels.append(level)

    def measured(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows measured at ``level`` and their values ``(n, m)`` (NaN: failed)."""
        rows = np.array([r for r, lv in zip(self.rows, self.levels, strict=True)
                         if lv == level], dtype=int)
        values = self.p.target if level == 0 else self.p.cheap
        return rows, values[rows]

    def done(self, hits_wanted: int, max_target: int) -> bool:
        rows, _ = self.measured(0)
        return (int(self.p.hits[rows].sum()) >= hits_wanted) or len(rows) >= max_target

    def trace(self, correlation: list[list[float]] | None = None) -> Trace:
        rows = np.array(self.rows, dtype=int)
        levels = np.array(self.levels, dtype=int)
        costs = np.array(self.p.costs)[levels]
        return Trace(rows, levels, self.p.hits[rows] & (levels == 0), np.cumsum(costs),
                     correlation)


def _single_cycle(problem: FidelityProblem, state: _State, batch: int, seed: int,
                  cycle: int) -> np.ndarray:
    from matloop.loop.acquisition import select
    from matloop.surrogates import make_surrogate

    rows, values = state.measured(0)
    keep = np.isfinite(values).all(axis=1)
    surrogate = make_surrogate("gp", bounds=problem.bounds, seed=seed * 1_000_003 + cycle)
    surrogate.fit(problem.features[rows[keep]], values[keep])
    choices = np.flatnonzero(state.open[:, 0])
    picked = select("auto", surrogate, problem.features[choices],
                    problem.features[rows[keep]], values[keep], problem.targets,
                    batch, seed=seed * 1_000_003 + cycle)
    return choices[picked]


def _multi_cycle(problem: FidelityProblem, state: _State, batch: int, seed: int, cycle: int,
                 warm: dict[str, Any] | None
                 ) -> tuple[list[Pick], dict[str, Any] | None]:
    """One multi-fidelity cycle: while the cheap source has not shown that it pays
    (``loop.fidelity.verdicts``), the single-fidelity cycle plus a cheap probe of each
    pick (none once it is shown useless); once it pays, the multi-fidelity GP and the
    cost-aware choice. Returns the picks and the multi-fidelity fit (for warm starts)."""
    from matloop.loop.fidelity import PAYS, USELESS, Pick, verdicts

    top_rows, _ = state.measured(0)
    cheap_rows, _ = state.measured(1)
    both = np.intersect1d(top_rows, cheap_rows)
    found = verdicts(problem.target[both], problem.cheap[both],
                     problem.costs[1] / problem.costs[0])
    pays = np.array([v == PAYS for v in found])
    if not pays.any():
        chosen = _single_cycle(problem, state, batch, seed, cycle)
        probes = [] if all(v == USELESS for v in found) else [Pick(int(r), 1) for r in chosen]
        return [Pick(int(r), 0) for r in chosen] + probes, warm
    return _cost_aware_cycle(problem, state, batch, seed, cycle, warm, pays)


def _cost_aware_cycle(problem: FidelityProblem, state: _State, batch: int, seed: int,
                      cycle: int, warm: dict[str, Any] | None, pays: np.ndarray
                      ) -> tuple[list[Pick], dict[str, Any]]:
    from matloop.loop.acquisition import scores
    from matloop.loop.fidelity import choose_pairs, log_information
    from matloop.loop.sources import CHEAP_PER_TARGET
    from matloop.surrogates.multifidelity import MultiFidelityGP

    top_rows, top_values = state.measured(0)
    cheap_rows, cheap_values = state.measured(1)
    rows = np.concatenate([top_rows, cheap_rows])
    values = np.vstack([top_values, cheap_values])
    level = np.concatenate([np.zeros(len(top_rows), int), np.ones(len(cheap_rows), int)])
    keep = np.isfinite(values).any(axis=1)
    surrogate = MultiFidelityGP(problem.bounds, 2, seed=seed * 1_000_003 + cycle,
                                warm_start=warm)
    surrogate.fit(problem.features[rows[keep]], values[keep], level[keep])
    measured = np.isfinite(top_values).all(axis=1)
    log_a = scores("auto", surrogate, problem.features, problem.features[top_rows[measured]],
                   top_values[measured], problem.targets)
    log_info = log_information(surrogate, problem.features,
                               np.vstack([np.ones_like(pays), pays]))
    picks = choose_pairs(log_a, log_info, state.open, problem.costs,
                         allowance=batch * problem.costs[0],
                         limits=(None, CHEAP_PER_TARGET * batch))
    return picks, surrogate.hyperparameters()
