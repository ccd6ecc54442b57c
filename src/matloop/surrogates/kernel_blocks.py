"""The test–train kernel block ``K*`` of matloop's GP kernels, computed in place.

For a plain Matérn-5/2 or squared-exponential kernel (one length scale per input, no
batch or active dimensions) the block is evaluated in two reused buffers
(``matern52_block``, ``rbf_block``): GPyTorch's evaluation allocates about eight
temporaries of the block's size and took 2.5× longer. ``SinglePrecision`` computes it in
float32 with a bound on the rounding, for ``surrogates.bounds``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from botorch.models import SingleTaskGP
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel

EPSILON32 = 2.0**-24  # unit roundoff of float32


@dataclass(frozen=True)
class SinglePrecision:
    """The kernel block ``K*`` in float32 for ``marginal_bounds``, with a bound on its
    error: half the memory traffic of float64, which is what the block costs.

    Rounding analysis (unit roundoff ε = 2⁻²⁴, γₖ = kε / (1 − kε)): the squared scaled
    distance ``‖a‖² + ‖b‖² − 2a·b`` is off by at most ``2γ_{d+4}(‖a‖² + ‖b‖²)``, and both
    kernels' logarithms change by at most 5/6 of a change in r², so each entry has a
    relative error ``η ≤ 2γ_{d+4}(‖a‖² + max ‖b‖²) + 16ε``; the mean ``K* α`` is then off
    by at most ``(η + γₙ + 2ε) Σᵢ k*ᵢ |αᵢ|``, itself computed in float32 (hence the
    factor 2 on γₙ and the 10 % margin in ``mean_error``)."""

    block: Callable[..., torch.Tensor]
    center: torch.Tensor  # (d,) float64
    scale: torch.Tensor  # (d,) float64
    train: torch.Tensor  # (n, d) float32, centred and scaled, in the factor's order
    norms: torch.Tensor  # (n,) float32
    largest_norm: float  # max ‖b‖², float64
    caches: torch.Tensor  # (n, 2) float32: α and |α| in the factor's order
    subset: torch.Tensor  # (s, d) float64: the first s rows of train, exactly

    @classmethod
    def of(cls, gp: SingleTaskGP, train: torch.Tensor, mean_cache: torch.Tensor, s: int
           ) -> SinglePrecision | None:
        found = in_place_block(gp, train)
        if found is None:
            return None
        block, center, scale, scaled = found
        norms = scaled.square().sum(-1)
        return cls(block, center, scale, scaled.float(), norms.float(), float(norms.max()),
                   torch.stack([mean_cache, mean_cache.abs()], -1).float(), scaled[:s])

    def cross(self, x: torch.Tensor, out: torch.Tensor, scratch: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """``K*`` in float32 ``(c, n)`` (in ``out``) for transformed inputs ``x`` ``(c, d)``,
        and each entry's relative error bound η ``(c,)`` (float64)."""
        scaled = (x - self.center) / self.scale
        d = x.shape[-1]
        gamma = (d + 4) * EPSILON32 / (1 - (d + 4) * EPSILON32)
        error = 2 * gamma * (scaled.square().sum(-1) + self.largest_norm) + 16 * EPSILON32
        return self.block(scaled.float(), self.train, self.norms, out, scratch), error

    def subset_block(self, x: torch.Tensor) -> torch.Tensor:
        """The subset's columns of ``K*`` in float64 ``(c, s)``."""
        s = len(self.subset)
        buffers = (torch.empty(len(x), s, dtype=torch.double) for _ in range(2))
        return self.block((x - self.center) / self.scale, self.subset,
                          self.subset.square().sum(-1), *buffers)

    def mean_error(self, relative: torch.Tensor, weighted: torch.Tensor) -> torch.Tensor:
        """The bound on ``|K* α − exact|`` ``(c,)`` from each row's η ``relative`` and its
        ``Σ k*ᵢ |αᵢ|`` as computed, ``weighted``."""
        n = len(self.train)
        gamma = n * EPSILON32 / (1 - n * EPSILON32)
        return 1.1 * (relative + 2 * gamma + 2 * EPSILON32) * weighted


def positive_kernel(kernel: Any) -> bool:
    """Whether ``kernel`` (possibly scaled) is a squared exponential or Matérn kernel."""
    if isinstance(kernel, ScaleKernel):
        return positive_kernel(kernel.base_kernel)
    return isinstance(kernel, (MaternKernel, RBFKernel))


def cross_covariance(gp: SingleTaskGP, train: torch.Tensor
                      ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``K(x, train)`` for transformed inputs ``x`` ``(c, d)``, written into the first of
    two ``(≥ c, n)`` float64 buffers where the kernel allows (Matérn-5/2 or squared
    exponential, one length scale per input, no batch or active dimensions)."""
    found = in_place_block(gp, train)
    if found is None:
        kernel = gp.covar_module
        return lambda x, out, scratch: kernel(x, train).to_dense()
    block, center, scale, train_scaled = found
    train_norms = train_scaled.square().sum(-1)
    return lambda x, out, scratch: block((x - center) / scale, train_scaled, train_norms,
                                         out, scratch)


def in_place_block(gp: SingleTaskGP, train: torch.Tensor) -> tuple[
        Callable[..., torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """For a kernel computed in place (Matérn-5/2 or squared exponential, one length scale
    per input, no batch or active dimensions, float64 inputs): its block function, the
    centre ``(d,)`` and length scales ``(d,)`` inputs are scaled by, and ``train``
    ``(n, d)`` so scaled; None for any other kernel."""
    kernel = gp.covar_module
    block = (matern52_block if type(kernel) is MaternKernel and kernel.nu == 2.5
             else rbf_block if type(kernel) is RBFKernel else None)
    if block is None or not (kernel.active_dims is None and train.dtype == torch.double
                             and kernel.batch_shape == torch.Size([])):
        return None
    with torch.no_grad():
        scale = kernel.lengthscale.detach().reshape(-1)
        center = train.mean(0)
        return block, center, scale, (train - center) / scale


def matern52_block(x: torch.Tensor, train: torch.Tensor, train_norms: torch.Tensor,
                   out: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """Matérn-5/2 ``(1 + √5 r + 5r²/3) exp(−√5 r)`` between length-scaled inputs ``x``
    ``(c, d)`` and ``train`` ``(n, d)`` (squared norms ``train_norms`` ``(n,)``), computed
    in ``out[:c]`` with ``scratch[:c]`` (both ``(≥ c, n)``) and returned ``(c, n)``.
    Distances come from ``‖a‖² + ‖b‖² − 2a·b``, clamped as GPyTorch does."""
    t = torch.addmm(train_norms, x, train.T, beta=1, alpha=-2, out=out[: len(x)])
    t.add_(x.square().sum(-1, keepdim=True)).clamp_min_(1e-30).sqrt_().mul_(math.sqrt(5))
    decay = torch.neg(t, out=scratch[: len(x)]).exp_()
    return t.addcmul_(t, t, value=1 / 3).add_(1).mul_(decay)  # t = √5 r


def rbf_block(x: torch.Tensor, train: torch.Tensor, train_norms: torch.Tensor,
              out: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """Squared exponential ``exp(−r²/2)``, otherwise as ``matern52_block`` (``scratch``
    unused)."""
    r2 = torch.addmm(train_norms, x, train.T, beta=1, alpha=-2, out=out[: len(x)])
    return r2.add_(x.square().sum(-1, keepdim=True)).clamp_min_(0).mul_(-0.5).exp_()
