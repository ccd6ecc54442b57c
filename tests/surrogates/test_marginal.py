"""The fast marginal posterior equals GPyTorch's own batched posterior: means to
float64 round-off, variances to 1e-4 relative (their product runs in float32)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from matloop.surrogates import make_surrogate
from matloop.surrogates.marginal import MarginalGP, exact_marginals


@pytest.fixture(scope="module")
def two_property_gp():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(25, 6))
    Y = np.stack([X.sum(1), np.sin(3 * X[:, 0])], axis=1)
    Y[::3, 1] = np.nan
    return make_surrogate("gp", bounds=np.stack([np.zeros(6), np.ones(6)])).fit(X, Y)


def test_marginals_match_the_batched_exact_posterior(two_property_gp) -> None:
    X = torch.as_tensor(np.random.default_rng(1).uniform(-0.2, 1.2, size=(300, 6)))
    with torch.no_grad():
        reference = two_property_gp.model.posterior(X.unsqueeze(-2))
    for j, gp in enumerate(two_property_gp.model.models):
        mean, variance = exact_marginals(gp, X)
        torch.testing.assert_close(mean, reference.mean[:, 0, j])
        torch.testing.assert_close(variance, reference.variance[:, 0, j], rtol=1e-4, atol=0)


def test_small_variances_near_measured_points_stay_accurate() -> None:
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(400, 3))
    gp = make_surrogate("gp", bounds=np.stack([np.zeros(3), np.ones(3)])).fit(
        X, np.sin(6 * X).sum(1, keepdims=True))
    at_data = torch.as_tensor(np.concatenate([X[:100], X[:100] + 1e-3]))
    with torch.no_grad():
        reference = gp.model.posterior(at_data.unsqueeze(-2)).variance[:, 0, 0]
    _, variance = exact_marginals(gp.model, at_data)
    assert float(reference.max() / gp.model.outcome_transform.stdvs.square()) < 1e-2
    torch.testing.assert_close(variance, reference, rtol=1e-4, atol=0)


def test_marginal_model_posterior_and_predict_agree(two_property_gp) -> None:
    X = np.random.default_rng(2).uniform(size=(50, 6))
    posterior = MarginalGP(two_property_gp.model).posterior(torch.as_tensor(X)[:, None, :])
    prediction = two_property_gp.predict(X)
    np.testing.assert_allclose(posterior.mean[:, 0, :].numpy(), prediction.mean)
    np.testing.assert_allclose(posterior.variance[:, 0, :].sqrt().numpy(), prediction.std)


def test_joint_posteriors_are_passed_through(two_property_gp) -> None:
    X = torch.as_tensor(np.random.default_rng(3).uniform(size=(4, 3, 6)))
    with torch.no_grad():
        joint = MarginalGP(two_property_gp.model).posterior(X)
        reference = two_property_gp.model.posterior(X)
    torch.testing.assert_close(joint.mean, reference.mean)
