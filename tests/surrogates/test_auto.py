"""``auto`` picks the surrogate kind that cross-validates best, and keeps it between
comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.errors import ConfigError
from matloop.loop.session import Session
from matloop.surrogates import describe_model, make_surrogate
from matloop.surrogates.auto import KINDS, MIN_TO_COMPARE

BOUNDS_1D = np.array([[0.0], [1.0]])


def smooth(n: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.linspace(0, 1, n)[:, None]
    return X, np.sin(3 * X)


def steps(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A staircase with 8 sharp steps: trees fit it, a smooth GP blurs every edge."""
    X = np.random.default_rng(0).uniform(0, 1, size=(n, 1))
    return X, np.floor(8 * X) % 2


def test_few_values_use_the_gp_without_comparing() -> None:
    X, Y = smooth(MIN_TO_COMPARE - 1)
    auto = make_surrogate("auto", bounds=BOUNDS_1D).fit(X, Y)
    assert auto.chosen == "gp" and auto.scores == {} and auto.cross_validation is None
    assert "too few" in auto.hyperparameters()["auto"]["reason"]


def test_the_kind_with_the_lowest_held_out_nlpd_wins() -> None:
    X, Y = smooth(24)
    auto = make_surrogate("auto", bounds=BOUNDS_1D, folds=3).fit(X, Y)
    assert set(auto.scores) == set(KINDS)
    assert auto.chosen == min(auto.scores, key=auto.scores.get) == "gp"
    assert auto.cross_validation[0]["nlpd"] == auto.scores["gp"]
    recorded = auto.hyperparameters()
    assert recorded["auto"]["chosen"] == "gp" and "lengthscales" in recorded
    assert describe_model(recorded).startswith("auto chose gp: lowest nlpd")


def test_a_staircase_is_left_to_the_trees() -> None:
    X, Y = steps(60)
    auto = make_surrogate("auto", bounds=BOUNDS_1D, folds=3).fit(X, Y)
    assert auto.chosen == "forest", auto.scores
    assert auto.scores["forest"] < auto.scores["gp"]


def test_between_comparisons_the_last_choice_is_kept() -> None:
    X, Y = smooth(24)
    kept = make_surrogate("auto", bounds=BOUNDS_1D, reselect=False,
                          warm_start={"auto": {"chosen": "forest"}}).fit(X, Y)
    assert kept.chosen == "forest" and kept.scores == {}
    assert kept.predict(X[:3]).mean.shape == (3, 1)


def test_auto_needs_cross_validation(make_campaign, crossed_barrel_config) -> None:
    config = crossed_barrel_config(surrogate={"kind": "auto", "validate_every": 0})
    with pytest.raises(ConfigError, match="validate_every must be at least 1"):
        make_campaign(config)


@pytest.mark.slow
def test_a_campaign_records_the_choice_and_reuses_the_figures(
        make_campaign, crossed_barrel_config) -> None:
    from matloop.loop.session import run
    from matloop.store import Store

    campaign = make_campaign(crossed_barrel_config(
        budget=16, initial=10, batch_size=2,
        surrogate={"kind": "auto", "validate_every": 2, "folds": 3}))
    run(campaign)
    store = Store(campaign.database_url, create=False)
    records = [c.hyperparameters for c in store.cycles(store.campaign_id("cb"))
               if c.strategy != "initial"]
    assert len(records) == 3  # cycles 1, 2, 3: compared at 2 (10 + 2 values), kept at 3
    compared, kept = records[1]["auto"], records[2]["auto"]
    assert set(compared["scores"]) == set(KINDS) and kept["scores"] == {}
    assert kept["chosen"] == compared["chosen"]
    assert records[1]["validation"]["toughness"]["nlpd"] == compared["scores"][
        compared["chosen"]]
    assert Session(campaign).status()["last_cycle"]["hyperparameters"]["auto"]["chosen"] \
        == compared["chosen"]
