"""Exact GP marginals for large pools, in O(N·n·(n + d)) time and O(N·n) memory.

GPyTorch's exact posterior at N points either builds the dense N×N test covariance
(non-batch inputs) or copies the n training points once per test point (inputs shaped
``(N, 1, d)``, as BoTorch's discrete optimiser passes them). Scoring a pool needs only
the marginal mean and variance of each point, so this module hands GPyTorch's own
prediction strategy the test-train kernel block and the kernel's diagonal instead:
the numbers are the same, the cost one matrix product.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.distributions import MultitaskMultivariateNormal, MultivariateNormal
from linear_operator.operators import DiagLinearOperator

CHUNK = 32768


def exact_marginals(gp: SingleTaskGP, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and variance ``(N,)`` of the latent function at ``X`` ``(N, d)``,
    in the model's output units (outcome transform undone)."""
    gp.eval()
    if gp.prediction_strategy is None:
        gp.posterior(X[:1])  # builds GPyTorch's prediction caches
    strategy: Any = gp.prediction_strategy  # gpytorch's DefaultPredictionStrategy
    train = gp.train_inputs[0]
    transform = getattr(gp, "outcome_transform", None)
    means, variances = [], []
    with torch.no_grad():
        for start in range(0, len(X), CHUNK):
            x = gp.transform_inputs(X[start : start + CHUNK])
            test_train = gp.covar_module(x, train).to_dense()
            test_test = DiagLinearOperator(gp.covar_module(x, diag=True))
            mean = strategy.exact_predictive_mean(gp.mean_module(x), test_train)
            variance = strategy.exact_predictive_covar(test_test, test_train).diagonal()
            posterior: Any = GPyTorchPosterior(MultivariateNormal(
                mean, DiagLinearOperator(variance.clamp_min(0))))
            if transform is not None:
                posterior = transform.untransform_posterior(posterior)
            means.append(posterior.mean.reshape(-1))
            variances.append(posterior.variance.reshape(-1))
    return torch.cat(means), torch.cat(variances)


class MarginalGP(Model):
    """An exact ``SingleTaskGP`` (or a ``ModelListGP`` of them) whose single-point
    posteriors (inputs ``(..., 1, d)``) come from ``exact_marginals``; anything else is
    passed to the wrapped model. For analytic acquisitions over large discrete pools."""

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.wrapped = model
        self.members = list(getattr(model, "models", [model]))

    @property
    def num_outputs(self) -> int:
        return len(self.members)

    def posterior(self, X: torch.Tensor, output_indices: Any = None,
                  observation_noise: Any = False, posterior_transform: Any = None,
                  **kwargs: Any) -> Posterior:
        if X.shape[-2] != 1 or observation_noise is not False or output_indices:
            return self.wrapped.posterior(X, output_indices=output_indices,
                                          observation_noise=observation_noise,
                                          posterior_transform=posterior_transform, **kwargs)
        flat = X.reshape(-1, X.shape[-1])
        pairs = [exact_marginals(gp, flat) for gp in self.members]
        batch = X.shape[:-2]
        mean = torch.stack([m for m, _ in pairs], dim=-1).reshape(*batch, 1, len(pairs))
        var = torch.stack([v for _, v in pairs], dim=-1).reshape(*batch, 1, len(pairs))
        if len(pairs) == 1:
            mvn: MultivariateNormal = MultivariateNormal(mean[..., 0],
                                                         DiagLinearOperator(var[..., 0]))
        else:
            mvn = MultitaskMultivariateNormal(mean, DiagLinearOperator(var.reshape(*batch, -1)),
                                              interleaved=True)
        posterior: Posterior = GPyTorchPosterior(mvn)
        return posterior_transform(posterior) if posterior_transform else posterior
