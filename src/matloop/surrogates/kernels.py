"""What every matloop GP shares: its kernel and transforms, and the rows it fits on."""

from __future__ import annotations

from collections.abc import Mapping
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
               kernel: str = "rbf") -> dict[str, Any]:
    """Kernel, likelihood and transforms of every matloop GP over d features: squared
    exponential (or ``kernel = "matern52"``, Matérn-5/2) with one length scale per feature,
    inputs normalised to ``bounds`` ``(2, d)`` (or to the data when None), outputs standardised.
    ``prior``: ``"dimension-scaled"`` is
    BoTorch's log-normal length-scale prior (median ∝ √d) with its default likelihood;
    ``"gamma"`` the priors BoTorch used before 0.12 (Gamma(3, 6) length scales in a scale
    kernel with a Gamma(2, 0.15) output scale, Gamma(1.1, 0.05) noise)."""
    import torch
    from botorch.models.transforms import Normalize, Standardize

    if kernel not in ("matern52", "rbf"):
        raise ValueError(f"unknown GP kernel {kernel!r}; known: matern52, rbf")
    limits = None if bounds is None else torch.as_tensor(bounds, dtype=torch.double)
    modules: dict[str, Any] = {"input_transform": Normalize(d=d, bounds=limits),
                               "outcome_transform": Standardize(m=1)}
    if prior == "gamma":
        from gpytorch.constraints import GreaterThan
        from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel
        from gpytorch.likelihoods import GaussianLikelihood
        from gpytorch.priors import GammaPrior

        base = RBFKernel(ard_num_dims=d, lengthscale_prior=GammaPrior(3.0, 6.0)) \
            if kernel == "rbf" else MaternKernel(nu=2.5, ard_num_dims=d,
                                                 lengthscale_prior=GammaPrior(3.0, 6.0))
        modules["covar_module"] = ScaleKernel(base, outputscale_prior=GammaPrior(2.0, 0.15))
        modules["likelihood"] = GaussianLikelihood(noise_prior=GammaPrior(1.1, 0.05),
                                                   noise_constraint=GreaterThan(1e-4))
        return modules
    if prior != "dimension-scaled":
        raise ValueError(f"unknown GP prior {prior!r}; known: dimension-scaled, gamma")
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

    modules["covar_module"] = get_covar_module_with_dim_scaled_prior(
        ard_num_dims=d, use_rbf_kernel=kernel == "rbf")
    return modules


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
