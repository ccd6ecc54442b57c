"""Acquisition: score the unevaluated pool with BoTorch and pick a batch.

The target set decides the acquisition (``auto``); a name overrides it. What each name
builds (LogEI, EHVI, feasibility, UCB) is in ``factories.py``; ``thompson`` is Thompson
sampling over the pool (``thompson.py``; no range targets).

Where evaluations can fail, ``success`` (P(an evaluation succeeds) from the feasibility
classifier) does two things: candidates below ``min_success`` are skipped (unless no
candidate reaches it), and it multiplies into every log acquisition
(``FeasibilityWeighted``; ``ucb``, not a log acquisition, only gets the filter). The
filter matters because a log acquisition can be exponentially small everywhere the model
is sure (e.g. once the best feasible candidate is found), where no probability factor
would stop the loop from spending its budget on the region that keeps failing.

A single pick is the candidate with the best analytic score. Batches are chosen greedily
over the discrete pool by BoTorch's ``optimize_acqf_discrete``. Large pools: single
candidates are scored through the surrogate's ``marginal_model`` (exact marginals at
O(N·n·(n + d)): the variance needs a solve per point), and for an exact GP only where
an upper bound on their score leaves them a chance (``pruning``: the picks are those of
scoring every candidate); a Monte Carlo batch is chosen among the ``MC_POOL`` candidates
with the best analytic score (the greedy gain of a point never exceeds its own analytic
value, so candidates outside that set rarely matter). If the batch reaches into the
lower half of that shortlist, the shortlist may have been too short: the batch is chosen
again from one four times longer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.targets import TargetSet
from matloop.loop.factories import ACQUISITIONS, AcquisitionFactory, Problem
from matloop.loop.rows import rows_of
from matloop.protocols import Surrogate

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction

    from matloop.loop.pruning import Ranking

MC_CHUNK = 512
MC_POOL = 256


def derive(targets: TargetSet, name: str) -> str:
    """The acquisition for a target set: ``name`` unless it is ``auto``."""
    if name != "auto":
        return name
    return {"thresholds": "feasibility", "single": "logei", "multi": "ehvi"}[targets.kind]


SuccessProbability = Callable[[np.ndarray], np.ndarray]  # features (N, d) -> P (N,)


def select(name: str, surrogate: Surrogate, choices: np.ndarray, X_train: np.ndarray,
           Y_train: np.ndarray, targets: TargetSet, q: int, seed: int,
           X_pending: np.ndarray | None = None, beta: float = 2.0,
           reference: np.ndarray | None = None,
           success: SuccessProbability | None = None, min_success: float = 0.5,
           incumbent: str = "mean", prune: bool = True) -> np.ndarray:
    """Indices into ``choices`` ``(N, d)`` of the q candidates to evaluate next.

    ``X_train`` ``(n, d)`` and ``Y_train`` ``(n, m)`` are the measured candidates'
    features and values (columns in ``targets.properties`` order); ``reference`` ``(k,)``
    is the signed hypervolume reference point of a multi-objective set (inferred from
    ``Y_train`` when None); ``success`` gives P(an evaluation succeeds) for features;
    ``incumbent`` is what LogEI improves on (``factories.incumbent_value``); ``prune``
    False scores every candidate exactly (the same picks, slower: for tests and
    benchmarks).
    """
    probabilities = None if success is None or min_success <= 0 else success(choices)
    if probabilities is not None:
        likely = np.flatnonzero(probabilities >= min_success)
        if 0 < len(likely) < len(choices):
            return likely[_select(name, surrogate, choices[likely], X_train, Y_train,
                                  targets, q, seed, X_pending, beta, reference, success,
                                  probabilities[likely], incumbent, prune)]
    return _select(name, surrogate, choices, X_train, Y_train, targets, q, seed, X_pending,
                   beta, reference, success, probabilities, incumbent, prune)


def _select(name: str, surrogate: Surrogate, choices: np.ndarray, X_train: np.ndarray,
            Y_train: np.ndarray, targets: TargetSet, q: int, seed: int,
            X_pending: np.ndarray | None, beta: float, reference: np.ndarray | None,
            success: SuccessProbability | None, probabilities: np.ndarray | None,
            incumbent: str, prune: bool) -> np.ndarray:
    """``select`` after the filter; ``probabilities`` ``(N,)``: ``success`` at ``choices``
    when the filter computed it (the pruning bounds add its logarithm; computed here
    otherwise, and only when they do)."""
    import torch
    from botorch.optim import optimize_acqf_discrete

    from matloop.loop.pruning import Ranking, bounding_model
    from matloop.loop.weighted import FLOOR

    if derive(targets, name) == "thompson":
        from matloop.loop.thompson import thompson_picks

        return thompson_picks(surrogate, choices, targets, q, seed)
    if derive(targets, name) == "ucb":
        success = probabilities = None
    factory = _weighted(ACQUISITIONS[derive(targets, name)], success)
    q = min(q, len(choices))
    pending = None if X_pending is None or len(X_pending) == 0 else torch.as_tensor(
        X_pending, dtype=torch.double)
    problem = _scoring_problem(surrogate, X_train, Y_train, targets, seed, beta, reference,
                               incumbent)
    pool = torch.as_tensor(choices, dtype=torch.double)

    def ranking() -> Ranking:
        bounding = bounding_model(derive(targets, name), problem.model, targets)
        if not prune or bounding is None:
            return Ranking(factory(problem, True), None, pool)
        bound = ACQUISITIONS[derive(targets, name)](  # its log P(success): the offset
            dataclasses.replace(problem, model=bounding), True)
        if success is None:
            return Ranking(factory(problem, True), bound, pool)
        chances = success(choices) if probabilities is None else probabilities
        offset = torch.as_tensor(np.log(np.clip(chances, FLOOR, None)), dtype=torch.double)
        return Ranking(factory(problem, True), bound, pool, offset)

    with torch.no_grad():
        if q == 1 and pending is None:
            return ranking().top(1).numpy()
        with torch.random.fork_rng():  # BoTorch's baseline pruning draws from torch's RNG
            torch.manual_seed(seed)
            batch = factory(dataclasses.replace(problem, model=surrogate.model,
                                                pending=pending), False)
            if len(pool) <= MC_POOL:
                chosen, _ = optimize_acqf_discrete(batch, q=q, choices=pool,
                                                   max_batch_size=MC_CHUNK, unique=True)
                return rows_of(chosen, pool)
            return _shortlisted_batch(batch, ranking(), pool, q)


def _shortlisted_batch(batch: AcquisitionFunction, ranking: Ranking, pool: torch.Tensor,
                       q: int) -> np.ndarray:
    """Rows of ``pool`` ``(N, d)`` for the greedy ``batch`` acquisition, searched among
    the ``MC_POOL`` best by analytic score (``ranking``), four times as many while the
    batch reaches into the shortlist's lower half."""
    import torch
    from botorch.optim import optimize_acqf_discrete

    size = MC_POOL
    while True:
        ranked = ranking.top(size)
        subset = ranked[:size].sort().values
        chosen, _ = optimize_acqf_discrete(batch, q=q, choices=pool[subset],
                                           max_batch_size=MC_CHUNK, unique=True)
        picks = subset[torch.as_tensor(rows_of(chosen, pool[subset]))]
        deepest = int(torch.isin(ranked[:size], picks).nonzero().max())
        if size >= len(pool) or deepest < size // 2:
            return picks.numpy()
        size *= 4


def scores(name: str, surrogate: Surrogate, choices: np.ndarray, X_train: np.ndarray,
           Y_train: np.ndarray, targets: TargetSet, beta: float = 2.0,
           reference: np.ndarray | None = None,
           success: SuccessProbability | None = None, incumbent: str = "mean"
           ) -> np.ndarray:
    """The single-candidate (analytic) acquisition value of every row of ``choices``,
    shape ``(N,)``; for log acquisitions, the logarithm (plus log P(success) when
    ``success`` is given)."""
    import torch

    from matloop.loop.pruning import score

    analytic = builder(name, surrogate, X_train, Y_train, targets, 0, beta, reference,
                       success, incumbent)(None)
    return score(analytic, torch.as_tensor(choices, dtype=torch.double)).numpy()


def builder(name: str, surrogate: Surrogate, X_train: np.ndarray, Y_train: np.ndarray,
            targets: TargetSet, seed: int, beta: float = 2.0,
            reference: np.ndarray | None = None, success: SuccessProbability | None = None,
            incumbent: str = "mean", differentiable: bool = False
            ) -> Callable[[torch.Tensor | None], AcquisitionFunction]:
    """``build(pending)``: the acquisition ``select`` scores a single pick with — the
    analytic form when ``pending`` ``(p, d)`` is None, else the Monte Carlo form with
    those points pending. ``differentiable``: through the surrogate's own model rather
    than its fast marginals, for gradients (continuous refinement, ``loop.refine``)."""
    import torch

    if derive(targets, name) == "ucb":
        success = None  # not a log acquisition: nothing to multiply
    factory = _weighted(ACQUISITIONS[derive(targets, name)], success)
    problem = _scoring_problem(surrogate, X_train, Y_train, targets, seed, beta, reference,
                               incumbent)
    if differentiable:
        problem = dataclasses.replace(problem, model=surrogate.model)

    def build(pending: torch.Tensor | None) -> AcquisitionFunction:
        if pending is None:
            return factory(problem, True)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return factory(dataclasses.replace(problem, model=surrogate.model,
                                               pending=pending), False)

    return build


def _weighted(factory: AcquisitionFactory,
              success: SuccessProbability | None) -> AcquisitionFactory:
    """``factory`` whose acquisitions are weighted by ``success`` (unchanged when None)."""
    if success is None:
        return factory

    def weighted(problem: Problem, analytic: bool) -> AcquisitionFunction:
        from matloop.loop.weighted import FeasibilityWeighted

        return FeasibilityWeighted(factory(problem, analytic), success)

    return weighted


def _scoring_problem(surrogate: Surrogate, X_train: np.ndarray, Y_train: np.ndarray,
                     targets: TargetSet, seed: int, beta: float,
                     reference: np.ndarray | None, incumbent: str) -> Problem:
    """The problem for single-candidate scores: the fast marginal model, no pending points."""
    import torch

    from matloop.campaigns.pareto import reference_point

    if targets.kind == "multi" and reference is None:
        reference = reference_point(targets, Y_train)
    return Problem(model=getattr(surrogate, "marginal_model", surrogate.model),
                   targets=targets, X_train=torch.as_tensor(X_train, dtype=torch.double),
                   Y_train=torch.as_tensor(Y_train, dtype=torch.double), pending=None,
                   seed=seed, beta=beta,
                   reference=None if reference is None else torch.as_tensor(
                       reference, dtype=torch.double),
                   observed=_model_units(surrogate, Y_train) if incumbent == "observed"
                   else None)


def _model_units(surrogate: Surrogate, Y: np.ndarray) -> torch.Tensor:
    """Values ``(n, m)`` in the units ``surrogate``'s model predicts (a warped GP's warped
    units; as they are for surrogates without a ``model_units``)."""
    import torch

    convert = getattr(surrogate, "model_units", None)
    return torch.as_tensor(Y if convert is None else convert(Y), dtype=torch.double)
