"""The summary of seeded runs against a pool with known answers, computed by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from matloop.benchmarking.analysis import Truth, analyse, known_answers
from matloop.benchmarking.replay import SeedRun
from matloop.campaigns import load
from matloop.campaigns.schema import Campaign
from matloop.campaigns.targets import TargetSet
from matloop.errors import ConfigError


def campaign(targets: list[dict[str, Any]], **loop: Any) -> Campaign:
    return Campaign.model_validate({
        "campaign": {"name": "synthetic"},
        "space": {"kind": "table", "path": "pool.csv", "inputs": ["x"]},
        "targets": targets,
        "oracle": {"kind": "table"},
        "loop": {"initial": 2, "budget": 5, **loop},
    })


def seed_run(seed: int, order: list[int], values: np.ndarray, failed: tuple[int, ...] = (),
             properties: tuple[str, ...] = ("y",)) -> SeedRun:
    """A run that evaluated ``order`` (pool rows) and measured the pool's values."""
    measured = [tuple(math.nan for _ in properties) if j in failed else tuple(values[i])
                for j, i in enumerate(order)]
    return SeedRun(label="synthetic", seed=seed, properties=properties,
                   pool_index=tuple(order),
                   succeeded=tuple(j not in failed for j in range(len(order))),
                   values=tuple(measured), model_cycles=3, fit_s=0.3, select_s=0.03,
                   wall_s=2.0, stop_reason="budget")


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_single_objective_summary(goal: str) -> None:
    # 40 candidates; row r has value 40 - r (maximise) or r - 40 (minimise), so rows 0 and
    # 1 are the top 5 % (ceil(2) = 2 of 40) and row 0 alone the top 1 % (ceil(0.4) = 1)
    sign = 1.0 if goal == "maximize" else -1.0
    values = (sign * (40.0 - np.arange(40))).reshape(40, 1)
    c = campaign([{"property": "y", "goal": goal}])
    truth = Truth(TargetSet.from_targets(c.targets), values)
    runs = [seed_run(0, [5, 1, 7, 0, 3], values),          # top-5 % found: 0 1 1 2 2
            seed_run(1, [0, 2, 1, 4, 6], values),          # 1 1 2 2 2
            seed_run(2, [9, 8, 7, 6, 5], values, failed=(2,))]  # none
    s = analyse("synthetic", c, truth, runs, budget=5)
    assert (s["kind"], s["pool_size"], s["budget"], s["seeds"]) == ("single", 40, 5, [0, 1, 2])
    single = s["single"]
    assert single["direction"] == goal
    assert single["top5"] == {"size": 2, "threshold": sign * 39.0}
    assert single["top1"] == {"size": 1, "threshold": sign * 40.0}
    curve = single["curves"]["top5_fraction"]
    assert curve["median"] == [0.0, 0.5, 0.5, 1.0, 1.0]  # per seed: 0/.5/0, ...
    assert single["curves"]["random_top5_fraction"] == pytest.approx(
        [1 / 40, 2 / 40, 3 / 40, 4 / 40, 5 / 40])
    assert single["curves"]["enhancement"]["median"] == pytest.approx([0, 10, 20 / 3, 10, 8])
    # first top-1 %: seeds 4, 1, never -> median 4; random (40 + 1) / (1 + 1) = 20.5
    first = single["first_top1"]
    assert first["method"]["median"] == 4 and first["method"]["p95"] is None
    assert first["random"] == 20.5 and first["factor"] == pytest.approx(20.5 / 4)
    assert first["reached"] == 2
    # AF(0.5): 1 of 2 found after 2, 1, never -> median 2; random ceil(0.5 * 40) = 20
    half = single["acceleration"]["0.5"]
    assert (half["found_needed"], half["random"], half["method"]["median"]) == (1, 20, 2)
    assert half["factor"] == 10 and half["per_seed"] == [10, 20, None]
    # AF(0.8): 2 of 2 after 4, 3, never -> median 4; random ceil(32) = 32
    most = single["acceleration"]["0.8"]
    assert (most["found_needed"], most["random"], most["factor"]) == (2, 32, 8)
    at_budget = single["top5_at_budget"]
    assert at_budget["method"]["median"] == 1.0 and at_budget["random"] == 5 / 40
    assert at_budget["enhancement"] == 8
    assert single["best_at_budget"]["median"] == sign * 40
    assert single["pool_best"] == sign * 40
    assert [p["top5_found"] for p in single["per_seed"]] == [2, 2, 0]
    assert s["timing"]["fit_s_per_cycle"] == pytest.approx(0.1)
    assert s["timing"]["loop_s_per_evaluation"]["median"] == pytest.approx(0.33 / 5)


def test_target_set_summary() -> None:
    # 20 candidates; hits (a >= 5 and b <= 1) are rows 0, 3 and 7
    values = np.zeros((20, 2))
    values[:, 0] = 1.0
    values[[0, 3, 7, 9], 0] = 6.0  # row 9 meets a but not b
    values[:, 1] = 0.5
    values[9, 1] = 2.0
    c = campaign([{"property": "a", "above": 5}, {"property": "b", "below": 1}],
                 budget=4, stop_after_hits=2)
    truth = Truth(TargetSet.from_targets(c.targets), values)
    runs = [seed_run(0, [3, 1, 0, 2], values, properties=("a", "b")),  # 1 1 2 2
            seed_run(1, [1, 9, 7, 4], values, properties=("a", "b"))]  # 0 0 1 1
    s = analyse("synthetic", c, truth, runs, budget=4)
    assert s["kind"] == "target set"
    t = s["target_set"]
    assert (t["hits_in_pool"], t["k"]) == (3, 2)
    assert t["first_hit"]["per_seed"] == [1, 3]
    assert t["first_hit"]["method"]["median"] == 2
    assert t["first_hit"]["random"] == pytest.approx(21 / 4)
    assert t["first_hit"]["factor"] == pytest.approx(21 / 8)
    assert t["k_hits"]["per_seed"] == [3, None]
    assert t["k_hits"]["method"]["median"] is None and t["k_hits"]["factor"] is None
    assert t["k_hits"]["random"] == pytest.approx(2 * 21 / 4)
    assert t["hits_at_budget"]["per_seed"] == [2, 1]
    assert t["hits_at_budget"]["random"] == pytest.approx(4 * 3 / 20)
    assert t["hits_at_budget"]["enhancement"] == pytest.approx(1.5 / 0.6)
    assert t["curves"]["hits"]["median"] == [0.5, 0.5, 1.5, 1.5]
    assert t["curves"]["random_hits"] == pytest.approx([0.15, 0.3, 0.45, 0.6])


def test_k_defaults_to_ten_hits_and_is_capped_by_the_pool() -> None:
    values = np.column_stack([np.arange(30.0), np.zeros(30)])
    c = campaign([{"property": "a", "above": 10}, {"property": "b", "below": 1}])
    truth = Truth(TargetSet.from_targets(c.targets), values)
    run = seed_run(0, [29, 28, 0, 1, 2], values, properties=("a", "b"))
    assert analyse("x", c, truth, [run], budget=5)["target_set"]["k"] == 10
    c = campaign([{"property": "a", "above": 25}, {"property": "b", "below": 1}])
    truth = Truth(TargetSet.from_targets(c.targets), values)
    assert analyse("x", c, truth, [run], budget=5)["target_set"]["k"] == 5  # rows 25..29


def test_known_answers_read_the_table(crossed_barrel) -> None:
    truth = known_answers(load(crossed_barrel()), "cb")
    assert truth.n == 600 and truth.values.shape == (600, 1)
    assert np.nanmax(truth.values) == pytest.approx(46.7114, abs=1e-4)


def test_only_table_oracles_can_be_benchmarked(python_campaign) -> None:
    with pytest.raises(ConfigError, match="table of known answers"):
        known_answers(load(python_campaign()), "toy")


def test_a_target_set_without_any_hit_in_the_table_is_refused(crossed_barrel) -> None:
    c = load(crossed_barrel())
    c = c.model_copy(update={"targets": [c.targets[0].model_copy(
        update={"goal": None, "above": 1000.0})]})
    with pytest.raises(ConfigError, match="nothing to find"):
        known_answers(c, "cb")
