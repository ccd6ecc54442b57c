"""Where evaluations fail: a Gaussian-process classifier of success vs failure.

A deterministic oracle that fails on a candidate (no convergence, no product, an invalid
structure) tends to fail on similar ones, so the loop learns P(success | features) from
the evaluations it has and multiplies it into the acquisition.

The classifier is GPyTorch's variational GP with a Bernoulli (probit) likelihood: a latent
GP with a Matérn-5/2 kernel, one length scale per feature under the same
dimension-scaled log-normal prior as the property GPs, inducing points at the evaluated
candidates, fitted by maximising the ELBO with Adam. Probabilities integrate the latent
uncertainty (``Φ(μ / √(1 + σ²))``), so far from any evaluation they fall back towards
the base rate instead of claiming certainty.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from matloop.errors import NotFittedError

ITERATIONS = 100
LEARNING_RATE = 0.1
CHUNK = 8192


@dataclass
class FeasibilityClassifier:
    """``bounds`` ``(2, d)``: the pool's feature minima and maxima (inputs are scaled to
    the unit cube with them)."""

    bounds: np.ndarray
    seed: int = 0
    _model: Any = field(default=None, init=False, repr=False)
    _likelihood: Any = field(default=None, init=False, repr=False)
    _n_failed: int = field(default=0, init=False)

    def fit(self, X: np.ndarray, succeeded: np.ndarray) -> Self:
        """``X`` ``(n, d)`` features of evaluated candidates; ``succeeded`` ``(n,)`` bool.
        Needs at least one success and one failure."""
        import gpytorch
        import torch

        succeeded = np.asarray(succeeded, dtype=bool)
        if succeeded.all() or not succeeded.any():
            raise ValueError("the feasibility classifier needs successes and failures")
        with torch.random.fork_rng(), one_thread():
            torch.manual_seed(self.seed)
            train = self._scale(X)
            labels = torch.as_tensor(succeeded, dtype=torch.double)
            model = _latent_gp(train)
            likelihood = gpytorch.likelihoods.BernoulliLikelihood()
            elbo = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=len(train))
            optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
            model.train()
            for _ in range(ITERATIONS):
                optimizer.zero_grad()
                loss = -elbo(model(train), labels)
                loss.backward()
                optimizer.step()
        model.eval()
        self._model, self._likelihood = model, likelihood
        self._n_failed = int((~succeeded).sum())
        return self

    def probability(self, X: np.ndarray) -> np.ndarray:
        """P(an evaluation succeeds) ``(N,)`` for features ``X`` ``(N, d)``."""
        import torch

        if self._model is None:
            raise NotFittedError("fit the classifier before asking for probabilities")
        with torch.no_grad(), one_thread():
            parts = [self._likelihood(self._model(chunk)).mean
                     for chunk in self._scale(X).split(CHUNK)]
        return torch.cat(parts).numpy() if parts else np.zeros(0)

    def hyperparameters(self) -> dict[str, Any]:
        """Length scales (unit-cube features), output scale and the number of failures."""
        if self._model is None:
            return {}
        kernel = self._model.covar_module
        return {"lengthscale": kernel.base_kernel.lengthscale.detach().reshape(-1).tolist(),
                "outputscale": float(kernel.outputscale.detach()), "n_failed": self._n_failed}

    def _scale(self, X: np.ndarray) -> Any:
        import torch

        span = np.where(self.bounds[1] > self.bounds[0], self.bounds[1] - self.bounds[0], 1.0)
        return torch.as_tensor((np.asarray(X, dtype=float) - self.bounds[0]) / span,
                               dtype=torch.double)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: the matrices here are small, and on a busy machine a
    second thread makes such work tens of times slower, not faster."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _latent_gp(inducing: Any) -> Any:
    """A GPyTorch ``ApproximateGP`` with inducing points fixed at ``inducing`` ``(n, d)``."""
    import gpytorch

    class LatentGP(gpytorch.models.ApproximateGP):
        def __init__(self) -> None:
            n, d = inducing.shape
            strategy = gpytorch.variational.VariationalStrategy(
                self, inducing, gpytorch.variational.CholeskyVariationalDistribution(n),
                learn_inducing_locations=False)
            super().__init__(strategy)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.MaternKernel(
                nu=2.5, ard_num_dims=d, lengthscale_prior=gpytorch.priors.LogNormalPrior(
                    math.sqrt(2) + math.log(d) / 2, math.sqrt(3))))
            self.covar_module.base_kernel.lengthscale = math.sqrt(d) / 4

        def forward(self, x: Any) -> Any:
            return gpytorch.distributions.MultivariateNormal(self.mean_module(x),
                                                             self.covar_module(x))

    return LatentGP().double()
