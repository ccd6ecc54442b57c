"""What every matloop GP shares: its kernel and transforms, and the rows it fits on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MIN_POINTS = 2


def measured_rows(Y: np.ndarray, j: int) -> np.ndarray:
    """Rows of ``Y`` ``(n, m)`` where property j was measured; at least ``MIN_POINTS``."""
    rows = np.flatnonzero(np.isfinite(Y[:, j]))
    if len(rows) < MIN_POINTS:
        raise ValueError(f"property {j} has {len(rows)} measured values; "
                         f"a GP needs at least {MIN_POINTS}")
    return rows


def gp_modules(d: int, bounds: np.ndarray | None, prior: str = "dimension-scaled",
               kernel: str = "rbf", groups: Sequence[Sequence[int]] = ()) -> dict[str, Any]:
    """Kernel, likelihood and transforms of every matloop GP over d features: squared
    exponential (or ``kernel = "matern52"``, Matérn-5/2) with one length scale per feature,
    inputs normalised to ``bounds`` ``(2, d)`` (or to the data when None), outputs standardised.
    ``prior``: ``"dimension-scaled"`` is
    BoTorch's log-normal length-scale prior (median ∝ √d) with its default likelihood;
    ``"gamma"`` the priors BoTorch used before 0.12 (Gamma(3, 6) length scales in a scale
    kernel with a Gamma(2, 0.15) output scale, Gamma(1.1, 0.05) noise).

    ``groups``: one-hot blocks (feature indices) of categorical columns whose options'
    correlations are learnt (``option_kernel.OptionKernel``); the kernel is then the
    product of the one over the other features and one ``OptionKernel`` per block."""
    import torch
    from botorch.models.transforms import Normalize, Standardize

    if kernel not in ("matern52", "rbf"):
        raise ValueError(f"unknown GP kernel {kernel!r}; known: matern52, rbf")
    if prior not in ("dimension-scaled", "gamma"):
        raise ValueError(f"unknown GP prior {prior!r}; known: dimension-scaled, gamma")
    limits = None if bounds is None else torch.as_tensor(bounds, dtype=torch.double)
    modules: dict[str, Any] = {"input_transform": Normalize(d=d, bounds=limits),
                               "outcome_transform": Standardize(m=1)}
    grouped = {i for block in groups for i in block}
    numeric = [i for i in range(d) if i not in grouped]
    parts = [_base_kernel(len(numeric), prior, kernel, numeric if groups else None)
             ] if numeric else []
    if groups:
        from matloop.surrogates.option_kernel import OptionKernel

        parts += [OptionKernel(block) for block in groups]
    if len(parts) == 1:
        covariance = parts[0]
    else:
        from gpytorch.kernels import ProductKernel

        covariance = ProductKernel(*parts)
    if prior == "dimension-scaled":
        modules["covar_module"] = covariance
        return modules
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import ScaleKernel
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import GammaPrior

    modules["covar_module"] = ScaleKernel(covariance, outputscale_prior=GammaPrior(2.0, 0.15))
    modules["likelihood"] = GaussianLikelihood(noise_prior=GammaPrior(1.1, 0.05),
                                               noise_constraint=GreaterThan(1e-4))
    return modules


def _base_kernel(d: int, prior: str, kernel: str, active: Sequence[int] | None) -> Any:
    """The squared-exponential or Matérn-5/2 kernel over d features (``active``: their
    indices, None for all), with ``prior``'s length-scale prior."""
    if prior == "dimension-scaled":
        from botorch.models.utils.gpytorch_modules import (
            get_covar_module_with_dim_scaled_prior,
        )

        return get_covar_module_with_dim_scaled_prior(
            ard_num_dims=d, use_rbf_kernel=kernel == "rbf", active_dims=active)
    from gpytorch.kernels import MaternKernel, RBFKernel
    from gpytorch.priors import GammaPrior

    if kernel == "rbf":
        return RBFKernel(ard_num_dims=d, lengthscale_prior=GammaPrior(3.0, 6.0),
                         active_dims=active)
    return MaternKernel(nu=2.5, ard_num_dims=d, lengthscale_prior=GammaPrior(3.0, 6.0),
                        active_dims=active)


def copy_raw_parameters(model: Any, raw: Mapping[str, Any]) -> bool:
    """Copy the values in ``raw`` (raw parameters by name, as ``named_parameters`` names
    them) into ``model``'s trainable parameters where names and shapes agree; whether
    any was copied (a warm start)."""
    import torch

    copied = False
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            value = raw.get(name) if parameter.requires_grad else None
            if value is not None and np.shape(value) == tuple(parameter.shape):
                parameter.copy_(torch.as_tensor(value, dtype=parameter.dtype))
                copied = True
    return copied
