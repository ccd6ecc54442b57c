"""Bounds on a GP's posterior over a whole pool for a fraction of the exact cost.

Conditioning on fewer observations never lowers a GP's variance, so the variance given
only the closest observation (``k** − k*ᵢ² / Σᵢᵢ``) or only the ``SUBSET`` observations
with the highest and lowest values (a ``(c, s)`` product instead of ``(c, n)`` by
``(n, n)``) bounds the variance given all of them. The mean needs the whole kernel block,
which is memory-bound: it is computed in float32 where the kernel allows, and the
rounding's bound turns the mean into an interval. Exact pruning of pool acquisitions
(``loop.pruning``) is built on ``marginal_bounds``.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.posteriors import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator

from matloop.surrogates.marginal import PosteriorFactor

BOUND_ENTRIES = 2**21  # kernel-block entries per chunk (no n² product: larger chunks)


def marginal_bounds(gp: SingleTaskGP, X: torch.Tensor, factor: PosteriorFactor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bounds on the posterior at ``X`` ``(N, d)`` for O(N·n·d + N·s²) instead of
    O(N·n²): the mean lies in ``[low, high]`` ``(N,)`` and the variance is at most
    ``variance`` ``(N,)`` (the smaller of the variances given the closest observation and
    given ``SUBSET`` of them), all in the model's output units.

    The kernel block is memory-bound: where the kernel allows it is computed in float32
    (``SinglePrecision``), whose rounding widens ``[low, high]`` (by about 10⁻⁴ of
    ``Σ k*ᵢ |αᵢ|``) and shrinks what the variance bound subtracts; the subset's columns
    are recomputed in float64. Otherwise everything is float64 and ``low = high``."""
    factor = factor or PosteriorFactor.of(gp)
    n, s = len(factor.train), len(factor.subset_root)
    single = factor.single if factor.same_noise else None  # a positive kernel's block
    dtype = torch.float if single is not None else torch.double
    rows = max(64, BOUND_ENTRIES // max(n, 1))
    out, scratch = (torch.empty(min(rows, len(X)), n, dtype=dtype) for _ in range(2))
    with torch.no_grad():
        x_all = gp.transform_inputs(X)
        mean = gp.mean_module(x_all).reshape(-1).clone()
        error = torch.zeros(len(X), dtype=torch.double)
        nearest = torch.empty(len(X), dtype=torch.double)
        projected = torch.empty(len(X), dtype=torch.double)
        for start in range(0, len(X), rows):
            end = min(start + rows, len(X))
            x = x_all[start:end]
            if single is not None:
                block, relative = single.cross(x, out, scratch)
                products = (block @ single.caches).double()
                mean[start:end] += products[:, 0]
                error[start:end] = single.mean_error(relative, products[:, 1])
                shrink = (1 - 3 * relative).clamp_min(0)
                nearest[start:end] = block.amax(-1).double().square() * shrink
                subset_block = single.subset_block(x)
            else:
                block = factor.ordered_cross(x, out, scratch)
                mean[start:end] += block @ factor.ordered_mean_cache
                if factor.positive and factor.same_noise:
                    nearest[start:end] = block.amax(-1).square()
                else:
                    nearest[start:end] = (block.square() * factor.inverse_diagonal).amax(-1)
                subset_block = block[:, :s]
            projected[start:end] = (subset_block @ factor.subset_root).square().sum(-1)
        if factor.positive and factor.same_noise:
            nearest.mul_(factor.inverse_diagonal[0])
        variance = gp.covar_module(x_all, diag=True) - torch.maximum(nearest, projected)
        low, high, variance = _output_units(gp, mean - error, mean + error,
                                            variance.clamp_min(0))
    return low, high, variance


def _output_units(gp: SingleTaskGP, low: torch.Tensor, high: torch.Tensor,
                  variance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Latent bounds ``(N,)`` in the model's output units (its outcome transform, which
    is increasing, undone)."""
    transform = getattr(gp, "outcome_transform", None)
    if transform is None:
        return low, high, variance
    out = []
    for mean in (low, high):
        posterior: Any = transform.untransform_posterior(GPyTorchPosterior(
            MultivariateNormal(mean, DiagLinearOperator(variance))))
        out.append((posterior.mean.reshape(-1), posterior.variance.reshape(-1)))
    return out[0][0], out[1][0], out[1][1]
