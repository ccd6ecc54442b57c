"""Thompson sampling over the pool."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.campaigns.schema import Target
from matloop.campaigns.targets import TargetSet
from matloop.loop import thompson
from matloop.loop.thompson import thompson_picks
from matloop.surrogates.gp import GaussianProcess

MAXIMISE = TargetSet.from_targets([Target(property="y", goal="maximize")])
MINIMISE = TargetSet.from_targets([Target(property="y", goal="minimize")])


def fitted(seed: int = 0) -> tuple[GaussianProcess, np.ndarray]:
    """A GP of y = -(x - 0.8)² on 12 points and a pool of 300 in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.random((12, 1))
    gp = GaussianProcess(bounds=np.array([[0.0], [1.0]])).fit(x, -(x - 0.8) ** 2)
    return gp, np.linspace(0, 1, 300).reshape(-1, 1)


def test_picks_are_distinct_seeded_and_near_the_optimum() -> None:
    gp, pool = fitted()
    picks = thompson_picks(gp, pool, MAXIMISE, 5, seed=1)
    assert len(set(picks.tolist())) == 5
    np.testing.assert_array_equal(picks, thompson_picks(gp, pool, MAXIMISE, 5, seed=1))
    assert not np.array_equal(picks, thompson_picks(gp, pool, MAXIMISE, 5, seed=2))
    assert np.all(np.abs(pool[picks, 0] - 0.8) < 0.25)


def test_minimising_looks_at_the_other_end() -> None:
    gp, pool = fitted()
    picks = thompson_picks(gp, pool, MINIMISE, 3, seed=0)
    assert np.all(np.abs(pool[picks, 0] - 0.8) > 0.4)


def test_large_pools_draw_over_the_optimistic_shortlist(monkeypatch) -> None:
    gp, pool = fitted()
    monkeypatch.setattr(thompson, "SHORTLIST", 20)
    prediction = gp.predict(pool)
    optimistic = prediction.mean[:, 0] + thompson.OPTIMISM * prediction.std[:, 0]
    allowed = set(np.argsort(-optimistic)[:20].tolist())
    picks = thompson_picks(gp, pool, MAXIMISE, 4, seed=0)
    assert set(picks.tolist()) <= allowed


def test_range_targets_are_refused() -> None:
    gp, pool = fitted()
    ranged = TargetSet.from_targets([Target(property="y", above=0.0)])
    with pytest.raises(ValueError, match="'thompson' needs one maximize/minimize"):
        thompson_picks(gp, pool, ranged, 1, 0)


def test_the_loop_runs_with_thompson(make_campaign, crossed_barrel_config, tmp_path) -> None:
    from matloop.loop.session import run
    from matloop.store import Store

    campaign = make_campaign(crossed_barrel_config(budget=9, initial=4, batch_size=2,
                                                   acquisition="thompson"))
    result = run(campaign)
    assert result.counts["succeeded"] == 9
    store = Store(campaign.database_url, create=False)
    strategies = {c.strategy for c in store.cycles(result.campaign_id)}
    assert strategies == {"initial", "thompson"}
