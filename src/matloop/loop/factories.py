"""BoTorch acquisition functions by name, each built from a ``Problem``:

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
- ``ucb`` — upper confidence bound on the optimised property (no range targets).

Each factory returns the analytic form (one candidate, nothing in flight) or the Monte
Carlo form (batches, pending points); ``ACQUISITIONS`` is the registry.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matloop.campaigns.targets import TargetSet

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models.model import Model
    from botorch.sampling import MCSampler

MC_SAMPLES = 128
MC_BASELINE = 512


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
    # (n, m) Y_train in the model's (warped) units when LogEI improves on the best
    # measured value; None: on the best posterior mean (see incumbent_value)
    observed: torch.Tensor | None = None


AcquisitionFactory = Callable[[Problem, bool], "AcquisitionFunction"]


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


def incumbent_value(problem: Problem) -> float:
    """Best objective value (raw units) among measured candidates that meet every bound,
    by posterior mean (which noise cannot inflate) or, given ``problem.observed``, as
    measured; the worst such value when none meets them yet."""
    import torch

    assert problem.targets.objective is not None
    j, sign = problem.targets.objective
    Y = problem.Y_train
    if problem.observed is not None:
        measured = torch.isfinite(problem.observed[:, j])
        mean, Y = problem.observed[measured, j] * sign, Y[measured]
    else:
        with torch.no_grad():
            posterior: Any = problem.model.posterior(problem.X_train)
            mean = posterior.mean[..., j] * sign
    feasible = torch.as_tensor(problem.targets.hits(Y.numpy()))
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
            problem.model, best_f=incumbent_value(problem), objective_index=j,
            constraints=_bounds_dict(problem.targets), maximize=sign > 0)
    if analytic and m == 1:  # no transform: ensemble posteriors cannot be scalarised
        return LogExpectedImprovement(problem.model, best_f=incumbent_value(problem),
                                      maximize=sign > 0)
    if analytic:
        weights = torch.zeros(m, dtype=torch.double)
        weights[j] = sign
        return LogExpectedImprovement(problem.model, best_f=sign * incumbent_value(problem),
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
