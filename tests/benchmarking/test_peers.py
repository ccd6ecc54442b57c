"""The peers of benchmarks/peers.py: the same problem for every method, a plain BoTorch loop
that really searches, and the file protocol of the BayBE runner."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from matloop.benchmarking import peers
from matloop.errors import ConfigError


def _bowl(n: int = 200, seed: int = 0) -> peers.Problem:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    y = ((x - 0.7) ** 2).sum(axis=1)  # minimised: the best rows are near (0.7, 0.7)
    return peers.Problem("bowl", x, y, -1.0, budget=20, initial=5, batch=1)


def test_the_problem_is_the_campaigns_pool_features_and_answers(
        make_campaign, crossed_barrel_config) -> None:
    campaign = make_campaign(crossed_barrel_config(budget=30, initial=6, batch_size=2))
    problem = peers.problem_from_campaign(campaign, "cb")
    assert problem.x.shape == (600, 4) and problem.n == 600
    assert problem.x.min() == 0 and problem.x.max() == 1
    assert (problem.budget, problem.initial, problem.batch, problem.sign) == (30, 6, 2, 1.0)
    assert problem.y.max() == pytest.approx(46.7114, abs=1e-4)
    assert problem.top().sum() == 6  # ceil(0.01 * 600)
    assert problem.random_first_hit() == pytest.approx(601 / 7)


def test_first_hit_counts_evaluations_to_the_first_top_candidate() -> None:
    problem = _bowl()
    best = int(np.argmin(problem.y))
    worst = [int(i) for i in np.argsort(problem.y)[::-1][:5]]
    assert peers.first_hit(problem, [*worst, best]) == 6
    assert peers.first_hit(problem, worst) == math.inf


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3])
def test_the_botorch_peer_searches_better_than_random(batch: int) -> None:
    problem = _bowl()
    problem = peers.Problem(problem.name, problem.x, problem.y, problem.sign, budget=14,
                            initial=5, batch=batch)
    firsts = [peers.first_hit(problem, order := peers.botorch_order(problem, seed))
              for seed in range(2)]
    assert len(set(order)) == len(order) == 14
    # random search needs (N + 1) / (K + 1) = 201 / 3 = 67 draws on average
    assert np.median(firsts) < problem.random_first_hit() / 2, firsts


def test_the_baybe_runner_gets_the_problem_and_returns_orders(tmp_path: Path) -> None:
    script = tmp_path / "runner.py"
    script.write_text(
        "import json, sys\nimport numpy as np\n"
        "d = np.load(sys.argv[1])\n"
        "order = [int(i) for i in np.argsort(d['sign'] * -d['y'])[: int(d['budget'])]]\n"
        "json.dump({str(s): order for s in d['seeds']}, open(sys.argv[2], 'w'))\n")
    problem = _bowl()
    orders = peers.baybe_orders(problem, [0, 4], Path(sys.executable), script)
    assert set(orders) == {0, 4} and len(orders[4]) == problem.budget
    assert peers.first_hit(problem, orders[0]) == 1


def test_a_failing_baybe_runner_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "runner.py"
    script.write_text("import sys\nsys.exit('no module named baybe')\n")
    with pytest.raises(ConfigError, match=r"(?s)BayBE peer failed.*no module named baybe"):
        peers.baybe_orders(_bowl(), [0], Path(sys.executable), script)


def test_geometric_mean_ignores_what_was_not_reached() -> None:
    assert peers.geometric_mean([2.0, 8.0, math.nan]) == pytest.approx(4.0)
    assert math.isnan(peers.geometric_mean([]))
