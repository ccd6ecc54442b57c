"""Every surrogate kind runs a whole campaign (fit, batch selection, record)."""

from __future__ import annotations

import pytest

from matloop.campaigns import load
from matloop.loop.run import run
from matloop.store import Store


@pytest.mark.parametrize("kind", ["ensemble", "forest"])
def test_a_campaign_runs_with_each_surrogate(crossed_barrel, kind: str) -> None:
    path = crossed_barrel(budget=10, initial=4, batch_size=2)
    path.write_text(path.read_text().replace('[oracle]', f'[surrogate]\nkind = "{kind}"\n\n'
                                             '[oracle]'))
    campaign = load(path)
    assert campaign.surrogate.kind == kind
    result = run(campaign)
    assert result.stop_reason == "budget" and result.counts["succeeded"] == 10
    store = Store(campaign.database_url, create=False)
    cycles = store.cycles(store.campaign_id("cb"))
    assert [c.strategy for c in cycles] == ["initial", "logei", "logei", "logei"]
