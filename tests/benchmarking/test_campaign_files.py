"""Every benchmark campaign in examples/benchmarks is valid and has something to find: its
table gives each candidate of its pool a value, and its top-1 % set is a small part of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matloop.benchmarking.analysis import known_answers
from matloop.campaigns import load

FILES = sorted((Path(__file__).resolve().parents[2] / "examples" / "benchmarks").glob("*.toml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_benchmark_campaign_has_known_answers(path: Path) -> None:
    campaign = load(path)
    truth = known_answers(campaign, path.stem)
    assert truth.n >= 60
    assert np.isfinite(truth.values).any(axis=1).mean() > 0.99
    assert campaign.loop.budget < truth.n
