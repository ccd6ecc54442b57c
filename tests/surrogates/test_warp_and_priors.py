"""Output warping and the choice of GP priors."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.surrogates.gp import GaussianProcess
from matloop.surrogates.warp import OutputWarp


def skewed(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, 2)`` and a property spanning three decades ``(n, 1)``."""
    x = np.random.default_rng(seed).random((n, 2))
    return x, np.exp(7 * x[:, :1]) + x[:, 1:]


def test_warp_is_monotone_and_inverts() -> None:
    _, y = skewed()
    warp = OutputWarp.fit(y[:, 0])
    z = warp.forward(y[:, 0])
    assert np.all(np.diff(z[np.argsort(y[:, 0])]) > 0)
    np.testing.assert_allclose(warp.inverse(z), y[:, 0], rtol=1e-6)
    assert abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-6  # standardised
    assert warp.exponent < 0.5  # a log-like transform for exponential growth


def test_warp_keeps_unmeasured_values_missing() -> None:
    y = np.array([1.0, np.nan, 3.0, 10.0, 100.0])
    z = OutputWarp.fit(y).forward(y)
    assert np.isnan(z[1]) and np.isfinite(z[[0, 2, 3, 4]]).all()


def test_inverse_stays_finite_beyond_the_transform_range() -> None:
    y = np.array([0.0, 0.1, 0.2, 0.3, 50.0, 60.0])  # a bounded (negative-exponent) warp
    warp = OutputWarp.fit(y)
    back = warp.inverse(np.array([-1e3, 1e3]))
    assert np.isfinite(back).all()
    assert back[0] >= y.min() - np.ptp(y) and back[1] <= y.max() + np.ptp(y)


def test_warped_gp_predicts_in_property_units() -> None:
    x, y = skewed()
    gp = GaussianProcess(bounds=np.array([[0, 0], [1, 1.0]]), warp=(0,)).fit(x, y)
    prediction = gp.predict(x)
    assert np.median(np.abs(prediction.mean - y) / y) < 0.1
    assert (prediction.std > 0).all()
    assert "0" in gp.hyperparameters()["warp"]
    with np.errstate(all="ignore"):
        plain = GaussianProcess(bounds=np.array([[0, 0], [1, 1.0]])).fit(x, y)
    assert "warp" not in plain.hyperparameters()


def test_warp_changes_what_the_model_scores_but_not_the_order() -> None:
    import torch

    x, y = skewed()
    gp = GaussianProcess(bounds=np.array([[0, 0], [1, 1.0]]), warp=(0,)).fit(x, y)
    with torch.no_grad():
        latent = gp.model.posterior(torch.as_tensor(x)).mean.numpy()[:, 0]
    assert latent.max() < 5  # warped and standardised, not in the thousands
    best = np.argsort(y[:, 0])[-5:]
    assert set(np.argsort(latent)[-5:]) == set(best)


@pytest.mark.parametrize("prior", ["dimension-scaled", "gamma"])
def test_both_priors_fit_and_report_length_scales(prior: str) -> None:
    x, y = skewed()
    gp = GaussianProcess(bounds=np.array([[0, 0], [1, 1.0]]), prior=prior).fit(x, np.log(y))
    lengthscales = gp.hyperparameters()["lengthscales"][0]
    assert len(lengthscales) == 2
    assert lengthscales[0] < lengthscales[1]  # the first input matters more
    kernel = type(gp.model.covar_module).__name__
    assert kernel == ("ScaleKernel" if prior == "gamma" else "RBFKernel")  # the default


def test_unknown_prior_is_refused() -> None:
    from matloop.surrogates.kernels import gp_modules

    with pytest.raises(ValueError, match="unknown GP prior 'flat'"):
        gp_modules(2, None, "flat")
    with pytest.raises(ValueError, match="unknown GP kernel 'rq'"):
        gp_modules(2, None, kernel="rq")


@pytest.mark.parametrize(("targets", "expected"), [
    ([{"property": "y", "goal": "maximize"}], (0,)),
    ([{"property": "y", "goal": "maximize"}, {"property": "y", "below": 9.0}], ()),
    ([{"property": "y", "goal": "maximize"}, {"property": "z", "below": 9.0}], (0,)),
    ([{"property": "y", "goal": "maximize"}, {"property": "z", "goal": "minimize"}], ()),
    ([{"property": "y", "above": 1.0}], ()),
])
def test_which_properties_are_warped(make_campaign, crossed_barrel_config, targets,
                                     expected) -> None:
    from matloop.loop.model import warped_columns

    config = crossed_barrel_config(acquisition="auto", surrogate={"warp": "power"},
                                   targets=targets)
    config["oracle"] = {"kind": "python", "function": "math:hypot"}
    campaign = make_campaign(config)
    assert warped_columns(campaign, campaign.properties) == expected
    plain = make_campaign({**config, "surrogate": {}})
    assert warped_columns(plain, plain.properties) == ()


@pytest.mark.parametrize(("prior", "kernel", "expected"), [
    ("dimension-scaled", "rbf", "RBFKernel"), ("gamma", "rbf", "RBFKernel"),
    ("gamma", "matern52", "MaternKernel")])
def test_the_kernel_is_chosen(prior: str, kernel: str, expected: str) -> None:
    x, y = skewed()
    gp = GaussianProcess(bounds=np.array([[0, 0], [1, 1.0]]), prior=prior,
                         kernel=kernel).fit(x, np.log(y))
    inner = getattr(gp.model.covar_module, "base_kernel", gp.model.covar_module)
    assert type(inner).__name__ == expected
    assert len(gp.hyperparameters()["lengthscales"][0]) == 2
    assert np.isfinite(gp.predict(x).mean).all()


def test_restarts_keep_the_best_optimum_of_the_marginal_likelihood() -> None:
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from matloop.surrogates.gp import _log_posterior

    x = np.random.default_rng(3).random((25, 4))
    y = np.sin(9 * x[:, :1]) + 0.3 * x[:, 1:2] ** 2  # rough in x0, smooth in x1, x2, x3 inert
    bounds = np.array([[0.0] * 4, [1.0] * 4])
    values = []
    for restarts in (1, 3):
        gp = GaussianProcess(bounds=bounds, seed=0, restarts=restarts,
                             kernel="matern52").fit(x, y)  # a case with a higher optimum
        values.append(_log_posterior(ExactMarginalLogLikelihood(gp.model.likelihood,
                                                                gp.model)))
    single, best = values
    assert best > single + 1e-4  # a draw from the priors climbed higher, and was kept
    warm = GaussianProcess(bounds=bounds, seed=0, restarts=3, kernel="matern52",
                           warm_start=gp.hyperparameters()).fit(x, y)
    assert warm.predict(x[:3]).mean.shape == (3, 1)  # a warm fit makes one start
