"""Exact Gaussian process surrogate: one BoTorch ``SingleTaskGP`` per property.

Matérn-5/2 kernel with one length scale per feature (BoTorch's dimension-scaled
log-normal length-scale prior), inputs normalised to the pool's bounds, outputs
standardised. Each property is fitted on the rows where it was measured, so an
evaluation that returned only some properties still teaches the others nothing wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from matloop.protocols import Prediction

if TYPE_CHECKING:
    from botorch.models.model import Model

MIN_POINTS = 2


@dataclass
class GaussianProcess:
    """Exact GP surrogate for m properties over d features.

    ``bounds`` ``(2, d)`` are the feature bounds used to normalise inputs (the pool's,
    so that normalisation does not drift as data arrive); ``seed`` fixes the fit.
    ``warm_start`` is a previous fit's ``hyperparameters()``: its raw parameters start the
    optimiser (a few times fewer iterations when one point was added).
    """

    bounds: np.ndarray | None = None
    seed: int = 0
    warm_start: Mapping[str, Any] | None = None
    _model: Model | None = field(default=None, init=False, repr=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        """Fit on features ``(n, d)`` and values ``(n, m)``; NaN marks unmeasured."""
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import ModelListGP, SingleTaskGP
        from botorch.models.transforms import Normalize, Standardize
        from botorch.models.utils.gpytorch_modules import (
            get_covar_module_with_dim_scaled_prior,
        )
        from gpytorch.mlls import ExactMarginalLogLikelihood

        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
        d = X.shape[1]
        bounds = None if self.bounds is None else torch.as_tensor(self.bounds, dtype=torch.double)
        torch.manual_seed(self.seed)
        models = []
        for j in range(Y.shape[1]):
            rows = np.isfinite(Y[:, j])
            if rows.sum() < MIN_POINTS:
                raise ValueError(f"property {j} has {int(rows.sum())} measured values; "
                                 f"a GP needs at least {MIN_POINTS}")
            gp = SingleTaskGP(
                torch.as_tensor(X[rows], dtype=torch.double),
                torch.as_tensor(Y[rows, j : j + 1], dtype=torch.double),
                covar_module=get_covar_module_with_dim_scaled_prior(ard_num_dims=d,
                                                                    use_rbf_kernel=False),
                input_transform=Normalize(d=d, bounds=bounds),
                outcome_transform=Standardize(m=1),
            )
            self._start_from_previous(gp, j)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            models.append(gp)
        self._model = models[0] if len(models) == 1 else ModelListGP(*models)
        return self

    def _start_from_previous(self, gp: Model, j: int) -> None:
        import torch

        raw = (self.warm_start or {}).get("raw") or []
        if j >= len(raw):
            return
        with torch.no_grad():
            for name, parameter in gp.named_parameters():
                value = raw[j].get(name)
                if value is not None and np.shape(value) == tuple(parameter.shape):
                    parameter.copy_(torch.as_tensor(value, dtype=parameter.dtype))

    @property
    def model(self) -> Model:
        if self._model is None:
            raise RuntimeError("the GP has not been fitted yet: call fit(X, Y) first")
        return self._model

    @property
    def marginal_model(self) -> Model:
        """The model for scoring single candidates over large pools (same numbers, faster)."""
        from matloop.surrogates.marginal import MarginalGP

        return MarginalGP(self.model)

    def predict(self, X: np.ndarray) -> Prediction:
        """Posterior mean and std ``(n, m)`` of the latent function."""
        import torch

        from matloop.surrogates.marginal import exact_marginals

        members = getattr(self.model, "models", [self.model])
        X_tensor = torch.as_tensor(X, dtype=torch.double)
        pairs = [exact_marginals(gp, X_tensor) for gp in members]
        return Prediction(mean=torch.stack([m for m, _ in pairs], dim=1).numpy(),
                          std=torch.stack([v for _, v in pairs], dim=1).sqrt().numpy())

    def hyperparameters(self) -> dict[str, Any]:
        """Per property: length scales (normalised feature units), noise variance (in
        standardised units) and the raw parameters (to warm-start the next fit)."""
        models = getattr(self.model, "models", [self.model])
        return {
            "lengthscales": [m.covar_module.lengthscale.detach().reshape(-1).tolist()
                             for m in models],
            "noise": [float(m.likelihood.noise.detach().reshape(-1)[0]) for m in models],
            "raw": [{name: p.detach().tolist() for name, p in m.named_parameters()}
                    for m in models],
        }
