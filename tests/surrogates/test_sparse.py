"""The sparse variational GP: accurate next to the exact GP, cheap marginals, BoTorch-ready."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from matloop.surrogates.gp import GaussianProcess
from matloop.surrogates.sparse import SparseGP

D = 3
BOUNDS = np.array([[0.0] * D, [1.0] * D])


def smooth_data(n: int, seed: int, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, 3)`` in the unit cube and two smooth properties ``(n, 2)``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, D))
    Y = np.stack([np.sin(3 * X + np.arange(D)).sum(1), np.cos(2 * X[:, 0]) * X[:, 1]], axis=1)
    return X, Y + noise * rng.standard_normal(Y.shape)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a busy machine a second one spins and slows every fit."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def fitted() -> SparseGP:
    X, Y = smooth_data(300, seed=0)
    return SparseGP(bounds=BOUNDS, seed=0, inducing=48, fit_points=150).fit(X, Y)


def test_shapes_and_accuracy_close_to_the_exact_gp(fitted: SparseGP) -> None:
    X, Y = smooth_data(300, seed=0)
    X_test, _ = smooth_data(300, seed=1)
    _, truth = smooth_data(300, seed=1, noise=0.0)
    prediction = fitted.predict(X_test)
    assert prediction.mean.shape == (300, 2) and prediction.std.shape == (300, 2)
    assert np.all(prediction.std > 0)
    assert fitted.model.num_outputs == 2
    exact = GaussianProcess(bounds=BOUNDS, seed=0).fit(X, Y).predict(X_test)
    sparse_rmse = np.sqrt(np.mean((prediction.mean - truth) ** 2, axis=0))
    exact_rmse = np.sqrt(np.mean((exact.mean - truth) ** 2, axis=0))
    assert np.all(sparse_rmse < 1.5 * exact_rmse + 0.005), (sparse_rmse, exact_rmse)


def test_predict_before_fit_raises() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        SparseGP().predict(np.zeros((2, D)))


def test_too_few_values_name_the_property() -> None:
    X, Y = smooth_data(20, seed=0)
    Y[1:, 1] = np.nan
    Y[:, 0] = np.nan
    Y[:2, 0] = 1.0
    with pytest.raises(ValueError, match="property 1"):
        SparseGP(bounds=BOUNDS).fit(X, Y)


def test_same_seed_same_predictions() -> None:
    X, Y = smooth_data(100, seed=2)
    X_test, _ = smooth_data(20, seed=3)
    first, second = (SparseGP(bounds=BOUNDS, seed=4, inducing=24, fit_points=60)
                     .fit(X, Y[:, :1]).predict(X_test) for _ in range(2))
    np.testing.assert_array_equal(first.mean, second.mean)
    np.testing.assert_array_equal(first.std, second.std)


def test_missing_values_are_skipped_per_property() -> None:
    X, Y = smooth_data(80, seed=0)
    Y[::2, 1] = np.nan
    surrogate = SparseGP(bounds=BOUNDS, seed=0, inducing=24).fit(X, Y)
    assert np.all(np.isfinite(surrogate.predict(X[:5]).mean))
    assert surrogate.hyperparameters()["fitted_on"] == [80, 40]


def test_marginal_model_matches_predict(fitted: SparseGP) -> None:
    import torch

    X_test, _ = smooth_data(50, seed=5)
    prediction = fitted.predict(X_test)
    posterior = fitted.marginal_model.posterior(torch.as_tensor(X_test).unsqueeze(-2))
    np.testing.assert_allclose(posterior.mean.squeeze(-2).numpy(), prediction.mean, rtol=1e-9)
    np.testing.assert_allclose(posterior.variance.squeeze(-2).sqrt().numpy(), prediction.std,
                               rtol=1e-9)


def test_predict_agrees_with_botorch_posterior(fitted: SparseGP) -> None:
    import torch

    X_test, _ = smooth_data(30, seed=6)
    posterior = fitted.model.posterior(torch.as_tensor(X_test))
    prediction = fitted.predict(X_test)
    np.testing.assert_allclose(posterior.mean.detach().numpy(), prediction.mean, rtol=1e-8)
    np.testing.assert_allclose(posterior.variance.detach().sqrt().numpy(), prediction.std,
                               rtol=1e-6)


def test_monte_carlo_acquisition_on_batches(fitted: SparseGP) -> None:
    import torch
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective

    X, _ = smooth_data(300, seed=0)
    acquisition = qLogNoisyExpectedImprovement(
        fitted.model, torch.as_tensor(X[:30]),
        objective=GenericMCObjective(lambda samples, X=None: samples[..., 0]))
    values = acquisition(torch.as_tensor(smooth_data(12, seed=7)[0]).reshape(4, 3, D))
    assert values.shape == (4,) and torch.all(torch.isfinite(values))


def test_hyperparameters_are_json(fitted: SparseGP) -> None:
    values = json.loads(json.dumps(fitted.hyperparameters()))
    assert values["approximation"] == "variational"
    assert values["inducing"] == [48, 48] and values["fitted_on"] == [300, 300]
    assert len(values["lengthscales"][0]) == D and len(values["noise"]) == 2


def test_uncertainty_grows_away_from_data() -> None:
    X = np.linspace(0, 0.5, 40)[:, None].repeat(D, axis=1)
    Y = np.sin(4 * X[:, :1])
    surrogate = SparseGP(bounds=BOUNDS, seed=0, inducing=16).fit(X, Y)
    prediction = surrogate.predict(np.array([[0.25] * D, [1.0] * D]))
    assert prediction.std[1, 0] > 3 * prediction.std[0, 0]
