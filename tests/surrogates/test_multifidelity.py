"""The multi-fidelity GP: it learns how far a cheap source tracks the target fidelity,
uses a tracking source to predict the target, and recognises a noise source."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.errors import NotFittedError
from matloop.surrogates.multifidelity import MultiFidelityGP

D = 2
BOUNDS = np.array([[0.0] * D, [1.0] * D])


def truth(X: np.ndarray) -> np.ndarray:
    return 100 + 40 * np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1])


def data(cheap: str, n_top: int = 8, n_cheap: int = 60, seed: int = 0
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target values at ``n_top`` points and a cheap source at ``n_cheap`` more: an
    offset, shrunk copy of the target (``tracking``) or Gaussian noise (``noise``)."""
    rng = np.random.default_rng(seed)
    X_top, X_cheap = rng.random((n_top, D)), rng.random((n_cheap, D))
    if cheap == "tracking":
        y_cheap = 0.6 * truth(X_cheap) - 25 + rng.normal(0, 0.5, n_cheap)
    else:
        y_cheap = rng.normal(30, 10, n_cheap)
    X = np.vstack([X_top, X_cheap])
    Y = np.concatenate([truth(X_top), y_cheap])[:, None]
    return X, Y, np.array([0] * n_top + [1] * n_cheap)


def rmse(model: MultiFidelityGP, seed: int = 9) -> float:
    X = np.random.default_rng(seed).random((300, D))
    return float(np.sqrt(np.mean((model.predict(X).mean[:, 0] - truth(X)) ** 2)))


def top_only(X: np.ndarray, Y: np.ndarray, fidelity: np.ndarray) -> MultiFidelityGP:
    rows = fidelity == 0
    return MultiFidelityGP(BOUNDS, 2, seed=0).fit(X[rows], Y[rows], fidelity[rows])


def test_a_tracking_cheap_source_is_learnt_and_predicts_the_target() -> None:
    X, Y, fidelity = data("tracking")
    model = MultiFidelityGP(BOUNDS, 2, seed=0).fit(X, Y, fidelity)
    assert model.correlations()[0, 1] > 0.7
    # eight target values alone leave the surface uncertain; the cheap copy pins it down
    assert rmse(model) < 0.5 * rmse(top_only(X, Y, fidelity))
    cheap = model.predict_at(X[8:], 1)  # in the cheap source's own units
    assert np.allclose(cheap.mean[:, 0], Y[8:, 0], atol=3.0)


def test_a_noise_source_carries_no_information_about_the_target() -> None:
    X, Y, fidelity = data("noise")
    model = MultiFidelityGP(BOUNDS, 2, seed=0).fit(X, Y, fidelity)
    probe = np.random.default_rng(3).random((50, D))
    assert model.information(probe, 1).max() < 0.01
    assert model.correlations()[0, 1] < 0.4
    tracking = MultiFidelityGP(BOUNDS, 2, seed=0).fit(*data("tracking", n_cheap=10))
    assert tracking.information(probe, 1).mean() > 0.03
    # and it does not spoil the target's model much against the target data alone
    assert rmse(model) < 1.5 * rmse(top_only(X, Y, fidelity)) + 1.0


def test_information_at_the_target_fidelity_vanishes_where_it_was_measured() -> None:
    X, Y, fidelity = data("tracking")
    model = MultiFidelityGP(BOUNDS, 2, seed=0).fit(X, Y, fidelity)
    measured = model.information(X[:8], 0)[:, 0]
    fresh = model.information(np.random.default_rng(5).random((40, D)), 0)[:, 0]
    assert measured.mean() < 0.6 * fresh.mean()


def test_the_botorch_model_is_the_target_fidelity_in_its_units() -> None:
    import torch

    X, Y, fidelity = data("tracking")
    model = MultiFidelityGP(BOUNDS, 2, seed=0).fit(X, Y, fidelity)
    probe = np.random.default_rng(4).random((5, D))
    with torch.no_grad():
        mean = model.model.posterior(torch.as_tensor(probe)).mean.numpy()[:, 0]
    assert np.allclose(mean, model.predict(probe).mean[:, 0], atol=1e-6)


def test_several_properties_each_get_their_own_model() -> None:
    X, Y, fidelity = data("tracking")
    Y2 = np.column_stack([Y[:, 0], -2 * Y[:, 0]])
    Y2[3, 1] = np.nan  # a property not measured in one evaluation
    model = MultiFidelityGP(BOUNDS, 2, seed=0).fit(X, Y2, fidelity)
    assert model.correlations().shape == (2, 2)
    assert model.predict(X[:4]).mean.shape == (4, 2)
    assert model.model.num_outputs == 2


def test_warm_start_reaches_the_same_correlation_quickly() -> None:
    X, Y, fidelity = data("tracking")
    cold = MultiFidelityGP(BOUNDS, 2, seed=0).fit(X, Y, fidelity)
    warm = MultiFidelityGP(BOUNDS, 2, seed=1, warm_start=cold.hyperparameters()).fit(
        X, Y, fidelity)
    assert warm.correlations()[0, 1] == pytest.approx(cold.correlations()[0, 1], abs=0.05)


def test_bad_input_is_refused() -> None:
    X, Y, fidelity = data("tracking")
    with pytest.raises(NotFittedError):
        MultiFidelityGP(BOUNDS, 2).predict(X)
    with pytest.raises(ValueError, match=r"fidelities must lie in 0\.\.1"):
        MultiFidelityGP(BOUNDS, 2).fit(X, Y, fidelity + 1)
    with pytest.raises(ValueError, match="target fidelity"):
        MultiFidelityGP(BOUNDS, 2).fit(X[7:], Y[7:], fidelity[7:])  # one target value
