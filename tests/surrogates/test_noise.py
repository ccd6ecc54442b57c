"""Heteroscedastic GP noise learnt from replicates (``[surrogate] noise``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from matloop.surrogates import make_surrogate
from matloop.surrogates.gp import GaussianProcess

BOUNDS = np.array([[0.0, 0.0], [1.0, 1.0]])


def noisier_to_the_right(candidates: int = 40, replicates: int = 3, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, 2)`` and one property ``(n, 1)``: a smooth function plus noise whose
    std grows tenfold across the box along x₀ (0.02 at x₀ = 0, 0.2 at x₀ = 1), each
    candidate measured ``replicates`` times."""
    rng = np.random.default_rng(seed)
    X = np.repeat(rng.uniform(0, 1, size=(candidates, 2)), replicates, axis=0)
    std = 0.02 * 10 ** X[:, 0]
    y = np.sin(3 * X[:, 0]) + X[:, 1] + rng.normal(0, 1, len(X)) * std
    return X, y[:, None]


def measurement_noise(gp: GaussianProcess, X: np.ndarray) -> np.ndarray:
    """The variance of a new measurement minus the latent variance ``(n, m)``, through
    BoTorch's own ``posterior(X, observation_noise=True)``."""
    import torch

    with torch.no_grad():
        T = torch.as_tensor(X, dtype=torch.double)
        noisy = gp.model.posterior(T, observation_noise=True).variance
        latent = gp.model.posterior(T).variance
        return (noisy - latent).numpy()


@pytest.mark.parametrize("noise", ["homoscedastic", "heteroscedastic"])
def test_predicted_noise_follows_the_replicates(noise: str) -> None:
    """Where the replicates scatter more, a heteroscedastic GP predicts more noise (the
    true variance is 40 times larger at x₀ = 0.9 than at x₀ = 0.1); one level cannot."""
    X, Y = noisier_to_the_right()
    gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise=noise).fit(X, Y)
    across = np.linspace(0.1, 0.9, 5)  # averaged along x₁
    quiet, loud = (measurement_noise(gp, np.stack([np.full(5, x0), across], 1)).mean()
                   for x0 in (0.1, 0.9))
    if noise == "homoscedastic":
        assert loud / quiet == pytest.approx(1.0)
        return
    assert loud / quiet > 8
    true = (0.02 * 10 ** np.array([0.1, 0.9])) ** 2
    assert true[0] / 3 < quiet < 3 * true[0] and true[1] / 3 < loud < 3 * true[1]
    recorded = gp.hyperparameters()["noise_model"]
    assert [m["kind"] for m in recorded] == ["heteroscedastic"]
    assert recorded[0]["replicated"] == 40 and recorded[0]["max"] > 10 * recorded[0]["min"]


def test_heteroscedastic_noise_is_learnt_in_warped_units() -> None:
    X, Y = noisier_to_the_right()
    Y = np.exp(2 * Y)  # skewed; the noise is learnt after the warp
    gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic",
                        warp=(0,)).fit(X, Y)
    assert gp.hyperparameters()["noise_model"][0]["kind"] == "heteroscedastic"
    prediction = gp.predict(X[::3])
    assert np.median(np.abs(prediction.mean - Y[::3]) / Y[::3]) < 0.2  # property units


def test_predictions_are_of_the_latent_function_and_marginals_agree() -> None:
    import torch

    from matloop.surrogates.marginal import MarginalGP

    X, Y = noisier_to_the_right()
    gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic").fit(X, Y)
    X_test = np.random.default_rng(1).uniform(0, 1, size=(40, 2))
    T = torch.as_tensor(X_test)
    with torch.no_grad():
        latent = gp.model.posterior(T)
        marginal = gp.marginal_model.posterior(T[:, None, :])
        mean, variance = MarginalGP(gp.model).marginals(T)
    assert isinstance(gp.marginal_model, MarginalGP)
    np.testing.assert_allclose(marginal.mean.reshape(-1), latent.mean.reshape(-1), atol=1e-8)
    # float32 products (marginal.py): the quiet corner's posterior variance is near the
    # 10⁻³ × prior where rows are recomputed in float64, so allow 2·10⁻³ here
    np.testing.assert_allclose(marginal.variance.reshape(-1), latent.variance.reshape(-1),
                               rtol=2e-3)
    prediction = gp.predict(X_test)
    np.testing.assert_allclose(prediction.mean, mean.numpy(), atol=1e-8)
    np.testing.assert_allclose(prediction.std ** 2, variance.numpy(), rtol=1e-8)
    assert (prediction.std ** 2 < latent.variance.numpy() + 1e-3).all()  # no noise in it


def test_properties_measured_once_fall_back_to_one_noise_level() -> None:
    """Property 0 is replicated; property 1 only once per candidate (NaN in the
    replicates): it gets the plain homoscedastic GP, and says why."""
    from botorch.models import SingleTaskGP

    X, Y = noisier_to_the_right()
    second = np.full(len(X), np.nan)
    second[::3] = np.cos(3 * X[::3, 1])
    Y = np.hstack([Y, second[:, None]])
    gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic").fit(X, Y)
    recorded = gp.hyperparameters()
    kinds = [m["kind"] for m in recorded["noise_model"]]
    assert kinds == ["heteroscedastic", "homoscedastic"]
    assert recorded["noise_model"][1]["replicated"] == 0
    assert "0 replicated candidates" in recorded["noise_model"][1]["reason"]
    second_model = gp.model.models[1]
    assert type(second_model) is SingleTaskGP
    plain = make_surrogate("gp", bounds=BOUNDS, seed=0).fit(X[::3], Y[::3, 1:])
    np.testing.assert_allclose(gp.predict(X[::3]).mean[:, 1], plain.predict(X[::3]).mean[:, 0],
                               atol=1e-6)
    assert measurement_noise(gp, X[:4]).shape == (4, 2)  # a model list with mixed noise
    assert json.loads(json.dumps(recorded))


def test_few_replicated_candidates_fall_back() -> None:
    from matloop.surrogates.noise import MIN_REPLICATED

    X, Y = noisier_to_the_right(replicates=1)
    few = MIN_REPLICATED - 1
    X, Y = np.vstack([X, X[:few]]), np.vstack([Y, Y[:few] + 0.01])
    gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic").fit(X, Y)
    assert gp.hyperparameters()["noise_model"][0] == {
        "kind": "homoscedastic", "replicated": few,
        "reason": f"{few} replicated candidates; a noise model needs {MIN_REPLICATED}"}


def test_warm_starts_cross_between_noise_models() -> None:
    """Raw parameters of either kind start the other: names that do not match are
    ignored, and the noise model starts from its own recorded parameters."""
    X, Y = noisier_to_the_right()
    hetero = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic").fit(X, Y)
    homo = make_surrogate("gp", bounds=BOUNDS, seed=0).fit(X, Y)
    raw = hetero.hyperparameters()["raw"][0]
    assert any(name.startswith("noise_model.") for name in raw)
    again = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic",
                           warm_start=hetero.hyperparameters()).fit(X, Y)
    np.testing.assert_allclose(again.hyperparameters()["noise_model"][0]["median"],
                               hetero.hyperparameters()["noise_model"][0]["median"],
                               rtol=0.05)
    for warm in (homo.hyperparameters(), hetero.hyperparameters()):
        for noise in ("homoscedastic", "heteroscedastic"):
            gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise=noise,
                                warm_start=warm).fit(X, Y)
            assert np.isfinite(gp.predict(X[:5]).mean).all()


def test_sparse_gp_stays_homoscedastic_and_says_so() -> None:
    X, Y = noisier_to_the_right()
    gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic",
                        exact_limit=50).fit(X, Y)
    recorded = gp.hyperparameters()
    assert recorded["approximation"] == "variational"
    assert recorded["noise_model"] == [{"kind": "homoscedastic",
                                        "reason": "sparse GP (beyond exact_limit)"}]


def test_unknown_noise_is_refused() -> None:
    X, Y = noisier_to_the_right()
    with pytest.raises(ValueError, match="unknown GP noise 'loud'"):
        make_surrogate("gp", noise="loud").fit(X, Y)


def test_acquisitions_run_on_the_heteroscedastic_model() -> None:
    from matloop.campaigns.schema import Target
    from matloop.campaigns.targets import TargetSet
    from matloop.loop.acquisition import select

    X, Y = noisier_to_the_right()
    gp = make_surrogate("gp", bounds=BOUNDS, seed=0, noise="heteroscedastic").fit(X, Y)
    choices = np.random.default_rng(3).uniform(0, 1, size=(200, 2))
    targets = TargetSet.from_targets([Target(property="y", goal="maximize")])
    for name, q in (("logei", 1), ("logei", 3), ("ucb", 1)):
        picks = select(name, gp, choices, X, Y, targets, q=q, seed=0)
        assert len(set(picks.tolist())) == q
        assert all(choices[i].sum() > 1.0 for i in picks), (name, choices[picks])


def test_the_campaign_field_validates(make_campaign, crossed_barrel_config) -> None:
    from matloop.errors import ConfigError

    campaign = make_campaign(crossed_barrel_config(surrogate={"noise": "heteroscedastic"}))
    assert campaign.surrogate.noise == "heteroscedastic"
    assert make_campaign(crossed_barrel_config()).surrogate.noise == "homoscedastic"
    with pytest.raises(ConfigError) as error:
        make_campaign(crossed_barrel_config(surrogate={"noise": "loud"}))
    assert "noise" in str(error.value) and "heteroscedastic" in str(error.value)


def test_a_lab_campaign_with_replicates_models_their_noise(make_campaign, lab_p3ht_config,
                                                           p3ht_pool) -> None:
    """A notebook lab campaign: 12 films measured three times each, noisier the more
    P3HT; the next batch is proposed from a heteroscedastic GP, and the cycle says so."""
    from matloop.store import Store

    config = lab_p3ht_config(surrogate={"noise": "heteroscedastic"},
                             loop={"initial": 12, "batch_size": 3})
    pool = p3ht_pool.drop(columns=["conductivity_S_per_cm"])
    rng = np.random.default_rng(0)
    with make_campaign(config, pool=pool).session() as session:
        batch = session.propose()
        column = "conductivity_S_per_cm [S/cm]"
        rows = []
        for _ in range(3):
            measured = batch.copy()
            truth = p3ht_pool.loc[measured["candidate_id"].astype(int), column[:-7]]
            noise = rng.normal(0, 1, len(measured)) * (1 + measured["p3ht_pct"].to_numpy())
            measured[column] = truth.to_numpy() + noise
            rows.append(measured)
        session.add_results(pd.concat(rows, ignore_index=True))
        proposed = session.propose()
        assert len(proposed) == 3 and proposed[f"predicted_{column}"].notna().all()
        store = Store(session.campaign.database_url, create=False)
        cycle = store.cycles(store.campaign_id("lab-p3ht"))[-1]
        assert cycle.hyperparameters["noise_model"][0]["kind"] == "heteroscedastic"
        assert cycle.hyperparameters["noise_model"][0]["replicated"] == 12


def test_a_run_without_replicates_falls_back(make_campaign, crossed_barrel_config) -> None:
    from matloop.loop.session import run
    from matloop.store import Store

    campaign = make_campaign(crossed_barrel_config(
        budget=8, initial=4, batch_size=2, surrogate={"noise": "heteroscedastic"}))
    result = run(campaign)
    assert result.stop_reason == "budget" and result.counts["succeeded"] == 8
    store = Store(campaign.database_url, create=False)
    model_cycles = [c for c in store.cycles(store.campaign_id("cb")) if c.strategy == "logei"]
    assert model_cycles and all(c.hyperparameters["noise_model"][0]["kind"] == "homoscedastic"
                                for c in model_cycles)
