"""Exact GP marginals for large pools: O(N·n·(n + d)) time, O(chunk·n) memory.

GPyTorch's exact posterior at N points either builds the dense N×N test covariance
(non-batch inputs) or copies the n training points once per test point (inputs shaped
``(N, 1, d)``, as BoTorch's discrete optimiser passes them). Scoring a pool needs only
the marginal mean and variance of each point. So the training covariance is factored
once per model (``PosteriorFactor``: ``R = L⁻ᵀ`` with ``L Lᵀ = K + σ²I``) and each chunk
of the pool costs one kernel block ``K*`` ``(c, n)``, GPyTorch's predictive mean
``m + K* α`` and one matrix product for the variance ``k** − ‖K* R‖²`` (row-wise).

- The kernel block of a plain Matérn-5/2 or squared-exponential kernel (one length scale
  per input; matloop's GP kernels) is evaluated in place in two reused buffers
  (``surrogates.kernel_blocks``); other kernels go through GPyTorch.
- The variance product, the bulk of the work at n ≳ 100, runs in float32 (half the time
  of float64 on this CPU) and skips the zero lower triangle of ``R`` in ``TRIANGLE_BLOCKS``
  column blocks (5/8 of the full product's flops). Rows whose variance comes out below
  ``REFINE`` × their prior variance, where float32 cancellation would show, are
  recomputed in float64 (and, once most rows of a chunk needed that, as with many
  observations, the rest of the pool is computed in float64 directly). The relative
  error of every variance is then below about 5e-4 (it depends on the CPU's float32
  matrix kernels; ``tests/surrogates/test_marginal.py`` compares with GPyTorch's own
  posterior).
- Chunks are sized so that a kernel block stays near 4 MB: fresh large temporaries cost
  more in page faults than in arithmetic.

``PosteriorFactor`` also holds what ``surrogates.bounds`` needs for bounds on the whole
pool's posterior.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.distributions import MultitaskMultivariateNormal, MultivariateNormal
from linear_operator.operators import DiagLinearOperator
from linear_operator.utils.cholesky import psd_safe_cholesky

from matloop.surrogates.kernel_blocks import SinglePrecision, cross_covariance, positive_kernel

BLOCK_ENTRIES = 2**19  # kernel-block entries per chunk (4 MB of float64)
REFINE = 1e-3
TRIANGLE_BLOCKS = 4
SUBSET = 64  # observations of the variance bound (the highest and lowest measured)


@dataclass(frozen=True)
class PosteriorFactor:
    """What every chunk reuses: the model's prediction strategy, its (transformed)
    training inputs ``(n, d)``, ``R = L⁻ᵀ`` ``(n, n)`` in float64 and float32, and the
    cross-covariance ``(x (c, d), out (c, n) buffers) -> K* (c, n)``."""

    strategy: Any  # gpytorch's DefaultPredictionStrategy
    train: torch.Tensor
    root: torch.Tensor
    root32: torch.Tensor
    cross: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    # for marginal_bounds, the observations reordered so that the SUBSET with the highest
    # and lowest training targets come first (their columns of K* then form one block):
    # K* in that order, GPyTorch's mean cache and 1 / Σᵢᵢ (Σ = K + noise) in that order
    # (n,), and R of the subset's Σ (s, s)
    ordered_cross: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    ordered_mean_cache: torch.Tensor
    inverse_diagonal: torch.Tensor
    subset_root: torch.Tensor
    positive: bool  # the kernel is never negative (squared exponential, Matérn)
    single: SinglePrecision | None  # the block in float32 (Matérn-5/2 or RBF kernels)

    @property
    def same_noise(self) -> bool:
        """Whether every observation has the same Σᵢᵢ (a stationary kernel, one noise)."""
        return bool((self.inverse_diagonal == self.inverse_diagonal[0]).all())

    @classmethod
    def of(cls, gp: SingleTaskGP) -> PosteriorFactor:
        gp.eval()
        if gp.prediction_strategy is None:
            with torch.no_grad():
                gp.posterior(gp.train_inputs[0][:1])  # builds GPyTorch's prediction caches
        strategy: Any = gp.prediction_strategy
        with torch.no_grad():
            covariance = strategy.lik_train_train_covar.to_dense()
            lower = psd_safe_cholesky(covariance)
            identity = torch.eye(len(lower), dtype=lower.dtype)
            root = torch.linalg.solve_triangular(lower, identity, upper=False).T.contiguous()
            ranked = gp.train_targets.reshape(-1).argsort()
            subset = torch.cat([ranked[-(SUBSET // 2):], ranked[: SUBSET - SUBSET // 2]]
                               ).unique()  # sorted, each once (n may be below SUBSET)
            rest = torch.ones(len(ranked), dtype=torch.bool)
            rest[subset] = False
            order = torch.cat([subset, rest.nonzero().reshape(-1)])
            subset_lower = psd_safe_cholesky(covariance[subset][:, subset])
            subset_root = torch.linalg.solve_triangular(
                subset_lower, torch.eye(len(subset), dtype=lower.dtype), upper=False).T
        train = gp.train_inputs[0]
        return cls(strategy, train, root, root.float(), cross_covariance(gp, train),
                   cross_covariance(gp, train[order]), strategy.mean_cache[order],
                   1 / covariance.diagonal()[order], subset_root.contiguous(),
                   positive_kernel(gp.covar_module),
                   SinglePrecision.of(gp, train[order], strategy.mean_cache[order],
                                      len(subset)))


def exact_marginals(gp: SingleTaskGP, X: torch.Tensor, factor: PosteriorFactor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and variance ``(N,)`` of the latent function at ``X`` ``(N, d)``,
    in the model's output units (outcome transform undone). ``factor`` (from
    ``PosteriorFactor.of(gp)``) saves refactoring when called repeatedly."""
    factor = factor or PosteriorFactor.of(gp)
    transform = getattr(gp, "outcome_transform", None)
    n = len(factor.train)
    rows = max(256, BLOCK_ENTRIES // max(n, 1))
    out, scratch = (torch.empty(min(rows, len(X)), n, dtype=torch.double) for _ in range(2))
    means, variances = [], []
    precise = False  # float64 throughout once most rows of a chunk needed refining
    with torch.no_grad():
        for start in range(0, len(X), rows):
            x = gp.transform_inputs(X[start : start + rows])
            test_train = factor.cross(x, out, scratch)
            mean = factor.strategy.exact_predictive_mean(gp.mean_module(x), test_train)
            prior = gp.covar_module(x, diag=True)
            variance, refined = _variance(test_train, prior, factor, precise)
            precise = refined > len(x) // 2
            posterior: Any = GPyTorchPosterior(MultivariateNormal(
                mean, DiagLinearOperator(variance.clamp_min(0))))
            if transform is not None:
                posterior = transform.untransform_posterior(posterior)
            means.append(posterior.mean.reshape(-1))
            variances.append(posterior.variance.reshape(-1))
    return torch.cat(means), torch.cat(variances)


def _variance(test_train: torch.Tensor, prior: torch.Tensor, factor: PosteriorFactor,
              precise: bool) -> tuple[torch.Tensor, int]:
    """``k** − ‖K* R‖²`` per row ``(c,)`` and how many rows needed float64: the product
    runs in float32, then in float64 for the rows where it cancels badly (all rows when
    ``precise``)."""
    if precise:
        return prior - _squared_projection(test_train, factor.root), len(prior)
    variance = prior - _squared_projection(test_train.float(), factor.root32)
    close = (variance < REFINE * prior).nonzero().reshape(-1)
    if len(close):
        variance[close] = prior[close] - _squared_projection(test_train[close], factor.root)
    return variance, len(close)


def _squared_projection(test_train: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """``‖K* R‖²`` per row, float64 ``(c,)``, for an upper-triangular ``R`` ``(n, n)``:
    column block ``[s, e)`` of ``K* R`` needs only the first ``e`` columns of ``K*``."""
    n = len(root)
    total = torch.zeros(len(test_train), dtype=torch.double)
    start = 0
    for block in range(1, TRIANGLE_BLOCKS + 1):
        end = n * block // TRIANGLE_BLOCKS
        if end > start:
            product = test_train[:, :end] @ root[:end, start:end]
            total += product.square().sum(-1, dtype=torch.double)
        start = end
    return total


class MarginalGP(Model):
    """An exact ``SingleTaskGP`` (or a ``ModelListGP`` of them) whose single-point
    posteriors (inputs ``(..., 1, d)``) come from ``exact_marginals``; anything else is
    passed to the wrapped model. For analytic acquisitions over large discrete pools.
    The model must not change after wrapping (its factors are cached)."""

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.wrapped = model
        self.members = list(getattr(model, "models", [model]))
        self._factors: list[PosteriorFactor] | None = None

    @property
    def num_outputs(self) -> int:
        return len(self.members)

    def marginals(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and variances ``(N, m)`` at ``X`` ``(N, d)``, one column per member."""
        pairs = [exact_marginals(gp, X, factor)
                 for gp, factor in zip(self.members, self.factors(), strict=True)]
        return (torch.stack([m for m, _ in pairs], dim=-1),
                torch.stack([v for _, v in pairs], dim=-1))

    def factors(self) -> list[PosteriorFactor]:
        """Each member's ``PosteriorFactor`` (made on first use)."""
        if self._factors is None:
            self._factors = [PosteriorFactor.of(gp) for gp in self.members]
        return self._factors

    def posterior(self, X: torch.Tensor, output_indices: Any = None,
                  observation_noise: Any = False, posterior_transform: Any = None,
                  **kwargs: Any) -> Posterior:
        if X.shape[-2] != 1 or observation_noise is not False or output_indices:
            return self.wrapped.posterior(X, output_indices=output_indices,
                                          observation_noise=observation_noise,
                                          posterior_transform=posterior_transform, **kwargs)
        means, variances = self.marginals(X.reshape(-1, X.shape[-1]))
        return single_point_posterior(means, variances, X.shape[:-2], posterior_transform)


def single_point_posterior(means: torch.Tensor, variances: torch.Tensor, batch: torch.Size,
                           posterior_transform: Any = None) -> Posterior:
    """The posterior of independent outputs at single points: ``means`` and
    ``variances`` ``(N, m)``, N = the product of ``batch``, shaped ``batch × 1 × m``."""
    m = means.shape[-1]
    mean, var = means.reshape(*batch, 1, m), variances.reshape(*batch, 1, m)
    if m == 1:
        mvn: MultivariateNormal = MultivariateNormal(mean[..., 0],
                                                     DiagLinearOperator(var[..., 0]))
    else:
        mvn = MultitaskMultivariateNormal(mean, DiagLinearOperator(var.reshape(*batch, -1)),
                                          interleaved=True)
    posterior: Posterior = GPyTorchPosterior(mvn)
    return posterior_transform(posterior) if posterior_transform else posterior
