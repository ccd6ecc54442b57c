"""Every surrogate kind runs a whole campaign (fit, batch selection, record)."""

from __future__ import annotations

import pytest

from matloop.loop.session import Session, run
from matloop.store import Store


@pytest.mark.parametrize("kind", ["ensemble", "forest"])
def test_a_campaign_runs_with_each_surrogate(make_campaign, crossed_barrel_config,
                                             kind: str) -> None:
    campaign = make_campaign(crossed_barrel_config(budget=10, initial=4, batch_size=2,
                                                   surrogate={"kind": kind}))
    assert campaign.surrogate.kind == kind
    result = run(campaign)
    assert result.stop_reason == "budget" and result.counts["succeeded"] == 10
    store = Store(campaign.database_url, create=False)
    cycles = store.cycles(store.campaign_id("cb"))
    assert [c.strategy for c in cycles] == ["initial", "logei", "logei", "logei"]


def test_each_model_cycle_is_cross_validated_and_status_shows_it(
        make_campaign, crossed_barrel_config) -> None:

    campaign = make_campaign(crossed_barrel_config(budget=12, initial=6, batch_size=2,
                                                   surrogate={"validate_every": 1}))
    run(campaign)
    summary = Session(campaign).status()
    figures = summary["validation"]["toughness"]
    assert {"mae", "rmse", "r2", "coverage_68", "coverage_95", "z2_mean",
            "miscalibration_area", "n"} <= set(figures)
    assert figures["n"] == 10 and summary["validation_cycle"] == 3  # the last model cycle
    assert 0 <= figures["coverage_68"] <= figures["coverage_95"] <= 1
    store = Store(campaign.database_url, create=False)
    model_cycles = [c for c in store.cycles(store.campaign_id("cb")) if c.strategy == "logei"]
    assert all("validation" in c.hyperparameters for c in model_cycles)


def test_validation_can_be_switched_off(make_campaign, crossed_barrel_config) -> None:

    config = crossed_barrel_config(budget=8, initial=6, batch_size=2,
                                   surrogate={"validate_every": 0})
    run(make_campaign(config))
    assert Session(make_campaign(config)).status()["validation"] == {}
