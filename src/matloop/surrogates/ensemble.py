"""Ensemble surrogates: a deep ensemble of small MLPs, and a forest of trees.

Both predict with a set of members; the spread of the members is the uncertainty. They
are exposed to BoTorch as an ``EnsembleModel`` (an ``EnsemblePosterior`` over the
members), so that analytic acquisitions use the members' mean and variance and Monte
Carlo ones (batches, range targets, hypervolume) sample members.

- ``DeepEnsemble``: ``members`` MLPs (two hidden layers of ``width`` SiLU units), each from
  its own seed and, with ``bootstrap``, on its own resample of the data; inputs scaled to
  the pool's bounds, each property standardised; trained full-batch with Adam on the mean
  squared error over the measured entries only (a missing value masks its property).
- ``Forest``: scikit-learn extra trees per property (each on the rows where it was
  measured, bootstrap resamples), the trees being the members.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from matloop.errors import NotFittedError
from matloop.protocols import Prediction

if TYPE_CHECKING:
    import torch
    from botorch.models.model import Model

MIN_POINTS = 2
CHUNK = 65536

MemberPredictions = Callable[[np.ndarray], np.ndarray]  # (N, d) -> (s, N, m)


def ensemble_model(members: MemberPredictions, num_outputs: int) -> Model:
    """A BoTorch ``EnsembleModel`` whose members' predictions come from ``members``."""
    import torch
    from botorch.models.ensemble import EnsembleModel

    class Members(EnsembleModel):
        _num_outputs = num_outputs

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            """``batch x n x d`` -> ``batch x s x n x m``."""
            flat = X.detach().reshape(-1, X.shape[-1]).cpu().numpy()
            values = torch.as_tensor(members(flat), dtype=X.dtype)  # (s, B*n, m)
            values = values.reshape(values.shape[0], *X.shape[:-1], num_outputs)
            return values.movedim(0, -3)

    return Members()


def _predict(members: MemberPredictions, X: np.ndarray) -> Prediction:
    parts = [members(X[i:i + CHUNK]) for i in range(0, len(X), CHUNK)]
    values = np.concatenate(parts, axis=1)
    return Prediction(mean=values.mean(axis=0), std=values.std(axis=0))


def _check(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
    for j in range(Y.shape[1]):
        if np.isfinite(Y[:, j]).sum() < MIN_POINTS:
            raise ValueError(f"property {j} has {int(np.isfinite(Y[:, j]).sum())} measured "
                             f"values; an ensemble needs at least {MIN_POINTS}")
    return X, Y


@dataclass
class DeepEnsemble:
    """A deep ensemble for m properties over d features; ``bounds`` ``(2, d)`` scale the
    inputs. ``warm_start`` is accepted for the common interface and not used."""

    bounds: np.ndarray | None = None
    seed: int = 0
    warm_start: Mapping[str, Any] | None = None
    members: int = 5
    width: int = 64
    epochs: int = 400
    learning_rate: float = 0.01
    weight_decay: float = 1e-4
    bootstrap: bool = True
    _weights: list[Any] = field(default_factory=list, init=False, repr=False)
    _y_mean: np.ndarray | None = field(default=None, init=False, repr=False)
    _y_std: np.ndarray | None = field(default=None, init=False, repr=False)
    _losses: list[float] = field(default_factory=list, init=False, repr=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        """Train every member on features ``(n, d)`` and values ``(n, m)`` (NaN = missing).

        The members train together as one batched network (weights ``(s, in, out)``):
        Adam is element-wise and the summed loss gives each member its own gradient, so
        this is the same training as one member after another, in one pass per step."""
        import torch

        X, Y = _check(X, Y)
        self._y_mean = np.nanmean(Y, axis=0)
        self._y_std = np.where(np.nanstd(Y, axis=0) > 0, np.nanstd(Y, axis=0), 1.0)
        inputs = torch.as_tensor(self._scale(X), dtype=torch.float32)
        targets = torch.as_tensor((Y - self._y_mean) / self._y_std, dtype=torch.float32)
        measured = torch.isfinite(targets)
        targets = torch.nan_to_num(targets)
        rng = np.random.default_rng(self.seed)
        rows = torch.as_tensor(np.stack([
            rng.integers(0, len(X), len(X)) if self.bootstrap else np.arange(len(X))
            for _ in range(self.members)]))  # (s, n)
        self._weights = self._initial_weights(X.shape[1], Y.shape[1])
        optimizer = torch.optim.Adam(self._weights, lr=self.learning_rate,
                                     weight_decay=self.weight_decay)
        weight = measured[rows].float()  # (s, n, m)
        inputs, targets = inputs[rows], targets[rows]
        counts = weight.sum(dim=(1, 2)).clamp_min(1)
        losses = torch.zeros(self.members)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            squared = ((self._forward(inputs) - targets) ** 2) * weight
            losses = squared.sum(dim=(1, 2)) / counts
            losses.sum().backward()
            optimizer.step()
        for tensor in self._weights:
            tensor.requires_grad_(False)
        self._losses = losses.detach().tolist()
        return self

    def _initial_weights(self, d: int, m: int) -> list[Any]:
        """Weights and biases of the three layers for every member, drawn as
        ``torch.nn.Linear`` draws them (uniform in ±1/√fan_in), member k from its own
        seed ``seed * 1000 + k``."""
        import torch

        sizes = [(d, self.width), (self.width, self.width), (self.width, m)]
        per_member = []
        for k in range(self.members):
            generator = torch.Generator().manual_seed(self.seed * 1000 + k)
            layers = []
            for fan_in, fan_out in sizes:
                bound = 1 / np.sqrt(fan_in)
                for shape in ((fan_in, fan_out), (1, fan_out)):
                    layers.append((torch.rand(shape, generator=generator) * 2 - 1) * bound)
            per_member.append(layers)
        return [torch.stack(parts).requires_grad_() for parts in zip(*per_member, strict=True)]

    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Inputs ``(s, n, d)`` or ``(n, d)`` -> outputs ``(s, n, m)`` in standard units."""
        import torch

        w1, b1, w2, b2, w3, b3 = self._weights
        hidden = torch.nn.functional.silu(torch.matmul(inputs, w1) + b1)
        hidden = torch.nn.functional.silu(torch.baddbmm(b2, hidden, w2))
        return torch.baddbmm(b3, hidden, w3)

    def _members(self, X: np.ndarray) -> np.ndarray:
        """Member predictions ``(s, N, m)`` in property units."""
        import torch

        if not self._weights:
            raise NotFittedError("the ensemble has not been fitted yet: call fit(X, Y) first")
        inputs = torch.as_tensor(self._scale(X), dtype=torch.float32)
        with torch.no_grad():
            values = self._forward(inputs).double().numpy()
        return values * self._y_std + self._y_mean

    def predict(self, X: np.ndarray) -> Prediction:
        """Mean and spread ``(n, m)`` of the members."""
        return _predict(self._members, np.asarray(X, dtype=float))

    @property
    def model(self) -> Model:
        if not self._weights:
            raise NotFittedError("the ensemble has not been fitted yet: call fit(X, Y) first")
        assert self._y_mean is not None
        return ensemble_model(self._members, len(self._y_mean))

    def hyperparameters(self) -> dict[str, Any]:
        return {"members": self.members, "width": self.width, "epochs": self.epochs,
                "bootstrap": self.bootstrap, "train_loss": self._losses}

    def _scale(self, X: np.ndarray) -> np.ndarray:
        if self.bounds is None:
            return X
        span = np.where(self.bounds[1] > self.bounds[0], self.bounds[1] - self.bounds[0], 1.0)
        return (X - self.bounds[0]) / span


@dataclass
class Forest:
    """Extra trees per property; the trees are the ensemble members. ``bounds`` and
    ``warm_start`` are accepted for the common interface and not used (trees need no
    scaling)."""

    bounds: np.ndarray | None = None
    seed: int = 0
    warm_start: Mapping[str, Any] | None = None
    trees: int = 200
    min_samples_leaf: int = 1
    _forests: list[Any] = field(default_factory=list, init=False, repr=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        """Fit one forest per property on the rows where it was measured."""
        from sklearn.ensemble import ExtraTreesRegressor

        X, Y = _check(X, Y)
        self._forests = []
        for j in range(Y.shape[1]):
            rows = np.isfinite(Y[:, j])
            forest = ExtraTreesRegressor(n_estimators=self.trees, bootstrap=True,
                                         min_samples_leaf=self.min_samples_leaf,
                                         random_state=self.seed + j, n_jobs=1)
            self._forests.append(forest.fit(X[rows], Y[rows, j]))
        return self

    def _members(self, X: np.ndarray) -> np.ndarray:
        """Tree predictions ``(trees, N, m)``."""
        if not self._forests:
            raise NotFittedError("the forest has not been fitted yet: call fit(X, Y) first")
        # Each tree's ``tree_.predict`` directly: ``DecisionTreeRegressor.predict`` checks
        # its input on every call, which took 5/6 of the time of a Monte Carlo batch.
        X = np.ascontiguousarray(X, dtype=np.float32)
        return np.stack([np.stack([tree.tree_.predict(X)[:, 0] for tree in forest.estimators_])
                         for forest in self._forests], axis=-1)

    def predict(self, X: np.ndarray) -> Prediction:
        """Mean and spread ``(n, m)`` of the trees."""
        return _predict(self._members, np.asarray(X, dtype=float))

    @property
    def model(self) -> Model:
        if not self._forests:
            raise NotFittedError("the forest has not been fitted yet: call fit(X, Y) first")
        return ensemble_model(self._members, len(self._forests))

    def hyperparameters(self) -> dict[str, Any]:
        """Tree count and, per property, the impurity-based feature importances."""
        return {"trees": self.trees,
                "feature_importances": [f.feature_importances_.tolist() for f in self._forests]}
