"""Every metric against values computed by hand, and random search's exact expectations
against a brute-force enumeration of every order of a small pool."""

from __future__ import annotations

import csv
import itertools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from matloop.benchmarking import metrics

ROOT = Path(__file__).resolve().parents[2]


def test_ceil_fraction_ignores_float_noise() -> None:
    assert 0.07 * 100 > 7  # the reason for the helper
    assert metrics.ceil_fraction(0.07, 100) == 7
    assert metrics.ceil_fraction(0.05, 600) == 30
    assert metrics.ceil_fraction(0.01, 600) == 6
    assert metrics.ceil_fraction(0.05, 178) == 9  # 8.9
    assert metrics.ceil_fraction(0.01, 178) == 2  # 1.78
    assert metrics.ceil_fraction(0.05, 192) == 10  # 9.6


def test_top_set_maximize() -> None:
    values = np.array([5.0, 3.0, 9.0, 1.0, 7.0, 8.0])
    members, threshold = metrics.top_set(values, +1, 0.34)  # ceil(2.04) = 3rd best
    assert threshold == 7.0
    assert members.tolist() == [False, False, True, False, True, True]


def test_top_set_minimize() -> None:
    values = np.array([5.0, 3.0, 9.0, 1.0, 7.0, 8.0])
    members, threshold = metrics.top_set(values, -1, 0.34)  # best-first: 1, 3, 5
    assert threshold == 5.0
    assert members.tolist() == [True, True, False, True, False, False]


def test_ties_at_the_threshold_are_all_members() -> None:
    values = np.array([9.0, 3.0, 9.0, 1.0, 7.0, 9.0])
    members, threshold = metrics.top_set(values, +1, 0.1)  # rank ceil(0.6) = 1
    assert threshold == 9.0
    assert members.tolist() == [True, False, True, False, False, True]  # 3 > 10 % of 6
    members, threshold = metrics.top_set(-values, -1, 0.1)  # minimise, same ties
    assert threshold == -9.0 and members.sum() == 3


def test_missing_values_are_never_members_and_not_ranked() -> None:
    members, threshold = metrics.top_set(np.array([np.nan, 2.0, 1.0, 3.0]), +1, 0.5)
    assert threshold == 2.0  # rank ceil(0.5 * 3) = 2 among the three values
    assert members.tolist() == [False, True, False, True]
    with pytest.raises(ValueError, match="no finite"):
        metrics.top_set(np.array([np.nan]), +1, 0.05)


def test_top_set_of_the_crossed_barrel_data_matches_the_published_thresholds() -> None:
    # /work/shared/data/README.md: top-1 % 41.1616 (k = 6), top-5 % 34.4748 (k = 30)
    with (ROOT / "examples/data/liang_crossed_barrel.csv").open() as handle:
        toughness = np.array([float(r["toughness"]) for r in csv.DictReader(handle)])
    top5, threshold5 = metrics.top_set(toughness, +1, 0.05)
    top1, threshold1 = metrics.top_set(toughness, +1, 0.01)
    assert (int(top5.sum()), round(threshold5, 4)) == (30, 34.4748)
    assert (int(top1.sum()), round(threshold1, 4)) == (6, 41.1616)


def test_found_curve_counts_distinct_candidates_and_pads_a_short_run() -> None:
    good = np.array([False, True, True, False, True])
    index = np.array([4, 2, 2, 7, 9])  # candidate 2 twice (a replicate): counted once
    assert metrics.found_curve(good, index, 7).tolist() == [0, 1, 1, 1, 2, 2, 2]
    assert metrics.found_curve(good, index, 3).tolist() == [0, 1, 1]
    assert metrics.found_curve(np.array([], bool), np.array([], int), 2).tolist() == [0, 0]


def test_evaluations_to_is_one_based_and_inf_when_never() -> None:
    curve = np.array([0, 1, 1, 2])
    assert metrics.evaluations_to(curve, 1) == 2
    assert metrics.evaluations_to(curve, 2) == 4
    assert metrics.evaluations_to(curve, 3) == math.inf


def test_count_for_fraction() -> None:
    assert metrics.count_for_fraction(0.5, 30) == 15
    assert metrics.count_for_fraction(0.8, 30) == 24
    assert metrics.count_for_fraction(0.5, 9) == 5  # 4.5
    assert metrics.count_for_fraction(0.8, 9) == 8  # 7.2


def test_random_formulas_by_hand() -> None:
    assert metrics.random_top_fraction(np.array([1, 60, 600, 700]), 600).tolist() == \
        pytest.approx([1 / 600, 0.1, 1.0, 1.0])
    assert metrics.random_expected_found(np.array([100]), 3953, 91).tolist() == \
        pytest.approx([100 * 91 / 3953])
    assert metrics.random_evaluations_to_kth(1, 3953, 91) == pytest.approx(3954 / 92)
    assert metrics.random_evaluations_to_kth(1, 600, 6) == pytest.approx(601 / 7)
    assert metrics.random_evaluations_to_kth(20, 3953, 91) == pytest.approx(20 * 3954 / 92)
    assert metrics.random_evaluations_to_kth(3, 10, 2) == math.inf
    assert metrics.random_evaluations_to_fraction(0.5, 600) == 300
    assert metrics.random_evaluations_to_fraction(0.8, 600) == 480
    assert metrics.random_evaluations_to_fraction(0.8, 178) == 143  # 142.4


@pytest.mark.parametrize(("n", "k"), [(6, 2), (7, 3), (5, 1)])
def test_random_expectations_are_exact(n: int, k: int) -> None:
    """Average over every order of the pool (random search without replacement)."""
    good = [True] * k + [False] * (n - k)
    orders = list(itertools.permutations(range(n)))
    kth = [Fraction(0)] * k
    found = [Fraction(0)] * n
    for order in orders:
        flags = [good[j] for j in order]
        positions = [i + 1 for i, flag in enumerate(flags) if flag]
        for j in range(k):
            kth[j] += positions[j]
        for i in range(n):
            found[i] += sum(flags[: i + 1])
    for j in range(k):
        exact = kth[j] / len(orders)
        assert exact == Fraction((j + 1) * (n + 1), k + 1)
        assert metrics.random_evaluations_to_kth(j + 1, n, k) == pytest.approx(float(exact))
    expected = metrics.random_expected_found(np.arange(1, n + 1), n, k)
    assert expected.tolist() == pytest.approx([float(f / len(orders)) for f in found])
    top = metrics.random_top_fraction(np.arange(1, n + 1), n)
    assert top.tolist() == pytest.approx([float(f / len(orders) / k) for f in found])


def test_enhancement_and_ratio() -> None:
    top = np.array([[0.0, 0.5, 0.5, 1.0]])
    assert metrics.enhancement(top, 8)[0].tolist() == pytest.approx([0.0, 2.0, 4 / 3, 2.0])
    assert metrics.ratio(300, 30) == 10
    assert metrics.ratio(300, math.inf) is None
    assert metrics.ratio(math.inf, 3) is None


def test_quantiles_interpolate_and_keep_never_reached() -> None:
    q = metrics.quantiles(np.array([5.0, 1.0, 3.0, 2.0, 4.0]))
    assert q.tolist() == pytest.approx([1.2, 3.0, 4.8])
    q = metrics.quantiles(np.array([1.0, 2.0, 3.0, math.inf]))
    assert q[1] == 2.5 and q[2] == math.inf  # the 95 % quantile lies between 3 and inf
    q = metrics.quantiles(np.array([1.0, math.inf, math.inf]), (0.5,))
    assert q[0] == math.inf
    curves = metrics.quantiles(np.array([[0.0, 1.0], [2.0, 3.0]]), (0.5,))
    assert curves.tolist() == [[1.0, 2.0]]


def test_band_is_plain_data_with_none_for_never() -> None:
    assert metrics.band(np.array([1.0, 2.0, math.inf])) == \
        {"median": 2.0, "p05": 1.1, "p95": None}
    assert metrics.band(np.array([[1.0], [3.0]])) == \
        {"median": [2.0], "p05": [1.1], "p95": [2.9]}
