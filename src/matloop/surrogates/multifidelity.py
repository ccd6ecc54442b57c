"""Multi-fidelity Gaussian process: one BoTorch ``MultiTaskGP`` per property over
(candidate features, fidelity), fidelity 0 being the target (the highest) fidelity.

The kernel is the ICM product of a squared-exponential kernel over the features (BoTorch's
dimension-scaled length-scale prior) and BoTorch's ``PositiveIndexKernel`` over the
fidelities, whose learnt task covariance says how far each cheaper fidelity tracks the
target one: its correlation near 1 lets cheap measurements inform the target; near 0 the
cheap source is recognised as uninformative and the target is modelled on its own data.
Each fidelity's values are standardised on their own (so a cheap source that is offset or
scaled, e.g. an ML potential's too-soft shear moduli, is not read as disagreement), and
each fidelity has its own noise level.

Hyperparameters are fitted on at most ``fit_points`` observations per property (every
target-fidelity one, then a seeded random subset of the others), from ``warm_start`` when
given (and one random start beside it), and the posterior is then conditioned on all of
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, cast

import numpy as np

from matloop.errors import NotFittedError
from matloop.protocols import Prediction

if TYPE_CHECKING:
    from botorch.models import MultiTaskGP
    from botorch.models.model import Model

FIT_POINTS = 400
# L-BFGS iterations: the ICM task covariance converges slowly (a 312-point fit ran 513
# iterations, 51 s), while its optimum is reached to the figures that matter much sooner
COLD_MAXITER = 300
WARM_MAXITER = 50
RESTARTS = 3
# Beta prior of a cheap source's correlation with the target (BoTorch's default is
# Beta(2.5, 1.5), mean 0.63): sceptical, mean 0.33 — a source has to earn its
# correlation, which a noise source (whose likelihood is flat in it) never does
CORRELATION_PRIOR = (1.5, 3.0)
FTOL = 1e-6  # relative change of the per-observation log likelihood at which L-BFGS stops


@dataclass(frozen=True)
class _Scale:
    """One property's standardisation: per fidelity mean and standard deviation ``(L,)``."""

    mean: np.ndarray
    std: np.ndarray


@dataclass
class MultiFidelityGP:
    """Multi-fidelity GP surrogate for m properties over d features and L fidelities.

    ``bounds`` ``(2, d)`` normalise the features (the pool's); ``fidelities`` is L;
    ``seed`` fixes the fitting subset; ``warm_start`` is an earlier ``hyperparameters()``.
    ``fit(X, Y, fidelity)`` takes features ``(n, d)``, values ``(n, m)`` (NaN: not
    measured) and the fidelity ``(n,)`` of each row. ``predict`` and ``model`` are at the
    target fidelity, so every single-fidelity acquisition applies unchanged.
    """

    bounds: np.ndarray
    fidelities: int
    seed: int = 0
    fit_points: int = FIT_POINTS
    restarts: int = RESTARTS
    warm_start: dict[str, Any] | None = None
    _gps: list[MultiTaskGP] = field(default_factory=list, init=False, repr=False)
    _scales: list[_Scale] = field(default_factory=list, init=False, repr=False)
    _tasks: list[list[int]] = field(default_factory=list, init=False, repr=False)

    def fit(self, X: np.ndarray, Y: np.ndarray, fidelity: np.ndarray | None = None
            ) -> Self:
        """Fit one multi-task GP per property (``fidelity`` None: every row at the
        target fidelity); ``ValueError`` when a property has fewer than two values at the
        target fidelity (fidelity 0)."""
        fidelity = np.zeros(len(X), dtype=int) if fidelity is None else np.asarray(
            fidelity, dtype=int)
        if fidelity.min(initial=0) < 0 or fidelity.max(initial=0) >= self.fidelities:
            raise ValueError(f"fidelities must lie in 0..{self.fidelities - 1}")
        self._gps, self._scales, self._tasks = [], [], []
        warm = (self.warm_start or {}).get("raw") or []
        for j in range(Y.shape[1]):
            rows = np.flatnonzero(np.isfinite(Y[:, j]))
            if np.count_nonzero(fidelity[rows] == 0) < 2:
                raise ValueError(f"property {j} has fewer than 2 values at the target "
                                 "fidelity; a multi-fidelity GP needs at least 2")
            scale = _standardisation(Y[rows, j], fidelity[rows], self.fidelities)
            y = (Y[rows, j] - scale.mean[fidelity[rows]]) / scale.std[fidelity[rows]]
            self._scales.append(scale)
            start = warm[j] if j < len(warm) else None
            self._gps.append(_with_target_scale(
                self._fitted(X[rows], y, fidelity[rows], j, start), scale))
            self._tasks.append(sorted(set(fidelity[rows].tolist())))
        return self

    def _fitted(self, X: np.ndarray, y: np.ndarray, fidelity: np.ndarray, j: int,
                start: dict[str, Any] | None) -> MultiTaskGP:
        """Hyperparameters fitted on a subset, then the GP on every row with them. The
        likelihood has local optima (one calls the target values noise, another keeps a
        cheap source's correlation from a time when there were few of its values), so a
        cold fit keeps the best of ``restarts`` random starts and a warm one the better of
        the warm start and one random start."""
        import torch

        from matloop.surrogates.kernels import copy_raw_parameters

        subset = _fitting_rows(fidelity, self.fit_points, self.seed + 7919 * j)
        best: tuple[float, MultiTaskGP] | None = None
        starts = [start, None] if start else [None] * self.restarts
        with torch.random.fork_rng():
            for attempt, raw in enumerate(starts):
                torch.manual_seed(self.seed + 104729 * j + attempt)
                gp = self._build(X[subset], y[subset], fidelity[subset])
                warm = raw is not None and copy_raw_parameters(gp, raw)
                value = _maximise(gp, WARM_MAXITER if warm else COLD_MAXITER)
                if best is None or value > best[0]:
                    best = (value, gp)
        assert best is not None
        gp = best[1]
        if len(subset) == len(y):
            return gp.eval()
        full = self._build(X, y, fidelity)
        copy_raw_parameters(full, dict(gp.named_parameters()))
        return full.eval()

    def _build(self, X: np.ndarray, y: np.ndarray, fidelity: np.ndarray) -> MultiTaskGP:
        import torch
        from botorch.models import MultiTaskGP
        from botorch.models.transforms import Normalize

        d = X.shape[1]
        inputs = torch.as_tensor(np.column_stack([X, fidelity]), dtype=torch.double)
        from botorch.models.utils.priors import BetaPrior

        return MultiTaskGP(inputs, torch.as_tensor(y, dtype=torch.double).unsqueeze(-1),
                           task_feature=d, output_tasks=[0], outcome_transform=None,
                           task_covar_prior=BetaPrior(*CORRELATION_PRIOR),
                           all_tasks=list(range(self.fidelities)),
                           input_transform=Normalize(
                               d=d + 1, indices=list(range(d)),
                               bounds=torch.as_tensor(self.bounds, dtype=torch.double)))

    def _check(self) -> None:
        if not self._gps:
            raise NotFittedError("MultiFidelityGP.fit must be called before predicting")

    @property
    def model(self) -> Model:
        """The BoTorch model at the target fidelity, one output per property."""
        from botorch.models import ModelListGP

        self._check()
        return self._gps[0] if len(self._gps) == 1 else ModelListGP(*self._gps)

    def predict(self, X: np.ndarray) -> Prediction:
        """Mean and std ``(n, m)`` at the target fidelity, in the properties' units."""
        return self.predict_at(X, 0)

    def predict_at(self, X: np.ndarray, fidelity: int) -> Prediction:
        """Mean and std ``(n, m)`` of the noise-free value at ``fidelity``, in that
        fidelity's units."""
        mean, var, _, _ = self._joint(X, fidelity)
        scale = np.array([[s.std[fidelity] for s in self._scales]])
        offset = np.array([[s.mean[fidelity] for s in self._scales]])
        return Prediction(mean=mean * scale + offset, std=np.sqrt(var) * scale)

    def information(self, X: np.ndarray, fidelity: int) -> np.ndarray:
        """``(n, m)``: the share of the target value's posterior variance at each row that
        one measurement at ``fidelity`` would remove, corr(f_0, y_l)² under the posterior
        (y_l with its noise). 1 for a noise-free target measurement where nothing is known;
        near 0 where the value is known already, or for a source that does not track the
        target. (Huang et al.'s augmented EI, Struct. Multidiscip. Optim. 32, 2006, uses
        this correlation times a noise factor instead of its square.)"""
        _, var, cov, top_var = self._joint(X, fidelity)
        noise = np.array([[self._noise(j)[fidelity] for j in range(len(self._gps))]])
        correlation = np.clip(cov / np.sqrt(top_var * (var + noise)), 0.0, 1.0)
        measured = np.array([[fidelity in tasks for tasks in self._tasks]])
        return np.where(measured, correlation ** 2, 0.0)

    def _joint(self, X: np.ndarray, fidelity: int) -> tuple[np.ndarray, ...]:
        """Standardised posterior mean and variance ``(n, m)`` at ``fidelity``, their
        covariance with the target fidelity's value and that value's variance, from one
        joint posterior of the pair (target, ``fidelity``) at each row."""
        import torch

        self._check()
        n = len(X)
        out = [np.zeros((n, len(self._gps))) for _ in range(4)]
        x = torch.as_tensor(X, dtype=torch.double)
        pair = torch.stack([torch.cat([x, torch.zeros(n, 1, dtype=torch.double)], -1),
                            torch.cat([x, torch.full((n, 1), float(fidelity),
                                                     dtype=torch.double)], -1)], dim=-2)
        for j, gp in enumerate(self._gps):
            parts = []
            with torch.no_grad():
                for chunk in pair.split(4096):
                    mvn = gp(gp.transform_inputs(chunk))
                    covariance = mvn.covariance_matrix
                    parts.append((mvn.mean[..., 1], covariance[..., 1, 1],
                                  covariance[..., 0, 1], covariance[..., 0, 0]))
            for k in range(4):
                out[k][:, j] = torch.cat([part[k] for part in parts]).numpy()
        mean, variance, covariance, top_variance = out
        return (mean, np.clip(variance, 1e-12, None), covariance,
                np.clip(top_variance, 1e-12, None))

    def _noise(self, j: int) -> np.ndarray:
        """Property j's noise variance per fidelity ``(L,)``, standardised units."""
        noise = self._gps[j].likelihood.noise.detach().reshape(-1).numpy()
        return np.broadcast_to(noise, (self.fidelities,)) if noise.size == 1 else noise

    def correlations(self) -> np.ndarray:
        """``(m, L)``: per property, the prior correlation of the target fidelity's value
        with a measurement at each fidelity, noise included — ρ_l·√(v_l / (v_l + σ²_l))
        from the learnt task covariance (ρ_l, v_l) and noise σ²_l. Near 1: the source
        tracks the target; near 0: unrelated, or so noisy that it tells nothing (whose
        latent ρ_l alone is then whatever its prior says). The target's own entry is its
        correlation with a repeat measurement."""
        self._check()
        out = np.zeros((len(self._gps), self.fidelities))
        for j, gp in enumerate(self._gps):
            index = next(k for k in gp.covar_module.kernels
                         if type(k).__name__ == "PositiveIndexKernel")
            covariance = index.covar_matrix.detach().numpy()
            variance = np.diag(covariance)
            noisy = variance + self._noise(j)
            out[j] = covariance[0] / np.sqrt(variance[0] * noisy)
        return out

    def hyperparameters(self) -> dict[str, Any]:
        """Correlations and noise per fidelity, and the raw parameters (warm starts)."""
        self._check()
        return {
            "kind": "multi-fidelity-gp",
            "fidelities": self.fidelities,
            "correlation": self.correlations().tolist(),
            "noise": [self._noise(j).tolist() for j in range(len(self._gps))],
            "raw": [{name: value.detach().tolist() for name, value in gp.named_parameters()}
                    for gp in self._gps],
        }


def _maximise(gp: MultiTaskGP, maxiter: int) -> float:
    """Fit ``gp``'s hyperparameters (MAP, at most ``maxiter`` L-BFGS iterations); the
    log marginal likelihood per observation (with the priors) reached."""
    import torch
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter, "ftol": FTOL}})
    gp.train()
    with torch.no_grad():
        inputs = cast("tuple[Any, ...]", gp.train_inputs)
        value = float(mll(gp(*inputs), gp.train_targets, *inputs))
    return value


def _standardisation(y: np.ndarray, fidelity: np.ndarray, fidelities: int) -> _Scale:
    """Per-fidelity mean and standard deviation of one property; a fidelity with fewer
    than two values borrows the spread of all values (and the mean, with none)."""
    overall_mean = float(np.mean(y))
    overall_std = float(np.std(y)) or 1.0
    mean = np.full(fidelities, overall_mean)
    std = np.full(fidelities, overall_std)
    for level in range(fidelities):
        values = y[fidelity == level]
        if len(values):
            mean[level] = float(np.mean(values))
        if len(values) >= 2 and np.std(values) > 0:
            std[level] = float(np.std(values))
    return _Scale(mean, std)


def _fitting_rows(fidelity: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Every target-fidelity row, then cheaper ones drawn at random, ``size`` at most
    (more when the target fidelity alone has more)."""
    top = np.flatnonzero(fidelity == 0)
    others = np.flatnonzero(fidelity != 0)
    room = max(size - len(top), 0)
    if len(others) > room:
        others = np.sort(np.random.default_rng(seed).choice(others, room, replace=False))
    return np.sort(np.concatenate([top, others]))


def _with_target_scale(gp: MultiTaskGP, scale: _Scale) -> MultiTaskGP:
    """``gp`` (fitted on standardised values, in eval mode) whose posteriors come in the
    property's units at the target fidelity: an outcome transform that undoes the target
    fidelity's standardisation (``Standardize`` set to its mean and spread, not fitted)."""
    import torch
    from botorch.models.transforms import Standardize

    transform = Standardize(m=1)
    with torch.no_grad():
        transform.means.fill_(float(scale.mean[0]))
        transform.stdvs.fill_(float(scale.std[0]))
        transform._stdvs_sq.fill_(float(scale.std[0]) ** 2)
        transform._is_trained.fill_(True)
    gp.outcome_transform = transform.eval()
    return gp
