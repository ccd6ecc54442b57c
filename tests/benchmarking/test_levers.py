"""The lever study: overrides, scores, leave-one-dataset-out, and runs that stop at the
first top-1 % candidate exactly where a full replay finds it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from matloop.benchmarking.levers import (
    BASELINE,
    LeverJob,
    Setting,
    af_first,
    leave_one_out,
    overridden,
    run_lever_job,
    threshold,
)
from matloop.campaigns import load
from matloop.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "benchmarks"


def test_overrides_are_validated_by_the_schema() -> None:
    campaign = load(EXAMPLES / "snar.toml")
    changed = overridden(campaign, {"loop.initial_design": "sobol", "surrogate.warp": "power"})
    assert changed.loop.initial_design == "sobol" and changed.surrogate.warp == "power"
    assert changed.loop.budget == campaign.loop.budget
    assert changed.space == campaign.space and changed.source == campaign.source
    with pytest.raises(ConfigError, match="initial_design"):
        overridden(campaign, {"loop.initial_design": "lhs"})


def test_af_first_counts_a_missed_seed_as_one_past_the_budget() -> None:
    assert af_first([4, 5, 6], random_first=30, budget=40) == 6.0
    assert af_first([4, math.inf, math.inf], random_first=41, budget=40) == 1.0


def test_leave_one_out_chooses_on_the_other_datasets() -> None:
    settings = [Setting(BASELINE, "", {}), Setting("a", "lever", {}),
                Setting("b", "lever", {})]
    scores = {BASELINE: {"x": 2.0, "y": 2.0, "z": 2.0},
              "a": {"x": 4.0, "y": 4.0, "z": 1.0},
              "b": {"x": 1.0, "y": 3.0, "z": 8.0}}
    folds = leave_one_out(scores, settings)
    assert folds["x"]["lever"]["chosen"] == "b"  # y, z: a 4·1, b 3·8
    assert folds["z"]["lever"]["chosen"] == "a"  # x, y: a 4·4, b 1·3
    assert folds["z"]["lever"]["held_out"] == 1.0
    assert folds["y"]["lever"]["baseline"] == 2.0


def test_threshold_is_the_top_percent_of_the_table() -> None:
    campaign = load(EXAMPLES / "snar.toml")
    sign, value, random_first = threshold(campaign)
    assert sign == -1  # minimise the E-factor
    assert value == pytest.approx(0.24)  # the file's best value (README: 0.24, 0.24, 0.25)
    assert 10 < random_first < 40


@pytest.mark.slow
def test_a_run_stops_where_a_full_replay_first_finds_the_top(tmp_path: Path) -> None:
    from matloop.benchmarking.peers import first_hit, problem_from_campaign
    from matloop.benchmarking.replay import Job, replay_seed

    source = EXAMPLES / "snar.toml"
    setting = Setting("design=farthest", "initial design", {"loop.initial_design": "farthest"})
    stopped = run_lever_job(LeverJob(setting, source, 1, tmp_path / "lever.db"))
    assert stopped.first <= stopped.evaluations

    # the same seed to the end of its budget through the benchmark replay
    campaign = overridden(load(source), setting.overrides)
    copy = tmp_path / "farthest.toml"
    copy.write_text(source.read_text()
                    .replace("[loop]", '[loop]\ninitial_design = "farthest"')
                    .replace('"../data/', f'"{EXAMPLES.parent / "data"}/'))
    full = replay_seed(Job("snar", copy, 1, None, tmp_path / "full.db"))
    problem = problem_from_campaign(campaign, "snar")
    expected = first_hit(problem, full.pool_index)
    assert stopped.first == expected
    assert np.isfinite(expected)
