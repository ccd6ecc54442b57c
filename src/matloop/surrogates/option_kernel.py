"""A learnt covariance between the options of a categorical column.

A categorical column reaches the GP as a one-hot block (``features.categorical``). A
one-hot block under the squared-exponential kernel treats any two different options as
equally unlike. ``OptionKernel`` instead learns the correlation between every pair of
options, the way a multi-task GP learns how tasks relate: GPyTorch's ``IndexKernel``
``B = W Wᵀ + I`` (``W`` of shape ``(options, rank)``, standard normal prior) scaled to
unit diagonal, ``C = D^-½ B D^-½``, read through the one-hot rows,
``k(x, x') = xᵀ C x'``. Two solvents that act alike then share what was measured on
either; two that act oppositely, too.

The unit diagonal leaves the overall scale to the rest of the kernel, and the identity
(instead of a fitted diagonal) makes ``W`` the only parameter of ``C``. With free
scales and diagonals, a product of such kernels can trade one for another at no cost,
and L-BFGS wandered along those directions for about a thousand steps per fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from gpytorch.kernels import IndexKernel, Kernel
from gpytorch.priors import NormalPrior

RANK = 2


class OptionKernel(Kernel):
    """``xᵀ C x'`` over the one-hot block ``block`` (feature indices, one per option) of
    inputs ``(..., n, d)``; ``C`` ``(options, options)`` is the correlation of an
    ``IndexKernel``'s covariance of rank ``min(RANK, options)`` plus the identity."""

    def __init__(self, block: Sequence[int], rank: int = RANK) -> None:
        super().__init__(active_dims=torch.as_tensor(list(block), dtype=torch.long))
        self.index = IndexKernel(num_tasks=len(block), rank=min(rank, len(block)))
        self.index.register_prior("factor_prior", NormalPrior(0.0, 1.0), "covar_factor")
        self.index.var = torch.ones(len(block))
        self.index.raw_var.requires_grad_(False)

    @property
    def correlation(self) -> torch.Tensor:
        """``C`` ``(options, options)``: the options' correlations, dense."""
        B = self.index.covar_matrix.to_dense()
        scale = torch.diagonal(B, dim1=-2, dim2=-1).rsqrt()
        return B * scale.unsqueeze(-1) * scale.unsqueeze(-2)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False,
                last_dim_is_batch: bool = False, **params: object) -> torch.Tensor:
        if last_dim_is_batch:
            raise NotImplementedError("OptionKernel has no batch-per-dimension mode")
        C = self.correlation.to(x1)
        if diag:
            return ((x1 @ C) * x2).sum(-1)
        return x1 @ C @ x2.transpose(-2, -1)
