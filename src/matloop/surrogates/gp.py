"""Exact Gaussian process surrogate: one BoTorch ``SingleTaskGP`` per property.

Squared-exponential (or Matérn-5/2) kernel with one length scale per feature (BoTorch's
dimension-scaled log-normal length-scale prior, or Gamma priors), times learnt option
correlations for each categorical column in ``groups`` (``option_kernel.py``), inputs
normalised to the pool's bounds,
outputs standardised, optionally after a fitted Yeo-Johnson warp (``warp.py``). Each
property is fitted on the rows where it was measured, so an evaluation that returned
only some properties still teaches the others nothing wrong. The noise is one level per
property, or with ``noise = "heteroscedastic"`` learnt from replicates (``noise.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from matloop.errors import NotFittedError
from matloop.protocols import Prediction
from matloop.surrogates import EXACT_LIMIT, FIT_POINTS
from matloop.surrogates.kernels import copy_raw_parameters, gp_modules, measured_rows
from matloop.surrogates.warp import OutputWarp

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from botorch.models.model import Model

    from matloop.surrogates.sparse import SparseGP

NOISES = ("homoscedastic", "heteroscedastic")

WARM_MAXITER = 20  # L-BFGS iterations from a warm start (cold fits run to convergence)


@dataclass
class GaussianProcess:
    """Exact GP surrogate for m properties over d features.

    ``bounds`` ``(2, d)`` are the feature bounds used to normalise inputs (the pool's,
    so that normalisation does not drift as data arrive); ``seed`` fixes the fit.
    ``warm_start`` is a previous fit's ``hyperparameters()``: its raw parameters start the
    optimiser, which then stops after ``WARM_MAXITER`` iterations. With one point added
    the optimum barely moves, but L-BFGS can wander a flat likelihood for hundreds of
    steps: at d = 30, n = 500 a capped warm fit took 1.8 s against 11 s uncapped, and
    its log marginal likelihood 0.02 nats lower (of −605).

    Beyond ``fit_points`` observations of a property, the hyperparameters are fitted on
    a seeded random subset of that size (each likelihood step costs O(n³)), and the exact
    posterior is then conditioned on every observation with them (one O(n³) Cholesky).
    Beyond ``exact_limit`` observations of any property, the model is a sparse
    variational GP instead (``sparse.SparseGP``), whose costs grow as n·M² with M
    inducing points; its ``hyperparameters()`` say so (``"approximation"``).

    ``noise = "heteroscedastic"``: each property whose replicates (identical feature
    rows) cover at least ``noise.MIN_REPLICATED`` candidates gets a noise variance that
    varies across the space (``noise.HeteroscedasticGP``); the others, and the sparse GP,
    stay homoscedastic, and ``hyperparameters()["noise_model"]`` says which and why.
    """

    bounds: np.ndarray | None = None
    seed: int = 0
    warm_start: Mapping[str, Any] | None = None
    fit_points: int = FIT_POINTS
    exact_limit: int = EXACT_LIMIT
    prior: str = "dimension-scaled"
    kernel: str = "rbf"
    warp: tuple[int, ...] = ()
    restarts: int = 1
    noise: str = "homoscedastic"
    groups: tuple[tuple[int, ...], ...] = ()
    _model: Model | None = field(default=None, init=False, repr=False)
    _sparse: SparseGP | None = field(default=None, init=False, repr=False)
    _fitted_on: list[int] = field(default_factory=list, init=False, repr=False)
    _warps: dict[int, OutputWarp] = field(default_factory=dict, init=False, repr=False)
    _noise_models: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        """Fit on features ``(n, d)`` and values ``(n, m)``; NaN marks unmeasured."""
        import torch
        from botorch.models import ModelListGP

        if self.noise not in NOISES:
            raise ValueError(f"unknown GP noise {self.noise!r}; known: {', '.join(NOISES)}")
        X = np.asarray(X, dtype=float)
        Y = np.array(Y, dtype=float).reshape(len(X), -1)  # a copy: warps write into it
        self._sparse = None
        self._warps = {}
        self._noise_models = []
        for j in self.warp:
            warp = OutputWarp.fit(Y[:, j])
            Y[:, j] = warp.forward(Y[:, j])
            self._warps[j] = warp
        if np.isfinite(Y).sum(axis=0).max(initial=0) > self.exact_limit:
            from matloop.surrogates.sparse import SparseGP

            self._sparse = SparseGP(bounds=self.bounds, seed=self.seed).fit(X, Y)
            if self.noise != "homoscedastic":
                self._noise_models = [{"kind": "homoscedastic", "reason": "sparse GP "
                                       "(beyond exact_limit)"}] * Y.shape[1]
            return self
        torch.manual_seed(self.seed)
        models: list[SingleTaskGP] = []
        self._fitted_on = []
        for j in range(Y.shape[1]):
            rows = measured_rows(Y, j)
            noise_model = self._noise_model(X[rows], Y[rows, j], j)
            gp = self._build(X[rows], Y[rows, j : j + 1], noise_model)
            if len(rows) <= self.fit_points:
                self._fit_hyperparameters(gp, j)
            else:  # hyperparameters from a seeded subset; the posterior uses every point
                subset = fitting_subset(rows, self.fit_points, self.seed, j)
                small = self._build(X[subset], Y[subset, j : j + 1], noise_model)
                self._fit_hyperparameters(small, j)
                _copy_parameters(small, gp)
            self._fitted_on.append(min(len(rows), self.fit_points))
            models.append(gp.eval())
        self._model = models[0] if len(models) == 1 else ModelListGP(*models)
        return self

    def _noise_model(self, X: np.ndarray, y: np.ndarray, j: int) -> SingleTaskGP | None:
        """Property j's GP of log noise variance from its replicates (features ``(n, d)``,
        values ``(n,)``), or None for one noise level (recorded in ``_noise_models``)."""
        if self.noise == "homoscedastic":
            return None
        from matloop.surrogates.noise import MIN_REPLICATED, fit_noise_model, replicate_scatter

        scatter = replicate_scatter(X, y)
        if scatter.count < MIN_REPLICATED:
            self._noise_models.append({
                "kind": "homoscedastic", "replicated": scatter.count,
                "reason": f"{scatter.count} replicated candidates; a noise model needs "
                          f"{MIN_REPLICATED}"})
            return None
        prefix = "noise_model."
        warm = {name[len(prefix):]: value for name, value in self._raw(j).items()
                if name.startswith(prefix)}
        self._noise_models.append({"kind": "heteroscedastic", "replicated": scatter.count})
        return fit_noise_model(scatter, self.bounds, warm, WARM_MAXITER)

    def _build(self, X: np.ndarray, y: np.ndarray, noise_model: SingleTaskGP | None = None
               ) -> SingleTaskGP:
        """An unfitted GP on features ``(n, d)`` and one property ``(n, 1)``: a
        ``SingleTaskGP``, or a ``HeteroscedasticGP`` with ``noise_model``."""
        import torch
        from botorch.models import SingleTaskGP

        inputs = (torch.as_tensor(X, dtype=torch.double), torch.as_tensor(y, dtype=torch.double))
        modules = gp_modules(X.shape[1], self.bounds, self.prior, self.kernel, self.groups)
        if noise_model is None:
            return SingleTaskGP(*inputs, **modules)
        from matloop.surrogates.noise import HeteroscedasticGP

        return HeteroscedasticGP(*inputs, noise_model, **modules)

    def _fit_hyperparameters(self, gp: SingleTaskGP, j: int) -> None:
        """Maximise the marginal likelihood (times the priors), from property j's warm
        start if there is one; else from the default start and ``restarts - 1`` draws
        from the priors, keeping the best optimum (one start with a heteroscedastic
        noise model, whose fitted noise GP a draw from the priors would overwrite)."""
        import copy

        from botorch.fit import fit_gpytorch_mll
        from botorch.optim.utils import sample_all_priors
        from gpytorch.mlls import ExactMarginalLogLikelihood

        mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
        if copy_raw_parameters(gp, self._raw(j)):
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": WARM_MAXITER}})
            return
        fit_gpytorch_mll(mll)
        starts = 1 if hasattr(gp, "noise_model") else self.restarts
        if starts == 1:
            return
        best = (_log_posterior(mll), copy.deepcopy(gp.state_dict()))
        for _ in range(starts - 1):
            sample_all_priors(gp)
            fit_gpytorch_mll(mll)
            value = _log_posterior(mll)
            if value > best[0]:
                best = (value, copy.deepcopy(gp.state_dict()))
        gp.load_state_dict(best[1])

    def _raw(self, j: int) -> dict[str, Any]:
        """Property j's raw parameters in ``warm_start`` ({} when there are none)."""
        raw = (self.warm_start or {}).get("raw") or []
        return raw[j] if j < len(raw) else {}

    @property
    def model(self) -> Model:
        if self._sparse is not None:
            return self._sparse.model
        if self._model is None:
            raise NotFittedError("the GP has not been fitted yet: call fit(X, Y) first")
        return self._model

    @property
    def marginal_model(self) -> Model:
        """The model for scoring single candidates over large pools (same numbers, faster)."""
        from matloop.surrogates.marginal import MarginalGP

        if self._sparse is not None:
            return self._sparse.marginal_model
        return MarginalGP(self.model)

    def predict(self, X: np.ndarray) -> Prediction:
        """Posterior mean and std ``(n, m)`` of the latent function."""
        import torch

        if self._sparse is not None:
            prediction = self._sparse.predict(X)
        else:
            from matloop.surrogates.marginal import MarginalGP

            mean, variance = MarginalGP(self.model).marginals(
                torch.as_tensor(X, dtype=torch.double))
            prediction = Prediction(mean=mean.numpy(), std=variance.sqrt().numpy())
        for j, warp in self._warps.items():
            mean_j, std_j = warp.backward(prediction.mean[:, j], prediction.std[:, j])
            prediction.mean[:, j], prediction.std[:, j] = mean_j, std_j
        return prediction

    def model_units(self, Y: np.ndarray) -> np.ndarray:
        """Values ``(n, m)`` in the units the model was fitted in: warped columns
        through their fitted warp, the others as they are."""
        out = np.array(Y, dtype=float)
        for j, warp in self._warps.items():
            out[:, j] = warp.forward(out[:, j])
        return out

    def hyperparameters(self) -> dict[str, Any]:
        """Per property: length scales (normalised feature units), noise variance (in
        standardised units), the number of observations the hyperparameters were fitted
        on (fewer than measured beyond ``fit_points``) and the raw parameters (to
        warm-start the next fit); or the sparse GP's. With warps: each warped property's
        Yeo-Johnson exponent, by column. With ``noise = "heteroscedastic"``:
        ``"noise_model"`` per property (its kind, how many candidates were replicated, why
        it fell back to one level; for a varying noise its median, min and max over the
        training rows and the learnt constant part), and ``"noise"`` is the median."""
        extra: dict[str, Any] = {"warp": {str(j): w.exponent for j, w in
                                          self._warps.items()}} if self._warps else {}
        if self._noise_models:
            extra["noise_model"] = self._noise_summaries()
        if self._sparse is not None:
            return {**self._sparse.hyperparameters(), **extra}
        models = getattr(self.model, "models", [self.model])
        if self.groups:  # length scales of some features only: no relevance per feature
            extra["option_correlations"] = [_option_correlations(m) for m in models]
        else:
            extra["lengthscales"] = [_kernel(m).lengthscale.detach().reshape(-1).tolist()
                                     for m in models]
        return {
            **extra,
            "noise": [float(m.likelihood.noise.detach().reshape(-1).median()) for m in models],
            "fitted_on": list(self._fitted_on),
            "raw": [{name: p.detach().tolist() for name, p in m.named_parameters()}
                    for m in models],
        }

    def _noise_summaries(self) -> list[dict[str, Any]]:
        """``_noise_models`` with each heteroscedastic model's noise summary."""
        models = [] if self._sparse is not None else getattr(self.model, "models",
                                                             [self.model])
        summaries = []
        for j, recorded in enumerate(self._noise_models):
            summary = getattr(models[j], "noise_summary", None) if j < len(models) else None
            summaries.append({**recorded, **(summary() if summary else {})})
        return summaries


def fitting_subset(rows: np.ndarray, size: int, seed: int, j: int) -> np.ndarray:
    """The sorted random subset of ``rows`` (``size`` of them) that property j's
    hyperparameters are fitted on; fixed by the seed and the number of rows."""
    chosen = np.random.default_rng([seed, j, len(rows)]).choice(rows, size, replace=False)
    return np.sort(chosen)


def _log_posterior(mll: Any) -> float:
    """The fitted model's log marginal likelihood plus log priors (per observation)."""
    import torch

    gp = mll.model
    mll.train()
    with torch.no_grad():
        value = float(mll(gp(*gp.train_inputs), gp.train_targets).sum())
    mll.eval()
    return value if np.isfinite(value) else -np.inf


def _kernel(gp: Model) -> Any:
    """The kernel with the length scales (inside a scale kernel with Gamma priors)."""
    kernel = gp.covar_module
    return getattr(kernel, "base_kernel", kernel)


def _option_correlations(gp: Model) -> list[list[list[float]]]:
    """The learnt correlations ``(options, options)`` of each categorical block."""
    from matloop.surrogates.option_kernel import OptionKernel

    return [k.correlation.detach().tolist() for k in gp.modules()
            if isinstance(k, OptionKernel)]


def _copy_parameters(source: Model, target: Model) -> None:
    """Copy every trainable parameter (kernel, noise, mean) from ``source`` to ``target``."""
    import torch

    values = dict(source.named_parameters())
    with torch.no_grad():
        for name, parameter in target.named_parameters():
            parameter.copy_(values[name])
