"""Exact pruning of pool acquisitions: most candidates of a large pool cannot reach the
batch, and an upper bound on their score shows it before their variance is computed.

A GP's posterior variance given all n observations is at most its variance given any
subset of them, and its mean lies in an interval that the float32 kernel block's
rounding gives (``surrogates.bounds.marginal_bounds``: O(N·n·d) for the whole pool
where the exact variances cost O(N·n²)). Every analytic acquisition ``select`` prunes is
a product of one term per output whose maximum over the mean's interval and
σ ∈ (0, σ_max] is known: expected improvement and the upper confidence bound grow with
the mean (of a maximised output) and with σ; the probability of a range is largest at
the mean nearest the range's middle and, with the mean inside the range, as σ → 0;
outside it, one-sided, it grows with σ; two-sided it peaks at
``σ*² = (b² − a²) / (2 ln(b / a))`` (a, b: the mean's distances to the near and far
ends), so σ = min(σ*, σ_max).

``BoundingGP`` gives the acquisition a posterior with that mean and σ per output, so the same
BoTorch acquisition scores every candidate's upper bound (plus log P(success), computed
once for the whole pool, where failures weight the acquisition). ``Ranking`` then
computes exact scores best bound first and stops once the next bound cannot reach the
k-th best exact score: the top k, ties broken by pool order, are those of scoring every
candidate. Not pruned: EHVI, an output that is both optimised and bounded, surrogates
other than the exact GP, and models of fewer than ``MIN_OBSERVATIONS`` observations.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from botorch.models.model import Model
from botorch.posteriors import Posterior

from matloop.campaigns.targets import TargetSet
from matloop.surrogates.marginal import single_point_posterior

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction

    from matloop.surrogates.marginal import MarginalGP

PRUNABLE = ("logei", "feasibility", "ucb")
MIN_OBSERVATIONS = 200  # below, pruning saved nothing (benchmarks/overhead.py, N = 10^6)
CHUNK = 65536  # candidates per acquisition call
FIRST = 4096  # candidates scored exactly before the first check
SLACK = 1e-2  # relative margin on the variance bound (the exact path's float32 error)
TOLERANCE = 1e-9  # relative margin on the scores (rounding of the means)


def bounding_model(name: str, model: Model, targets: TargetSet) -> Model | None:
    """A model whose single-point posteriors bound the acquisition ``name`` from above,
    or None when it cannot be pruned (see the module's docstring)."""
    from matloop.surrogates.marginal import MarginalGP

    optimised = {j for j, _ in targets.objectives}
    if type(model) is not MarginalGP or name not in PRUNABLE or optimised & set(targets.bounds):
        return None
    if model.members[0].train_inputs[0].shape[-2] < MIN_OBSERVATIONS:
        return None  # the exact variances cost about what the bounds do
    return BoundingGP(model, targets)


class BoundingGP(Model):
    """The posterior of ``marginal`` at single points (inputs ``(..., 1, d)``) with each
    output's mean and variance where its acquisition term is largest within their
    bounds (an optimised output's mean at its better end, a bounded output's nearest the
    middle of its range); other inputs go to the wrapped model (for incumbents)."""

    def __init__(self, marginal: MarginalGP, targets: TargetSet) -> None:
        super().__init__()
        self.marginal = marginal
        self.ranges = targets.bounds
        self.signs = dict(targets.objectives)

    @property
    def num_outputs(self) -> int:
        return self.marginal.num_outputs

    def bounds(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Bounds on the means (low, high) and on the variances, each ``(N, m)``, at
        ``X`` ``(N, d)`` (``marginal_bounds``), one column per output."""
        from matloop.surrogates.bounds import marginal_bounds

        triples = [marginal_bounds(gp, X, factor) for gp, factor in
                   zip(self.marginal.members, self.marginal.factors(), strict=True)]
        low, high, variance = (torch.stack([t[k] for t in triples], dim=-1) for k in range(3))
        return low, high, variance

    def posterior(self, X: torch.Tensor, output_indices: Any = None,
                  observation_noise: Any = False, posterior_transform: Any = None,
                  **kwargs: Any) -> Posterior:
        if X.shape[-2] != 1 or observation_noise is not False or output_indices:
            return self.marginal.wrapped.posterior(
                X, output_indices=output_indices, observation_noise=observation_noise,
                posterior_transform=posterior_transform, **kwargs)
        low, high, upper = self.bounds(X.reshape(-1, X.shape[-1]))
        means, variances = (low + high) / 2, upper * (1 + SLACK)
        for j, sign in self.signs.items():
            means[:, j] = high[:, j] if sign > 0 else low[:, j]
        for j, (lo, hi) in self.ranges.items():
            means[:, j] = likeliest_mean(low[:, j], high[:, j], lo, hi)
            variances[:, j] = likeliest_variance(means[:, j], variances[:, j], lo, hi)
        return single_point_posterior(means, variances, X.shape[:-2], posterior_transform)


def likeliest_mean(low: torch.Tensor, high: torch.Tensor, lo: float, hi: float
                   ) -> torch.Tensor:
    """The point of each ``[low, high]`` ``(N,)`` nearest the middle of ``[lo, hi]`` (the
    far end of a one-sided range): at any σ, the probability of the range is largest
    there."""
    middle = (lo + hi) / 2 if math.isfinite(lo) and math.isfinite(hi) else \
        (math.inf if math.isfinite(lo) else -math.inf)
    return torch.minimum(torch.maximum(low, torch.full_like(low, middle)), high)


def likeliest_variance(mean: torch.Tensor, upper: torch.Tensor, lo: float, hi: float
                       ) -> torch.Tensor:
    """The variance in ``(0, upper]`` ``(N,)`` at which a normal with ``mean`` ``(N,)``
    is likeliest to fall in ``[lo, hi]``: the smallest inside the range (the probability
    tends to 1; GPyTorch raises any variance to its ``min_variance``, so that one),
    ``upper`` outside a one-sided range, ``min(σ*², upper)`` outside a two-sided one."""
    from gpytorch.settings import min_variance

    smallest = torch.full_like(upper, min_variance.value(upper.dtype))
    inside = (mean >= lo) & (mean <= hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return torch.where(inside, smallest, upper)
    near = torch.minimum((mean - lo).abs(), (mean - hi).abs())
    far = torch.maximum((mean - lo).abs(), (mean - hi).abs())
    peak = (far.square() - near.square()) / (2 * torch.log(far / near))
    outside = torch.minimum(peak.nan_to_num(nan=math.inf), upper).maximum(smallest)
    return torch.where(inside, smallest, outside)


class Ranking:
    """The best candidates of ``pool`` ``(N, d)`` by ``exact`` analytic score, each
    computed only when ``bound`` plus ``offset`` ``(N,)`` (an upper bound on ``exact``;
    the offset: log P(success), known for every candidate) leaves it a chance to enter
    the top k; without ``bound`` every candidate is scored."""

    def __init__(self, exact: AcquisitionFunction, bound: AcquisitionFunction | None,
                 pool: torch.Tensor, offset: torch.Tensor | None = None) -> None:
        self.exact = exact
        self.pool = pool
        n = len(pool)
        if bound is None:
            self.bounds = torch.full((n,), math.inf, dtype=torch.double)
            self.order = torch.arange(n)
        else:
            self.bounds = score(bound, pool) + (0 if offset is None else offset)
            self.order = torch.sort(self.bounds, descending=True, stable=True).indices
        self.scores = torch.full((n,), -math.inf, dtype=torch.double)
        self.scored = 0

    def top(self, k: int) -> torch.Tensor:
        """Pool indices ``(min(k, N),)`` of the k best exact scores, best first (equal
        scores in pool order)."""
        n = len(self.pool)
        k = min(k, n)
        while self.scored < n and not self._settled(k):
            step = max(FIRST, k, self.scored)  # doubling: few checks, little overshoot
            rows = self.order[self.scored : self.scored + step]
            self.scores[rows] = score(self.exact, self.pool[rows])
            self.scored += len(rows)
        done = self.order[: self.scored].sort().values  # pool order: ties stay in it
        best = torch.sort(self.scores[done], descending=True, stable=True).indices
        return done[best[:k]]

    def _settled(self, k: int) -> bool:
        """Whether no unscored candidate's bound reaches the k-th best exact score."""
        if self.scored < k:
            return False
        kth = float(self.scores[self.order[: self.scored]].topk(k).values[-1])
        following = float(self.bounds[self.order[self.scored]])
        return following < kth - TOLERANCE * (1 + abs(kth))

    @property
    def pruned(self) -> int:
        """Candidates whose exact score was never computed."""
        return len(self.pool) - self.scored


def score(acquisition: AcquisitionFunction, pool: torch.Tensor) -> torch.Tensor:
    """``acquisition`` at each row of ``pool`` ``(N, d)`` alone, ``(N,)``."""
    with torch.no_grad():
        return torch.cat([acquisition(chunk.unsqueeze(-2)) for chunk in pool.split(CHUNK)])
