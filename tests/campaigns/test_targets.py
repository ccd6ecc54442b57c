"""Targets: the satisfaction rules (hits), hit probabilities, progress, the schema checks
on ``[[targets]]`` and how each target reads in words."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matloop.campaigns import Target, load
from matloop.campaigns.targets import TargetSet, goodness
from matloop.errors import ConfigError

CampaignWriter = Callable[..., Path]  # the crossed_barrel fixture (tests/conftest.py)

nan = float("nan")
inf = math.inf


def targets(*specs: dict[str, Any]) -> TargetSet:
    return TargetSet.from_targets([Target(**spec) for spec in specs])


def hits(target_set: TargetSet, rows: list[list[float]]) -> list[bool]:
    result = target_set.hits(np.array(rows, dtype=float))
    assert result.dtype == bool
    assert result.shape == (len(rows),)
    return result.tolist()


# --- satisfaction rules ----------------------------------------------------------------


def test_above_includes_its_value() -> None:
    ts = targets({"property": "bulk_modulus", "above": 300})
    assert hits(ts, [[299.999], [300.0], [300.001], [1e9], [-300]]) == \
        [False, True, True, True, False]


def test_below_includes_its_value() -> None:
    ts = targets({"property": "cost", "below": 2.5})
    assert hits(ts, [[2.5001], [2.5], [2.4999], [-1e9], [3]]) == \
        [False, True, True, True, False]


def test_between_includes_both_ends() -> None:
    ts = targets({"property": "band_gap", "between": [1.1, 1.5]})
    assert hits(ts, [[1.0999], [1.1], [1.3], [1.5], [1.5001]]) == \
        [False, True, True, True, False]


def test_near_is_value_plus_minus_tolerance_inclusive() -> None:
    ts = targets({"property": "x", "near": 2.0, "tolerance": 0.5})
    assert hits(ts, [[1.49], [1.5], [2.0], [2.5], [2.51], [-2.0]]) == \
        [False, True, True, True, False, False]


def test_targets_on_different_properties_must_all_hold() -> None:
    ts = targets({"property": "a", "above": 1}, {"property": "b", "below": 0},
                 {"property": "c", "between": [0, 1]})
    rows = [[2, -1, 0.5],   # all hold
            [0, -1, 0.5],   # a fails
            [2, 1, 0.5],    # b fails
            [2, -1, 2.0],   # c fails
            [0, 1, 2.0]]    # all fail
    assert hits(ts, rows) == [True, False, False, False, False]


def test_two_range_targets_on_one_property_intersect() -> None:
    ts = targets({"property": "band_gap", "above": 1.1}, {"property": "band_gap", "below": 1.5})
    assert ts.properties == ("band_gap",)
    assert ts.bounds == {0: (1.1, 1.5)}
    assert hits(ts, [[1.0], [1.1], [1.3], [1.5], [1.6]]) == [False, True, True, True, False]


def test_nan_is_never_a_hit() -> None:
    ts = targets({"property": "a", "above": 0}, {"property": "b", "below": 10})
    assert hits(ts, [[nan, 1], [1, nan], [nan, nan], [1, 1]]) == [False, False, False, True]
    wide = targets({"property": "a", "between": [-1e300, 1e300]})
    assert hits(wide, [[nan], [0.0]]) == [False, True]
    with pytest.raises(ValueError, match="between"):
        targets({"property": "a", "between": [-inf, inf]})


def test_pure_maximize_target_has_no_hits() -> None:
    ts = targets({"property": "toughness", "goal": "maximize"})
    assert hits(ts, [[1.0], [1e9], [nan]]) == [False, False, False]


def test_maximize_plus_threshold_hits_depend_only_on_the_threshold() -> None:
    ts = targets({"property": "toughness", "goal": "maximize"},
                 {"property": "density", "below": 2})
    rows = [[100, 1], [-100, 1], [nan, 2], [100, 3], [1e9, nan]]
    assert hits(ts, rows) == [True, True, True, False, False]


def test_maximize_and_threshold_on_the_same_property() -> None:
    ts = targets({"property": "toughness", "goal": "maximize"},
                 {"property": "toughness", "above": 10})
    assert hits(ts, [[9.9], [10], [50]]) == [False, True, True]


def test_unbounded_outputs_do_not_matter() -> None:
    ts = targets({"property": "a", "goal": "minimize"}, {"property": "b", "above": 0},
                 {"property": "c", "below": 1})
    assert hits(ts, [[nan, 1, 0], [inf, 1, 0], [-inf, 1, 0]]) == [True, True, True]


def test_hits_of_no_rows_is_empty() -> None:
    ts = targets({"property": "a", "above": 0})
    result = ts.hits(np.empty((0, 1)))
    assert result.shape == (0,)
    assert result.dtype == bool


# --- structure -----------------------------------------------------------------------------


def test_properties_in_first_appearance_order_without_repeats() -> None:
    ts = targets({"property": "c", "above": 1}, {"property": "a", "goal": "maximize"},
                 {"property": "c", "below": 3}, {"property": "b", "near": 0, "tolerance": 1},
                 {"property": "a", "above": 0})
    assert ts.properties == ("c", "a", "b")


def test_objective_is_index_and_sign() -> None:
    maximize = targets({"property": "d", "above": 1}, {"property": "t", "goal": "maximize"})
    assert maximize.objective == (1, 1.0)
    minimize = targets({"property": "d", "above": 1}, {"property": "t", "goal": "minimize"})
    assert minimize.objective == (1, -1.0)
    ranges = targets({"property": "d", "above": 1})
    assert ranges.objective is None


def test_bounds_use_infinity_for_open_sides() -> None:
    ts = targets({"property": "a", "above": 1}, {"property": "b", "below": 2},
                 {"property": "c", "between": [3, 4]}, {"property": "d", "goal": "maximize"},
                 {"property": "e", "near": 5, "tolerance": 0.5})
    assert ts.bounds == {0: (1.0, inf), 1: (-inf, 2.0), 2: (3.0, 4.0), 4: (4.5, 5.5)}
    assert 3 not in ts.bounds  # an optimised output is not bounded


def test_bounds_of_several_targets_on_one_property_are_their_intersection() -> None:
    ts = targets({"property": "a", "between": [0, 10]}, {"property": "a", "above": 2},
                 {"property": "a", "near": 8, "tolerance": 4}, {"property": "a", "below": 9})
    assert ts.bounds == {0: (4.0, 9.0)}


def test_kind() -> None:
    assert targets({"property": "a", "goal": "maximize"}).kind == "single"
    assert targets({"property": "a", "goal": "minimize"},
                   {"property": "b", "above": 0}).kind == "single"
    assert targets({"property": "a", "above": 0}).kind == "thresholds"
    assert targets({"property": "a", "goal": "minimize"},
                   {"property": "b", "goal": "maximize"}).kind == "multi"
    assert targets({"property": "a", "above": 0},
                   {"property": "b", "near": 0, "tolerance": 1}).kind == "thresholds"


# --- Pareto front ------------------------------------------------------------------------


def two_objectives(*extra: dict[str, Any]) -> TargetSet:
    return targets({"property": "a", "goal": "maximize"}, {"property": "b", "goal": "minimize"},
                   *extra)


def test_signed_objectives_make_larger_better() -> None:
    ts = two_objectives({"property": "c", "above": 0})
    assert ts.signed_objectives(np.array([[1.0, 2.0, 3.0]])).tolist() == [[1.0, -2.0]]
    assert ts.signed_objectives(np.zeros((0, 3))).shape == (0, 2)


def test_pareto_front_by_hand() -> None:
    ts = two_objectives()
    rows = [[1, 1],    # front: best b
            [2, 3],    # front
            [3, 5],    # front: best a
            [2, 4],    # dominated by [2, 3]
            [0, 2],    # dominated by [1, 1]
            [2, 3],    # a duplicate of a front point is on the front too
            [nan, 0],  # unmeasured objective: never on the front
            [3, 6]]    # dominated by [3, 5] (equal a, worse b)
    assert ts.pareto(np.array(rows, dtype=float)).tolist() == \
        [True, True, True, False, False, True, False, False]


def test_pareto_front_only_counts_candidates_that_meet_the_bounds() -> None:
    ts = two_objectives({"property": "c", "below": 1})
    rows = np.array([[5, 0, 2],     # best on both objectives, but misses c <= 1
                     [1, 1, 0.5],
                     [2, 2, 1.0],
                     [0, 3, 0.0]])  # dominated by [1, 1]
    assert ts.pareto(rows).tolist() == [False, True, True, False]
    assert not ts.pareto(np.zeros((0, 3))).any()


def test_goodness_of_each_objective_follows_its_sign() -> None:
    ts = two_objectives()
    assert goodness(ts, 0, np.array([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert goodness(ts, 1, np.array([1.0, 2.0])).tolist() == [-1.0, -2.0]


# --- hit probability -------------------------------------------------------------------


def test_hit_probability_one_bound_at_the_mean_is_half() -> None:
    ts = targets({"property": "a", "above": 0})
    p = ts.hit_probability(np.zeros((3, 1)), np.array([[1.0], [0.1], [10.0]]))
    assert p.shape == (3,)
    assert p == pytest.approx([0.5, 0.5, 0.5])
    below = targets({"property": "a", "below": 0})
    assert below.hit_probability(np.zeros((1, 1)), np.ones((1, 1))) == pytest.approx([0.5])


def test_hit_probability_between_is_one_sigma_mass() -> None:
    ts = targets({"property": "a", "between": [-1, 1]})
    p = ts.hit_probability(np.zeros((1, 1)), np.ones((1, 1)))
    assert p == pytest.approx([math.erf(1 / math.sqrt(2))])
    assert p[0] == pytest.approx(0.6827, abs=1e-4)


def test_hit_probability_near_matches_between() -> None:
    near = targets({"property": "a", "near": 2, "tolerance": 1})
    between = targets({"property": "a", "between": [1, 3]})
    mean, std = np.array([[2.0], [0.0], [3.5]]), np.array([[1.0], [2.0], [0.5]])
    assert near.hit_probability(mean, std) == pytest.approx(between.hit_probability(mean, std))


def test_hit_probability_is_a_product_over_properties() -> None:
    ts = targets({"property": "a", "above": 0}, {"property": "b", "between": [-1, 1]})
    mean = np.array([[0.0, 0.0], [1.0, 0.0]])
    std = np.ones((2, 2))
    one_sigma = math.erf(1 / math.sqrt(2))
    phi_1 = 0.5 * (1 + math.erf(1 / math.sqrt(2)))  # P(N(1, 1) >= 0)
    assert ts.hit_probability(mean, std) == pytest.approx([0.5 * one_sigma, phi_1 * one_sigma])


def test_hit_probability_ignores_the_optimised_output() -> None:
    ts = targets({"property": "t", "goal": "maximize"}, {"property": "a", "above": 0})
    mean = np.array([[-1e6, 0.0], [1e6, 0.0]])
    std = np.array([[1e-3, 1.0], [1e3, 1.0]])
    assert ts.hit_probability(mean, std) == pytest.approx([0.5, 0.5])


def test_hit_probability_with_tiny_or_zero_std_approaches_zero_or_one() -> None:
    ts = targets({"property": "a", "above": 0})
    mean = np.array([[1.0], [-1.0], [1e-3], [-1e-3]])
    for scale in (1e-9, 0.0):
        p = ts.hit_probability(mean, np.full((4, 1), scale))
        assert np.all(np.isfinite(p))
        assert p == pytest.approx([1.0, 0.0, 1.0, 0.0], abs=1e-12)
    at_the_bound = ts.hit_probability(np.zeros((1, 1)), np.zeros((1, 1)))
    assert at_the_bound == pytest.approx([0.5])  # std 0 is clipped, no 0/0
    between = targets({"property": "a", "between": [0, 1]})
    p = between.hit_probability(np.array([[0.5], [1.5]]), np.full((2, 1), 1e-9))
    assert p == pytest.approx([1.0, 0.0], abs=1e-12)


def test_hit_probability_lies_in_unit_interval() -> None:
    ts = targets({"property": "a", "between": [-1, 2]}, {"property": "b", "below": 0.5})
    rng = np.random.default_rng(0)
    p = ts.hit_probability(rng.normal(size=(50, 2)) * 3, rng.uniform(0.01, 3, size=(50, 2)))
    assert np.all((p >= 0) & (p <= 1))
    assert 0 < p.max() < 1


# --- best --------------------------------------------------------------------------------


def test_best_maximize_is_the_largest_value() -> None:
    ts = targets({"property": "t", "goal": "maximize"})
    assert ts.best(np.array([[1.0], [7.5], [nan], [-3.0]])) == 7.5


def test_best_minimize_is_the_smallest_value() -> None:
    ts = targets({"property": "t", "goal": "minimize"})
    assert ts.best(np.array([[1.0], [7.5], [nan], [-3.0]])) == -3.0


def test_best_of_nothing_measured_is_none() -> None:
    ts = targets({"property": "t", "goal": "maximize"})
    assert ts.best(np.array([[nan], [nan]])) is None
    assert ts.best(np.empty((0, 1))) is None


def test_best_with_a_threshold_is_among_hits_only() -> None:
    ts = targets({"property": "t", "goal": "maximize"}, {"property": "d", "below": 2})
    Y = np.array([[100.0, 3.0],   # best value, but not a hit
                  [10.0, 2.0],
                  [20.0, 1.0],
                  [50.0, nan]])   # unmeasured bound: not a hit
    assert ts.best(Y) == 20.0
    minimize = targets({"property": "t", "goal": "minimize"}, {"property": "d", "below": 2})
    assert minimize.best(Y) == 10.0


def test_best_with_a_threshold_and_no_hits_is_none() -> None:
    ts = targets({"property": "t", "goal": "maximize"}, {"property": "d", "below": 2})
    assert ts.best(np.array([[100.0, 3.0], [5.0, nan]])) is None


def test_best_with_a_threshold_on_the_objective_itself() -> None:
    ts = targets({"property": "t", "goal": "minimize"}, {"property": "t", "above": 10})
    assert ts.best(np.array([[5.0], [12.0], [11.0], [30.0]])) == 11.0


def test_best_of_ranges_only_is_none() -> None:
    # targets.py documents "None for a pure range search" (progress is the hit count)
    ts = targets({"property": "a", "above": 1}, {"property": "b", "near": 0, "tolerance": 1})
    Y = np.array([[2, 0], [2, 5], [0, 0], [1, -1], [nan, 0]])
    assert ts.best(Y) is None
    assert int(ts.hits(Y).sum()) == 2


# --- schema errors through load() --------------------------------------------------------

FIXTURE_TARGETS = '[[targets]]\nproperty = "toughness"\nunit = "J"\ngoal = "maximize"\n'


def campaign_text(crossed_barrel: CampaignWriter, block: str, acquisition: str = "auto",
                  loop_extra: str = "") -> str:
    text = crossed_barrel(acquisition=acquisition).read_text(encoding="utf-8")
    assert text.count(FIXTURE_TARGETS) == 1
    text = text.replace(FIXTURE_TARGETS, block.strip() + "\n")
    if loop_extra:
        old = f'acquisition = "{acquisition}"'
        assert text.count(old) == 1
        text = text.replace(old, f"{old}\n{loop_extra}")
    return text


def write_beside(crossed_barrel: CampaignWriter, text: str) -> Path:
    """Write ``text`` as bad.toml in the fixture's folder (so data/barrel.csv resolves)."""
    path = crossed_barrel().parent / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(crossed_barrel: CampaignWriter, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(write_beside(crossed_barrel, text))
    return str(info.value)


def line_of(text: str, fragment: str, occurrence: int = 0) -> int:
    numbers = [i for i, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(numbers) > occurrence, f"{fragment!r} is on lines {numbers}"
    return numbers[occurrence]


def line_in_message(message: str) -> int:
    match = re.search(r"bad\.toml:(\d+): ", message)
    assert match, message
    return int(match.group(1))


TWO = """
[[targets]]
property = "toughness"
{first}

[[targets]]
property = "{second_property}"
{second}
"""


def two(first: str, second: str, second_property: str = "toughness") -> str:
    return TWO.format(first=first, second=second, second_property=second_property)


@pytest.mark.parametrize(("block", "where", "fragment", "words"), [
    ('[[targets]]\nproperty = "toughness"\natleast = 3', "targets.0.atleast", "atleast",
     ["unknown key"]),
    ('[[targets]]\nproperty = "toughness"\ngoal = "maximize"\nabove = 3', "targets.0",
     "[[targets]]", ["exactly one of", "got goal, above"]),
    ('[[targets]]\nproperty = "toughness"\nunit = "J"', "targets.0", "[[targets]]",
     ["exactly one of", "got none"]),
    ('[[targets]]\nproperty = "toughness"\nabove = 3\nreference = 1', "targets.0",
     "[[targets]]", ["'reference' goes with goal"]),
    ('[[targets]]\nproperty = "toughness"\nbetween = [5, 1]', "targets.0", "[[targets]]",
     ["between = [5.0, 1.0]", "lower bound must be below the upper"]),
    ('[[targets]]\nproperty = "toughness"\nbetween = [2, 2]', "targets.0", "[[targets]]",
     ["lower bound must be below the upper"]),
    ('[[targets]]\nproperty = "toughness"\nnear = 5', "targets.0", "[[targets]]",
     ["'near' needs a 'tolerance'"]),
    ('[[targets]]\nproperty = "toughness"\nabove = 1\ntolerance = 5', "targets.0",
     "[[targets]]", ["'tolerance' goes with 'near'"]),
    ('[[targets]]\nproperty = "toughness"\ntolerance = 5', "targets.0", "[[targets]]",
     ["exactly one of", "got none"]),
    ('[[targets]]\nproperty = "toughness"\nnear = 5\ntolerance = 0', "targets.0.tolerance",
     "tolerance", ["greater than 0"]),
    ('[[targets]]\nproperty = "toughness"\nnear = 5\ntolerance = -1', "targets.0.tolerance",
     "tolerance", ["greater than 0"]),
    ('[[targets]]\nproperty = "toughness"\nabove = inf', "targets.0.above", "above",
     ["finite"]),
    ('[[targets]]\nproperty = "toughness"\nabove = nan', "targets.0.above", "above",
     ["finite"]),
    ('[[targets]]\nproperty = "toughness"\nbetween = [1, 2, 3]', "targets.0.between",
     "between", []),
    ('[[targets]]\nproperty = "tough ness"\nabove = 1', "targets.0.property", "property",
     []),
])
def test_bad_single_target(crossed_barrel: CampaignWriter, block: str, where: str,
                           fragment: str, words: list[str]) -> None:
    text = campaign_text(crossed_barrel, block)
    message = load_error(crossed_barrel, text)
    assert f"bad.toml:{line_of(text, fragment)}: {where}: " in message, message
    for word in words:
        assert word in message, message


def test_bad_goal_in_second_target_names_that_target(crossed_barrel: CampaignWriter) -> None:
    text = campaign_text(crossed_barrel, two('goal = "maximize"', "above = 1\nbelow = 2"))
    message = load_error(crossed_barrel, text)
    assert f"bad.toml:{line_of(text, '[[targets]]', 1)}: targets.1: " in message, message
    assert "got above, below" in message


def test_infeasible_targets_on_one_property(crossed_barrel: CampaignWriter) -> None:
    text = campaign_text(crossed_barrel, two("above = 5", "below = 3"))
    message = load_error(crossed_barrel, text)
    assert re.search(r"bad\.toml:\d+: targets: toughness: ", message), message
    assert "cannot all be met" in message
    assert "toughness >= 5" in message and "toughness <= 3" in message
    assert "[[targets]]" in text.splitlines()[line_in_message(message) - 1]


def test_infeasible_between_and_near(crossed_barrel: CampaignWriter) -> None:
    text = campaign_text(crossed_barrel, two("between = [0, 1]", "near = 3\ntolerance = 1"))
    message = load_error(crossed_barrel, text)
    assert "toughness: the targets cannot all be met" in message
    assert "0 <= toughness <= 1" in message and "toughness = 3 ± 1" in message


@pytest.mark.parametrize(("block", "words"), [
    (two('goal = "maximize"\nreference = 1', "above = 3", second_property="n"),
     ["'reference' (a hypervolume reference point) needs two or more"]),
    (two('goal = "maximize"', 'goal = "minimize"'),
     ["toughness: at most one maximize/minimize goal per property"]),
    (two('goal = "maximize"', 'goal = "maximize"'),
     ["toughness: at most one maximize/minimize goal per property"]),
    (two('unit = "J"\nabove = 1', 'unit = "kJ"\nbelow = 3'),
     ["toughness: targets on one property must use one unit"]),
])
def test_inconsistent_target_sets(crossed_barrel: CampaignWriter, block: str,
                                  words: list[str]) -> None:
    text = campaign_text(crossed_barrel, block)
    message = load_error(crossed_barrel, text)
    assert re.search(r"bad\.toml:\d+: targets: ", message), message
    assert "[[targets]]" in text.splitlines()[line_in_message(message) - 1]
    for word in words:
        assert word in message, message


ACQUISITION_CASES = [
    pytest.param(two('goal = "maximize"', "above = 3", second_property="n"), "ucb", "",
                 "acquisition", "loop.acquisition 'ucb' needs one maximize/minimize target "
                 "and no range targets", id="ucb-with-range"),
    pytest.param("[[targets]]\nproperty = \"toughness\"\nabove = 3", "ucb", "",
                 "acquisition", "loop.acquisition 'ucb' needs", id="ucb-ranges-only"),
    pytest.param("[[targets]]\nproperty = \"toughness\"\nabove = 3", "logei", "",
                 "acquisition", "loop.acquisition 'logei' needs one maximize/minimize target",
                 id="logei-ranges-only"),
    pytest.param(two('goal = "maximize"', 'goal = "minimize"', second_property="n"), "logei",
                 "", "acquisition", "'ehvi' for two or more objectives", id="logei-two"),
    pytest.param(FIXTURE_TARGETS, "ehvi", "", "acquisition",
                 "loop.acquisition 'ehvi' needs two or more", id="ehvi-one"),
    pytest.param(two('goal = "maximize"', 'goal = "minimize"', second_property="n"), "ucb",
                 "", "acquisition", "loop.acquisition 'ucb' needs one", id="ucb-two"),
    pytest.param(FIXTURE_TARGETS, "feasibility", "", "acquisition",
                 "loop.acquisition 'feasibility' needs range targets", id="feasibility"),
    pytest.param(FIXTURE_TARGETS, "auto", "stop_after_hits = 3", "stop_after_hits",
                 "loop.stop_after_hits needs range targets", id="stop-after-hits"),
]


@pytest.mark.parametrize(("block", "acquisition", "extra", "key", "words"), ACQUISITION_CASES)
def test_loop_settings_that_do_not_fit_the_targets(crossed_barrel: CampaignWriter, block: str,
                                                   acquisition: str, extra: str, key: str,
                                                   words: str) -> None:
    text = campaign_text(crossed_barrel, block, acquisition=acquisition, loop_extra=extra)
    message = load_error(crossed_barrel, text)
    assert words in message, message
    assert f"loop.{key}" in message
    match = re.search(r"bad\.toml:(\d+): loop", message)
    assert match, message
    assert int(match.group(1)) in (line_of(text, "[loop]"), line_of(text, f"{key} ="))


# --- valid target sets --------------------------------------------------------------------


@pytest.mark.parametrize("acquisition", ["auto", "logei", "feasibility", "random"])
def test_maximize_plus_threshold_on_the_same_property_loads(crossed_barrel: CampaignWriter,
                                                            acquisition: str) -> None:
    block = two('unit = "J"\ngoal = "maximize"', "above = 10")
    text = campaign_text(crossed_barrel, block, acquisition=acquisition)
    campaign = load(write_beside(crossed_barrel, text))
    assert [t.describe() for t in campaign.targets] == ["maximize toughness", "toughness >= 10"]
    assert campaign.properties == ("toughness",)
    ts = TargetSet.from_targets(campaign.targets)
    assert ts.objective == (0, 1.0)
    assert ts.bounds == {0: (10.0, inf)}
    assert ts.kind == "single"


@pytest.mark.parametrize("acquisition", ["auto", "ehvi", "random"])
def test_two_objectives_with_a_threshold_and_a_reference_load(crossed_barrel: CampaignWriter,
                                                             acquisition: str) -> None:
    block = two('unit = "J"\ngoal = "maximize"', 'goal = "minimize"\nreference = 12',
                second_property="n") + '\n[[targets]]\nproperty = "t"\nbelow = 1.2\n'
    text = campaign_text(crossed_barrel, block, acquisition=acquisition,
                         loop_extra="stop_after_hits = 3\npatience = 4")
    campaign = load(write_beside(crossed_barrel, text))
    ts = TargetSet.from_targets(campaign.targets)
    assert ts.kind == "multi" and ts.objective is None
    assert ts.objectives == ((0, 1.0), (1, -1.0))
    assert ts.references == {1: 12.0}
    assert ts.bounds == {2: (-inf, 1.2)}


def test_ranges_only_with_feasibility_and_stop_after_hits_load(
        crossed_barrel: CampaignWriter) -> None:
    block = two("above = 5", "below = 5") + '\n[[targets]]\nproperty = "n"\nbetween = [1, 9]\n'
    text = campaign_text(crossed_barrel, block, acquisition="feasibility",
                         loop_extra="stop_after_hits = 2")
    campaign = load(write_beside(crossed_barrel, text))
    assert campaign.loop.stop_after_hits == 2
    ts = TargetSet.from_targets(campaign.targets)
    assert ts.kind == "thresholds"
    assert ts.bounds == {0: (5.0, 5.0), 1: (1.0, 9.0)}  # a single point is feasible
    assert hits(ts, [[5, 1], [5.01, 1], [5, 10]]) == [True, False, False]


def test_one_unit_and_no_unit_on_one_property_load(crossed_barrel: CampaignWriter) -> None:
    text = campaign_text(crossed_barrel, two('unit = "J"\nabove = 1', "below = 3"))
    campaign = load(write_beside(crossed_barrel, text))
    assert [t.unit for t in campaign.targets] == ["J", None]


def test_ucb_with_a_single_optimised_target_loads(crossed_barrel: CampaignWriter) -> None:
    text = campaign_text(crossed_barrel, FIXTURE_TARGETS, acquisition="ucb")
    assert load(write_beside(crossed_barrel, text)).loop.acquisition == "ucb"


def test_no_targets_at_all_is_refused(crossed_barrel: CampaignWriter) -> None:
    text = crossed_barrel().read_text(encoding="utf-8").replace(FIXTURE_TARGETS, "")
    assert "[[targets]]" not in text
    message = load_error(crossed_barrel, text)
    assert "targets" in message
    assert "required" in message.lower()


# --- describe ---------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "words"), [
    ({"property": "toughness", "unit": "J", "goal": "maximize"}, "maximize toughness"),
    ({"property": "cost", "goal": "minimize"}, "minimize cost"),
    ({"property": "bulk_modulus", "unit": "GPa", "above": 300}, "bulk_modulus >= 300 GPa"),
    ({"property": "bulk_modulus", "above": 300}, "bulk_modulus >= 300"),
    ({"property": "density", "unit": "g/cm3", "below": 2.5}, "density <= 2.5 g/cm3"),
    ({"property": "density", "below": -0.25}, "density <= -0.25"),
    ({"property": "band_gap", "unit": "eV", "between": [1.1, 1.5]}, "1.1 <= band_gap <= 1.5 eV"),
    ({"property": "band_gap", "between": [0, 2]}, "0 <= band_gap <= 2"),
    ({"property": "x", "near": 2, "tolerance": 0.5}, "x = 2 ± 0.5"),
    ({"property": "lattice", "unit": "Å", "near": 3.61, "tolerance": 0.01},
     "lattice = 3.61 ± 0.01 Å"),
])
def test_describe(spec: dict[str, Any], words: str) -> None:
    assert Target(**spec).describe() == words


def test_target_interval_and_sign() -> None:
    assert Target(property="a", near=2, tolerance=0.5).interval == (1.5, 2.5)
    assert Target(property="a", goal="maximize").interval == (-inf, inf)
    assert Target(property="a", goal="minimize").sign == -1.0
    assert Target(property="a", goal="maximize").sign == 1.0
    assert Target(property="a", goal="maximize").optimised
    assert not Target(property="a", above=1).optimised


def test_pareto_mask_equals_botorchs_non_dominated_rows() -> None:
    import torch
    from botorch.utils.multi_objective.pareto import is_non_dominated

    from matloop.campaigns import targets as targets_module

    rng = np.random.default_rng(7)
    Y = np.round(rng.normal(size=(300, 3)), 1)  # ties and duplicates on purpose
    Y[::50] = Y[1]  # repeated front candidates all count
    targets = TargetSet.from_targets([Target(property="a", goal="maximize"),
                                      Target(property="b", goal="minimize"),
                                      Target(property="c", goal="maximize")])
    expected = is_non_dominated(torch.as_tensor(targets.signed_objectives(Y)),
                                deduplicate=False).numpy()
    assert expected.sum() > 3
    assert np.array_equal(targets.pareto(Y), expected)
    original = targets_module.PARETO_CHUNK
    try:  # the chunked comparison gives the same mask
        targets_module.PARETO_CHUNK = 7
        assert np.array_equal(targets.pareto(Y), expected)
    finally:
        targets_module.PARETO_CHUNK = original
