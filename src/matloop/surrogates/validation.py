"""Is the model any good? k-fold cross-validation of a surrogate, per property.

Accuracy: MAE, RMSE and R² of the held-out predictions. Uncertainty: the fraction of
held-out values inside the predicted 68 % and 95 % central intervals (``coverage_68``,
``coverage_95``), the mean squared standardised error ``z² = ((y − μ) / σ)²`` (1 when the
stated σ is right, above 1 when the model is overconfident) and the miscalibration area:
the mean gap between the observed and the stated fraction inside central intervals of
every level (0 is perfect, 0.5 the worst). Both together: the mean negative log predictive
density of the held-out values under N(μ, σ²), with values in units of their standard
deviation (``nlpd``, lower is better; about 1.4 for a model that predicts nothing but
the mean and spread of the data). σ is the model's predictive std of the latent
property, so measurement noise makes coverage slightly low even for a right model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from matloop.protocols import Surrogate

LEVELS = np.linspace(0.01, 0.99, 99)
MIN_POINTS = 4  # per property: fewer measured values are not validated


def cross_validate(make: Callable[[int], Surrogate], X: np.ndarray, Y: np.ndarray,
                   folds: int = 5, seed: int = 0) -> dict[int, dict[str, Any]]:
    """Metrics per property index of ``Y`` ``(n, m)`` for surrogates from ``make(j)`` (a
    one-property model of property j), each fitted on all but one fold of the rows where
    that property was measured.

    Also returns the held-out ``measured``, ``predicted`` and ``std`` lists (for parity
    plots). Properties with fewer than ``MIN_POINTS`` values are left out. Rows with the
    same features (replicates) are first averaged, so that no candidate is both trained
    on and held out.
    """
    X, Y = replicate_means(X, Y)
    rng = np.random.default_rng(seed)
    results: dict[int, dict[str, Any]] = {}
    for j in range(Y.shape[1]):
        rows = np.flatnonzero(np.isfinite(Y[:, j]))
        if len(rows) < MIN_POINTS:
            continue
        k = min(folds, len(rows))
        fold_of = rng.permutation(np.arange(len(rows)) % k)
        mean = np.empty(len(rows))
        std = np.empty(len(rows))
        for fold in range(k):
            test, train = rows[fold_of == fold], rows[fold_of != fold]
            prediction = make(j).fit(X[train], Y[train, j:j + 1]).predict(X[test])
            mean[fold_of == fold] = prediction.mean[:, 0]
            std[fold_of == fold] = prediction.std[:, 0]
        results[j] = metrics(Y[rows, j], mean, std)
    return results


def replicate_means(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(k, d)`` of the k distinct rows of ``X`` ``(n, d)`` and, per property,
    the mean of their measured values ``(k, m)`` (NaN where none was measured)."""
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
    unique, group = np.unique(X, axis=0, return_inverse=True)
    if len(unique) == len(X):
        return X, Y
    group = group.reshape(-1)
    measured = np.isfinite(Y)
    counts = np.stack([np.bincount(group, measured[:, j], len(unique))
                       for j in range(Y.shape[1])], axis=1)
    sums = np.stack([np.bincount(group, np.where(measured[:, j], Y[:, j], 0.0), len(unique))
                     for j in range(Y.shape[1])], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return unique, np.where(counts > 0, sums / counts, np.nan)


def calibration_curve(measured: np.ndarray, predicted: np.ndarray, std: np.ndarray,
                      levels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The stated levels ``(k,)`` and the observed fraction ``(k,)`` of held-out values
    inside the central interval of each level (``LEVELS`` by default)."""
    from scipy.special import ndtri

    levels = LEVELS if levels is None else np.asarray(levels, dtype=float)
    z = np.abs(np.asarray(measured) - np.asarray(predicted)) / np.maximum(std, 1e-12)
    inside = (z[:, None] <= ndtri((1 + levels) / 2)[None, :]).mean(axis=0)
    return levels, inside


def metrics(measured: np.ndarray, predicted: np.ndarray, std: np.ndarray) -> dict[str, Any]:
    """Accuracy and calibration of predictions ``(n,)`` with std ``(n,)``."""
    error = measured - predicted
    spread = float(np.sum((measured - measured.mean()) ** 2))
    z = np.abs(error) / np.maximum(std, 1e-12)
    scale = float(np.std(measured)) or 1.0
    log_density = -0.5 * np.log(2 * np.pi * np.maximum(std / scale, 1e-12) ** 2) - z ** 2 / 2
    _, inside = calibration_curve(measured, predicted, std)
    return {
        "n": len(measured),
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error ** 2))),
        "r2": float(1 - np.sum(error ** 2) / spread) if spread > 0 else float("nan"),
        "coverage_68": float(np.mean(z <= 1.0)),
        "coverage_95": float(np.mean(z <= 1.959964)),
        "z2_mean": float(np.mean(z ** 2)),
        "miscalibration_area": float(np.mean(np.abs(inside - LEVELS))),
        "nlpd": float(-np.mean(log_density)),
        "measured": measured.tolist(),
        "predicted": predicted.tolist(),
        "std": std.tolist(),
    }


def calibration_warning(name: str, figures: dict[str, Any]) -> str | None:
    """A sentence when the model's uncertainty is badly off, else None."""
    if figures["n"] < 10:
        return None
    if figures["coverage_95"] < 0.8:
        return (f"{name}: only {figures['coverage_95']:.0%} of held-out values fall inside "
                "the model's 95 % intervals: it is overconfident")
    if figures["coverage_68"] > 0.95:
        return (f"{name}: {figures['coverage_68']:.0%} of held-out values fall inside the "
                "68 % intervals: the model's uncertainty is too wide")
    return None
