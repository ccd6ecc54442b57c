"""The two-fidelity replay (``benchmarking.fidelity``) on a small synthetic pool: the
bookkeeping of every strategy, and that the multi-fidelity loop buys a cheap source that
tracks the target and not one that is noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matloop.benchmarking.fidelity import FidelityProblem, funnel_order, replay
from matloop.campaigns.schema import Target
from matloop.campaigns.targets import TargetSet

COSTS = (100.0, 1.0)


def problem(cheap: str, seed: int = 0) -> FidelityProblem:
    """121 candidates on a grid; target = a smooth bump; hits: value >= 80 (a few %)."""
    grid = np.array([(a, b) for a in np.linspace(0, 1, 11) for b in np.linspace(0, 1, 11)])
    target = 100 * np.exp(-((grid[:, 0] - 0.7) ** 2 + (grid[:, 1] - 0.3) ** 2) / 0.08)
    rng = np.random.default_rng(seed)
    values = 0.7 * target - 10 + rng.normal(0, 1, len(grid)) if cheap == "tracking" \
        else rng.normal(20, 15, len(grid))
    values[5] = np.nan  # the cheap source fails on one candidate
    targets = TargetSet.from_targets([Target(property="y", unit="u", above=80)])
    return FidelityProblem(grid, np.array([[0.0, 0.0], [1.0, 1.0]]), target[:, None],
                           values[:, None], COSTS, targets)


def check_bookkeeping(trace, p: FidelityProblem) -> None:
    pairs = list(zip(trace.rows.tolist(), trace.fidelity.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))  # nothing evaluated twice at one fidelity
    assert np.allclose(trace.cost, np.cumsum(np.array(COSTS)[trace.fidelity]))
    assert not trace.hit[trace.fidelity == 1].any()  # hits count at the target only
    assert np.array_equal(trace.hit[trace.fidelity == 0],
                          p.hits[trace.rows[trace.fidelity == 0]])


def test_the_funnel_screens_everything_then_confirms_in_the_cheap_order() -> None:
    p = problem("tracking")
    trace = replay(p, "funnel", seed=0, batch=3, hits_wanted=3)
    check_bookkeeping(trace, p)
    n = len(p.features)
    assert (trace.fidelity[:n] == 1).all() and (trace.fidelity[n:] == 0).all()
    assert trace.rows[n:].tolist() == funnel_order(p.targets, p.cheap)[
        :len(trace.rows) - n].tolist()
    assert trace.rows[n + 0] != 5  # the failed cheap value ranks last
    evaluations, cost = trace.to_hits(3)
    assert evaluations <= 6 and cost == pytest.approx(n * 1.0 + evaluations * 100.0)
    assert trace.to_hits(10**6) == (math.inf, math.inf)


def test_single_fidelity_never_buys_the_cheap_source() -> None:
    p = problem("tracking")
    trace = replay(p, "single", seed=1, initial=4, batch=2, hits_wanted=2, max_target=30)
    check_bookkeeping(trace, p)
    assert (trace.fidelity == 0).all() and trace.correlation is None


def test_multi_fidelity_buys_a_tracking_source_and_learns_the_correlation() -> None:
    p = problem("tracking")
    trace = replay(p, "multi", seed=0, initial=4, batch=2, hits_wanted=2, max_target=20)
    check_bookkeeping(trace, p)
    assert (trace.fidelity[4:] == 1).sum() > 20  # it screened with the cheap source
    assert trace.correlation is not None and trace.correlation[0][1] > 0.8
    assert trace.to_hits(2)[0] <= 12


def test_multi_fidelity_only_probes_a_noise_source_and_picks_as_single_fidelity() -> None:
    p = problem("noise")
    trace = replay(p, "multi", seed=0, initial=4, batch=2, hits_wanted=2, max_target=30)
    check_bookkeeping(trace, p)
    single = replay(p, "single", seed=0, initial=4, batch=2, hits_wanted=2, max_target=30)
    target = trace.rows[trace.fidelity == 0]
    assert target.tolist() == single.rows.tolist()  # the same target picks
    cheap = trace.rows[trace.fidelity == 1]
    assert set(cheap.tolist()) <= set(target.tolist())  # only probes of those picks
    assert trace.correlation is None  # no multi-fidelity model was needed


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'both'"):
        replay(problem("tracking"), "both", seed=0)
