"""Acquisition: score the unevaluated pool with BoTorch and pick a batch.

The target set decides the acquisition (``auto``); a name overrides it:

- ``logei`` — one optimised property: log expected improvement, weighted by the
  probability of meeting every range target (``LogConstrainedExpectedImprovement``) for a
  single pick, ``qLogNoisyExpectedImprovement`` with the ranges as outcome constraints and
  in-flight candidates as pending points for batches;
- ``ehvi`` — two or more optimised properties: expected hypervolume improvement over the
  measured Pareto front, times the probability of meeting every range target, for a
  single pick (BoTorch's analytic ``ExpectedHypervolumeImprovement``; the product, in log
  form, is what BoTorch lacks); ``qLogNoisyExpectedHypervolumeImprovement`` with the ranges
  as outcome constraints and pending points for batches;
- ``feasibility`` — ranges only (inverse design): log probability that a candidate meets
  every target (``LogProbabilityOfFeasibility``); batches by
  ``qLogProbabilityOfFeasibility`` (joint Monte Carlo, pending points);
- ``ucb`` — upper confidence bound on the optimised property (no range targets);
- ``thompson`` — Thompson sampling over the pool (``thompson.py``; no range targets).

Where evaluations can fail, ``success`` (P(an evaluation succeeds) from the feasibility
classifier) does two things: candidates below ``min_success`` are skipped (unless no
candidate reaches it), and it multiplies into every log acquisition
(``FeasibilityWeighted``; ``ucb``, not a log acquisition, only gets the filter). The
filter matters because a log acquisition can be exponentially small everywhere the model
is sure (e.g. once the best feasible candidate is found), where no probability factor
would stop the loop from spending its budget on the region that keeps failing.

Batches are chosen greedily over the discrete pool by BoTorch's ``optimize_acqf_discrete``.
Large pools: single candidates are scored through the surrogate's ``marginal_model``
(exact marginals at O(N·n·(n + d)): the variance needs a solve per point); a Monte
Carlo batch is chosen among the ``MC_POOL`` candidates with the best analytic score (the
greedy gain of a point never exceeds its own analytic value, so candidates outside that
set rarely matter). If the batch reaches into the lower half of that shortlist, the
shortlist may have been too short: the batch is chosen again from one four times longer.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.campaigns.targets import TargetSet
from matloop.loop.rows import rows_of
from matloop.protocols import Surrogate

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models.model import Model
    from botorch.sampling import MCSampler

ANALYTIC_CHUNK = 65536
MC_CHUNK = 512
MC_SAMPLES = 128
MC_POOL = 256
MC_BASELINE = 512


def derive(targets: TargetSet, name: str) -> str:
    """The acquisition for a target set: ``name`` unless it is ``auto``."""
    if name != "auto":
        return name
    return {"thresholds": "feasibility", "single": "logei", "multi": "ehvi"}[targets.kind]


@dataclass(frozen=True)
class Problem:
    """What an acquisition factory needs: the model, data and targets as tensors."""

    model: Model
    targets: TargetSet
    X_train: torch.Tensor  # (n, d) measured candidates
    Y_train: torch.Tensor  # (n, m) their values, NaN where unmeasured
    pending: torch.Tensor | None
    seed: int
    beta: float
    reference: torch.Tensor | None = None  # (k,) signed hypervolume reference point
    incumbent: str = "mean"  # what LogEI improves on: "mean" or "observed" (see _incumbent)
    Y_model: torch.Tensor | None = None  # (n, m) Y_train in the model's (warped) units


AcquisitionFactory = Callable[[Problem, bool], "AcquisitionFunction"]
SuccessProbability = Callable[[np.ndarray], np.ndarray]  # features (N, d) -> P (N,)


def select(name: str, surrogate: Surrogate, choices: np.ndarray, X_train: np.ndarray,
           Y_train: np.ndarray, targets: TargetSet, q: int, seed: int,
           X_pending: np.ndarray | None = None, beta: float = 2.0,
           reference: np.ndarray | None = None,
           success: SuccessProbability | None = None, min_success: float = 0.5,
           incumbent: str = "mean") -> np.ndarray:
    """Indices into ``choices`` ``(N, d)`` of the q candidates to evaluate next.

    ``X_train`` ``(n, d)`` and ``Y_train`` ``(n, m)`` are the measured candidates'
    features and values (columns in ``targets.properties`` order); ``reference`` ``(k,)``
    is the signed hypervolume reference point of a multi-objective set (inferred from
    ``Y_train`` when None); ``success`` gives P(an evaluation succeeds) for features;
    ``incumbent`` is what LogEI improves on (``_incumbent``).
    """
    import torch
    from botorch.optim import optimize_acqf_discrete

    if success is not None and min_success > 0:
        likely = np.flatnonzero(success(choices) >= min_success)
        if 0 < len(likely) < len(choices):
            return likely[select(name, surrogate, choices[likely], X_train, Y_train, targets,
                                 q, seed, X_pending, beta, reference, success, 0.0,
                                 incumbent)]
    if derive(targets, name) == "thompson":
        from matloop.loop.thompson import thompson_picks

        return thompson_picks(surrogate, choices, targets, q, seed)
    if derive(targets, name) == "ucb":
        success = None
    factory = _weighted(ACQUISITIONS[derive(targets, name)], success)
    q = min(q, len(choices))
    pending = None if X_pending is None or len(X_pending) == 0 else torch.as_tensor(
        X_pending, dtype=torch.double)
    problem = _scoring_problem(surrogate, X_train, Y_train, targets, seed, beta, reference,
                               incumbent)
    pool = torch.as_tensor(choices, dtype=torch.double)
    analytic = factory(problem, True)
    with torch.no_grad():
        if q == 1 and pending is None:
            chosen, _ = optimize_acqf_discrete(analytic, q=1, choices=pool,
                                               max_batch_size=ANALYTIC_CHUNK)
            return rows_of(chosen, pool)
        with torch.random.fork_rng():  # BoTorch's baseline pruning draws from torch's RNG
            torch.manual_seed(seed)
            batch = factory(dataclasses.replace(problem, model=surrogate.model,
                                                pending=pending), False)
            if len(pool) <= MC_POOL:
                chosen, _ = optimize_acqf_discrete(batch, q=q, choices=pool,
                                                   max_batch_size=MC_CHUNK, unique=True)
                return rows_of(chosen, pool)
            return _shortlisted_batch(batch, _scores(analytic, pool), pool, q)


def _shortlisted_batch(batch: AcquisitionFunction, analytic: torch.Tensor,
                       pool: torch.Tensor, q: int) -> np.ndarray:
    """Rows of ``pool`` ``(N, d)`` for the greedy ``batch`` acquisition, searched among
    the ``MC_POOL`` best by ``analytic`` score ``(N,)``, four times as many while the
    batch reaches into the shortlist's lower half."""
    import torch
    from botorch.optim import optimize_acqf_discrete

    ranked = analytic.argsort(descending=True)
    size = MC_POOL
    while True:
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

    if derive(targets, name) == "ucb":
        success = None  # not a log acquisition: nothing to multiply
    problem = _scoring_problem(surrogate, X_train, Y_train, targets, 0, beta, reference,
                               incumbent)
    analytic = _weighted(ACQUISITIONS[derive(targets, name)], success)(problem, True)
    return _scores(analytic, torch.as_tensor(choices, dtype=torch.double)).numpy()


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
                       reference, dtype=torch.double), incumbent=incumbent,
                   Y_model=_model_units(surrogate, Y_train) if incumbent == "observed" else None)


def _model_units(surrogate: Surrogate, Y: np.ndarray) -> torch.Tensor:
    """Values ``(n, m)`` in the units ``surrogate``'s model predicts (a warped GP's warped
    units; as they are for surrogates without a ``model_units``)."""
    import torch

    convert = getattr(surrogate, "model_units", None)
    return torch.as_tensor(Y if convert is None else convert(Y), dtype=torch.double)


def _scores(acquisition: AcquisitionFunction, pool: torch.Tensor) -> torch.Tensor:
    import torch

    with torch.no_grad():
        return torch.cat([acquisition(chunk.unsqueeze(-2))
                          for chunk in pool.split(ANALYTIC_CHUNK)])


def _bounds_dict(targets: TargetSet) -> dict[int, tuple[float | None, float | None]]:
    return {j: (lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None)
            for j, (lo, hi) in targets.bounds.items()}


def _constraint_callables(targets: TargetSet) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """BoTorch outcome constraints (feasible where the callable is ≤ 0) for every bound."""
    constraints: list[Callable[[torch.Tensor], torch.Tensor]] = []
    for j, (lo, hi) in targets.bounds.items():
        if math.isfinite(lo):
            constraints.append(functools.partial(_below_is_violation, j=j, lo=lo))
        if math.isfinite(hi):
            constraints.append(functools.partial(_above_is_violation, j=j, hi=hi))
    return constraints


def _below_is_violation(Z: torch.Tensor, j: int, lo: float) -> torch.Tensor:
    return lo - Z[..., j]


def _above_is_violation(Z: torch.Tensor, j: int, hi: float) -> torch.Tensor:
    return Z[..., j] - hi


def _signed_output(Z: torch.Tensor, X: torch.Tensor | None = None, j: int = 0,
                   sign: float = 1.0) -> torch.Tensor:
    return sign * Z[..., j]


def _sampler(problem: Problem) -> MCSampler:
    """Quasi-random normal samples for a GP; samples of members for an ensemble."""
    import torch
    from botorch.models.ensemble import EnsembleModel
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.sampling.index_sampler import IndexSampler

    if isinstance(problem.model, EnsembleModel):
        return IndexSampler(torch.Size([MC_SAMPLES]), seed=problem.seed)
    return SobolQMCNormalSampler(torch.Size([MC_SAMPLES]), seed=problem.seed)


def _incumbent(problem: Problem) -> float:
    """Best objective value (raw units) among measured candidates that meet every bound,
    by posterior mean (``incumbent = "mean"``, which noise cannot inflate) or as measured
    (``"observed"``); the worst such value when none meets them yet."""
    import torch

    assert problem.targets.objective is not None
    j, sign = problem.targets.objective
    if problem.incumbent == "observed":
        values = problem.Y_train if problem.Y_model is None else problem.Y_model
        measured = torch.isfinite(values[:, j])
        problem = dataclasses.replace(problem, X_train=problem.X_train[measured],
                                      Y_train=problem.Y_train[measured])
        mean = values[measured, j] * sign
    else:
        with torch.no_grad():
            posterior: Any = problem.model.posterior(problem.X_train)
            mean = posterior.mean[..., j] * sign
    feasible = torch.as_tensor(problem.targets.hits(problem.Y_train.numpy()))
    if problem.targets.bounds and feasible.any():
        return float(mean[feasible].max() * sign)
    if problem.targets.bounds:
        return float(mean.min() * sign)
    return float(mean.max() * sign)


def _log_ei(problem: Problem, analytic: bool) -> AcquisitionFunction:
    import torch
    from botorch.acquisition import LogExpectedImprovement, qLogNoisyExpectedImprovement
    from botorch.acquisition.analytic import LogConstrainedExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective, ScalarizedPosteriorTransform

    if problem.targets.objective is None:
        raise ValueError("'logei' needs a maximize/minimize target; use 'feasibility'")
    j, sign = problem.targets.objective
    m = len(problem.targets.properties)
    if analytic and problem.targets.bounds:
        return LogConstrainedExpectedImprovement(
            problem.model, best_f=_incumbent(problem), objective_index=j,
            constraints=_bounds_dict(problem.targets), maximize=sign > 0)
    if analytic and m == 1:  # no transform: ensemble posteriors cannot be scalarised
        return LogExpectedImprovement(problem.model, best_f=_incumbent(problem),
                                      maximize=sign > 0)
    if analytic:
        weights = torch.zeros(m, dtype=torch.double)
        weights[j] = sign
        return LogExpectedImprovement(problem.model, best_f=sign * _incumbent(problem),
                                      posterior_transform=ScalarizedPosteriorTransform(weights))
    return qLogNoisyExpectedImprovement(
        problem.model, X_baseline=_baseline(problem),
        objective=GenericMCObjective(functools.partial(_signed_output, j=j, sign=sign)),
        constraints=_constraint_callables(problem.targets) or None,
        X_pending=problem.pending, sampler=_sampler(problem), prune_baseline=True)


def _baseline(problem: Problem) -> torch.Tensor:
    """The measured inputs ``(≤ 2·MC_BASELINE, d)`` a batch's improvement is measured
    against: all of them when there are at most ``MC_BASELINE``, else the ``MC_BASELINE``
    best by posterior mean of the objective and as many of the measured hits of every
    range. BoTorch prunes its baseline by sampling the joint posterior there, an n × n
    Cholesky factor per draw (12 s of a 23 s batch at n = 5,000), while a candidate far
    down that ranking is practically never the incumbent."""
    import torch

    X = problem.X_train
    if len(X) <= MC_BASELINE:
        return X
    assert problem.targets.objective is not None
    j, sign = problem.targets.objective
    with torch.no_grad():
        posterior: Any = problem.model.posterior(X)  # the covariance stays lazy
        mean = posterior.mean[..., j] * sign
    keep = torch.topk(mean, MC_BASELINE).indices
    if problem.targets.bounds:
        hits = torch.as_tensor(problem.targets.hits(problem.Y_train.numpy())).nonzero()[:, 0]
        best_hits = hits[torch.topk(mean[hits], min(MC_BASELINE, len(hits))).indices]
        keep = torch.cat([keep, best_hits]).unique()
    return X[keep.sort().values]


def _feasibility(problem: Problem, analytic: bool) -> AcquisitionFunction:
    from botorch.acquisition.analytic import LogProbabilityOfFeasibility
    from botorch.acquisition.logei import qLogProbabilityOfFeasibility

    if not problem.targets.bounds:
        raise ValueError("'feasibility' needs range targets (above/below/between/near)")
    if analytic:
        return LogProbabilityOfFeasibility(problem.model, _bounds_dict(problem.targets))
    return qLogProbabilityOfFeasibility(
        problem.model, constraints=_constraint_callables(problem.targets),
        X_pending=problem.pending, sampler=_sampler(problem))


def _ucb(problem: Problem, analytic: bool) -> AcquisitionFunction:
    from botorch.acquisition import UpperConfidenceBound, qUpperConfidenceBound
    from botorch.acquisition.objective import GenericMCObjective

    if problem.targets.objective is None or problem.targets.bounds:
        raise ValueError("'ucb' needs one maximize/minimize target and no range targets")
    j, sign = problem.targets.objective  # the only property: no range targets
    if analytic:
        return UpperConfidenceBound(problem.model, beta=problem.beta, maximize=sign > 0)
    return qUpperConfidenceBound(
        problem.model, beta=problem.beta,
        objective=GenericMCObjective(functools.partial(_signed_output, j=j, sign=sign)),
        X_pending=problem.pending, sampler=_sampler(problem))


def _ehvi(problem: Problem, analytic: bool) -> AcquisitionFunction:
    import torch
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import WeightedMCMultiOutputObjective

    targets = problem.targets
    if targets.kind != "multi" or problem.reference is None:
        raise ValueError("'ehvi' needs two or more maximize/minimize targets and a "
                         "reference point")
    indices = [j for j, _ in targets.objectives]
    signs = torch.tensor([sign for _, sign in targets.objectives], dtype=torch.double)
    if analytic:
        from matloop.loop.ehvi import LogConstrainedEHVI

        feasibility = _feasibility(problem, True) if targets.bounds else None
        Y = problem.Y_train.numpy()
        front = torch.as_tensor(targets.signed_objectives(Y)[targets.pareto(Y)])
        return LogConstrainedEHVI(problem.model, problem.reference, front, indices, signs,
                                  feasibility)
    return qLogNoisyExpectedHypervolumeImprovement(
        problem.model, ref_point=problem.reference, X_baseline=problem.X_train,
        objective=WeightedMCMultiOutputObjective(signs, outcomes=indices),
        constraints=_constraint_callables(targets) or None, X_pending=problem.pending,
        sampler=_sampler(problem), prune_baseline=True)


ACQUISITIONS: dict[str, AcquisitionFactory] = {
    "logei": _log_ei,
    "ehvi": _ehvi,
    "feasibility": _feasibility,
    "ucb": _ucb,
}
