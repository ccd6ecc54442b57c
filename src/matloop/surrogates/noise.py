"""Heteroscedastic noise learnt from replicates (``[surrogate] noise = "heteroscedastic"``).

A candidate measured k ≥ 2 times shows its measurement noise directly: the sample
variance s² of its k values, with ν = k − 1 degrees of freedom. ``replicate_scatter``
collects them per replicated candidate, in the property's (possibly warped) units.
Following Kersting et al. (2007) and BoTorch's former ``HeteroskedasticSingleTaskGP``, a
second GP models ``log s²`` across feature space (``fit_noise_model``): for Gaussian
measurements ``log s²`` is ``log σ²`` plus a known bias ``ψ(ν/2) − log(ν/2)`` (−1.27
nats for a pair), which is removed, and a known variance ``ψ'(ν/2)`` (4.93 for a pair,
a factor of about 9 either way in σ²), which the noise GP takes as its fixed noise, so
that it smooths the scatter of single pairs instead of following it.

The property's GP (``HeteroscedasticGP``) then has at every training row the noise
variance ``exp(m(x))`` (m: the noise GP's posterior mean of log σ², so the median of σ²)
plus one learnt constant (for misfit the replicates do not show, at least 10⁻⁴ in
standardised units, as BoTorch's inferred noise). Its latent posterior is an exact GP's,
so ``MarginalGP`` and the acquisitions use it unchanged; ``posterior(X,
observation_noise=True)``, the distribution of a new measurement, adds the noise
predicted at ``X``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.models import SingleTaskGP
from botorch.posteriors import Posterior

# Below 10 replicated candidates a noise GP is not fitted: one pair's log s² is uncertain
# by ±2.2 nats (sd), so ten pin even a constant log σ² only to about ±0.7 nats (a
# factor of 2), and the noise GP has d length scales, a scale and a mean to fit.
MIN_REPLICATED = 10
VARIANCE_FLOOR = 1e-4  # of the property's variance: identical replicates are not noise-free
EXTRA_NOISE = 1e-2  # initial learnt extra noise variance, standardised units


@dataclass(frozen=True)
class Scatter:
    """Replicated candidates of one property: their features ``X`` ``(r, d)``, the
    bias-corrected log sample variances ``log_variance`` ``(r,)`` (log of the property's
    units squared) and the degrees of freedom ``dof`` ``(r,)`` (replicates − 1)."""

    X: np.ndarray
    log_variance: np.ndarray
    dof: np.ndarray

    @property
    def count(self) -> int:
        return len(self.dof)


def replicate_scatter(X: np.ndarray, y: np.ndarray) -> Scatter:
    """The scatter of every candidate measured at least twice among features ``X``
    ``(n, d)`` and values ``y`` ``(n,)`` (identical feature rows are one candidate).
    Sample variances below ``VARIANCE_FLOOR`` × the variance of ``y`` are raised to it."""
    from scipy.special import digamma

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float).reshape(-1)
    unique, inverse, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    means = np.bincount(inverse, weights=y) / counts
    squares = np.bincount(inverse, weights=(y - means[inverse]) ** 2)
    replicated = counts >= 2
    dof = counts[replicated] - 1.0
    variance = squares[replicated] / dof
    spread = float(np.var(y, ddof=1)) if len(y) > 1 else 0.0
    floor = VARIANCE_FLOOR * (spread if spread > 1e-16 else 1.0)
    bias = digamma(dof / 2) - np.log(dof / 2)
    return Scatter(unique[replicated], np.log(np.maximum(variance, floor)) - bias, dof)


def fit_noise_model(scatter: Scatter, bounds: np.ndarray | None,
                    warm: Mapping[str, Any] | None = None, warm_maxiter: int = 20
                    ) -> SingleTaskGP:
    """A GP of log σ² over features, fitted to ``scatter`` with each point's known
    variance ``ψ'(ν/2)`` as fixed noise; Matérn-5/2 with BoTorch's dimension-scaled
    length-scale prior, inputs normalised to ``bounds`` ``(2, d)``. ``warm``: raw
    parameters by name to start from (then at most ``warm_maxiter`` L-BFGS steps)."""
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.kernels import ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from scipy.special import polygamma

    from matloop.surrogates.kernels import copy_raw_parameters, gp_modules

    spread = polygamma(1, scatter.dof / 2)
    modules = gp_modules(scatter.X.shape[1], bounds, kernel="matern52")
    modules["covar_module"] = ScaleKernel(modules["covar_module"])
    noise_model = SingleTaskGP(torch.as_tensor(scatter.X, dtype=torch.double),
                               torch.as_tensor(scatter.log_variance[:, None]),
                               torch.as_tensor(spread[:, None]), **modules)
    started = copy_raw_parameters(noise_model, warm or {})
    fit_gpytorch_mll(ExactMarginalLogLikelihood(noise_model.likelihood, noise_model),
                     optimizer_kwargs={"options": {"maxiter": warm_maxiter}}
                     if started else None)
    return noise_model.eval()


class HeteroscedasticGP(SingleTaskGP):
    """An exact GP of one property whose noise variance varies with the inputs:
    ``noise_model`` (``fit_noise_model``, in the property's units) gives it at every
    training row, plus a learnt constant. ``train_X`` ``(n, d)``, ``train_Y`` ``(n, 1)``;
    ``modules``: kernel and transforms as ``kernels.gp_modules`` gives them (without a
    likelihood). The noise model's parameters are frozen: fitting this model's marginal
    likelihood fits the kernel, mean and extra noise only."""

    def __init__(self, train_X: torch.Tensor, train_Y: torch.Tensor,
                 noise_model: SingleTaskGP, **modules: Any) -> None:
        from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

        modules.pop("likelihood", None)
        likelihood = FixedNoiseGaussianLikelihood(
            noise=torch.ones(len(train_X), dtype=train_X.dtype), learn_additional_noise=True)
        likelihood.second_noise = torch.tensor(EXTRA_NOISE, dtype=train_X.dtype)
        super().__init__(train_X, train_Y, likelihood=likelihood, **modules)
        for parameter in noise_model.parameters():
            parameter.requires_grad_(False)
        self.noise_model: SingleTaskGP = noise_model
        with torch.no_grad():
            likelihood.noise = self.measurement_noise(train_X)

    def measurement_noise(self, X: torch.Tensor) -> torch.Tensor:
        """The noise model's variance ``(..., q)`` at inputs ``X`` ``(..., q, d)``, in this
        model's standardised output units (without the learnt constant)."""
        log_variance = self.noise_model.posterior(X).mean[..., 0]
        return log_variance.exp() / self._output_variance()

    def _output_variance(self) -> torch.Tensor:
        """The square of the standardisation's scale (a 0-d tensor)."""
        transform: Any = self.outcome_transform
        return transform.stdvs.reshape(()).square()

    def posterior(  # type: ignore[override]  # its bases disagree on the signature
            self, X: torch.Tensor, output_indices: Any = None,
            observation_noise: bool | torch.Tensor = False, posterior_transform: Any = None,
            **kwargs: Any) -> Posterior:
        """As ``SingleTaskGP.posterior``; with ``observation_noise=True`` the noise of a
        new measurement at each point of ``X`` ``(..., q, d)`` is the noise model's plus
        the learnt constant (a tensor ``(..., q, 1)``: that noise, in standardised units).

        The noise is added here rather than by the likelihood: given a ``noise`` tensor,
        GPyTorch's ``FixedNoiseGaussianLikelihood`` with a learnt extra noise adds the
        tensor twice (its extra ``HomoskedasticNoise`` returns the tensor too)."""
        from botorch.posteriors import GPyTorchPosterior
        from gpytorch.distributions import MultivariateNormal
        from linear_operator.operators import DiagLinearOperator

        latent = super().posterior(X, output_indices=output_indices, **kwargs)
        if observation_noise is not False:
            if observation_noise is True:
                with torch.no_grad():
                    noise = self.measurement_noise(X) + self.likelihood.second_noise
            else:
                noise = torch.as_tensor(observation_noise).squeeze(-1)
            mvn: Any = latent.distribution  # type: ignore[union-attr]
            noise = (noise * self._output_variance()).expand(mvn.batch_shape
                                                             + mvn.event_shape)
            latent = GPyTorchPosterior(MultivariateNormal(
                mvn.mean, mvn.lazy_covariance_matrix + DiagLinearOperator(noise)))
        return posterior_transform(posterior=latent, X=X) if posterior_transform else latent

    def noise_summary(self) -> dict[str, float]:
        """The noise variance at the training rows (standardised units): median, min and
        max, and the learnt constant part (``extra``)."""
        noise = self.likelihood.noise.detach().reshape(-1)
        extra = torch.as_tensor(self.likelihood.second_noise).detach().reshape(-1)
        return {"median": float(noise.median()), "min": float(noise.min()),
                "max": float(noise.max()), "extra": float(extra[0])}
