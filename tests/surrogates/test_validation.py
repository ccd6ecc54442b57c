"""Cross-validation figures: checked by hand and on models that are right or wrong."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.protocols import Prediction
from matloop.surrogates import make_surrogate
from matloop.surrogates.validation import (
    calibration_warning,
    cross_validate,
    metrics,
    replicate_means,
)


def test_metrics_by_hand() -> None:
    measured = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.0, 2.5, 2.0, 4.0])
    std = np.array([1.0, 1.0, 0.5, 1.0])
    figures = metrics(measured, predicted, std)
    assert figures["mae"] == pytest.approx(1.5 / 4)
    assert figures["rmse"] == pytest.approx(np.sqrt(1.25 / 4))
    assert figures["r2"] == pytest.approx(1 - 1.25 / 5.0)
    # |z| = 0, 0.5, 2, 0: three inside one sigma, three inside 1.96 sigma
    assert figures["coverage_68"] == 0.75 and figures["coverage_95"] == 0.75
    assert figures["z2_mean"] == pytest.approx((0.25 + 4) / 4)


def test_gaussian_errors_with_the_right_sigma_are_calibrated() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=20000)
    std = rng.uniform(0.5, 2.0, size=20000)
    predicted = truth + rng.normal(size=20000) * std
    figures = metrics(truth, predicted, std)
    assert figures["coverage_68"] == pytest.approx(0.683, abs=0.01)
    assert figures["coverage_95"] == pytest.approx(0.95, abs=0.01)
    assert figures["z2_mean"] == pytest.approx(1.0, abs=0.05)
    assert figures["miscalibration_area"] < 0.01
    overconfident = metrics(truth, predicted, std / 4)
    assert overconfident["coverage_95"] < 0.5 and overconfident["miscalibration_area"] > 0.2
    assert "overconfident" in calibration_warning("y", overconfident)
    assert calibration_warning("y", figures) is None
    assert "too wide" in calibration_warning("y", metrics(truth, predicted, std * 4))


class Constant:
    """A deliberately bad model: predicts the training mean with a tiny std."""

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Constant:
        self.value = float(np.nanmean(Y))
        return self

    def predict(self, X: np.ndarray) -> Prediction:
        return Prediction(np.full((len(X), 1), self.value), np.full((len(X), 1), 1e-3))


def test_cross_validation_tells_a_good_model_from_a_bad_one() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(40, 2))
    Y = np.stack([np.sin(3 * X[:, 0]) + X[:, 1], np.full(40, np.nan)], axis=1)
    Y[:3, 1] = 1.0  # too few values: the second property is not validated
    bounds = np.array([[0.0, 0.0], [1.0, 1.0]])
    good = cross_validate(lambda j: make_surrogate("gp", bounds=bounds), X, Y, folds=5)
    bad = cross_validate(lambda j: Constant(), X, Y, folds=5)  # type: ignore[arg-type,return-value]
    assert set(good) == {0} and set(bad) == {0}
    assert good[0]["n"] == 40 and len(good[0]["predicted"]) == 40
    assert good[0]["r2"] > 0.9 and bad[0]["r2"] < 0.05
    assert good[0]["mae"] < bad[0]["mae"] / 5
    assert bad[0]["coverage_95"] < 0.1 and good[0]["coverage_95"] > 0.7


def test_replicates_are_averaged_and_never_split_across_folds() -> None:
    X = np.array([[0.0], [1.0], [0.0], [2.0], [0.0]])
    Y = np.array([[1.0, np.nan], [5.0, 7.0], [2.0, 4.0], [6.0, np.nan], [3.0, np.nan]])
    unique, means = replicate_means(X, Y)
    assert unique.tolist() == [[0.0], [1.0], [2.0]]
    assert means[:, 0].tolist() == [2.0, 5.0, 6.0]
    assert means[0, 1] == 4.0 and means[1, 1] == 7.0 and np.isnan(means[2, 1])

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, size=(12, 1))
    repeated = np.repeat(x, 3, axis=0)  # every candidate measured three times
    values = np.sin(6 * repeated) + rng.normal(0, 0.01, size=repeated.shape)
    figures = cross_validate(lambda j: Memorise(), repeated, values, folds=4)[0]
    # a model that only remembers its training rows knows nothing of a held-out
    # candidate; had replicates been split, it would have seen most of them
    assert figures["n"] == 12 and figures["r2"] < 0.5


class Memorise:
    """Predicts a training row's value for the same features, else the training mean."""

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Memorise:
        self.seen = {tuple(x): y for x, y in zip(X, Y, strict=True)}
        self.mean = Y.mean(axis=0)
        return self

    def predict(self, X: np.ndarray) -> Prediction:
        mean = np.array([self.seen.get(tuple(x), self.mean) for x in X])
        return Prediction(mean=mean, std=np.ones_like(mean))
