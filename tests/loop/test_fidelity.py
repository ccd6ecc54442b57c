"""Cost-aware choice of candidate and fidelity (``loop.fidelity``)."""

from __future__ import annotations

import numpy as np

from matloop.loop.fidelity import (
    PAYS,
    UNDECIDED,
    USELESS,
    Pick,
    choose_pairs,
    verdicts,
)


def test_a_cheap_informative_source_is_bought_first() -> None:
    log_a = np.log(np.array([0.5, 0.4, 0.3]))
    log_info = np.log(np.array([[1.0, 0.5], [1.0, 0.5], [1.0, 0.5]]))
    picks = choose_pairs(log_a, log_info, np.ones((3, 2), bool), costs=[100.0, 1.0],
                         allowance=100.0)
    assert picks == [Pick(0, 1), Pick(1, 1), Pick(2, 1)]  # 50x the value per cost


def test_an_uninformative_source_is_not_bought_however_cheap() -> None:
    log_a = np.log(np.array([0.5, 0.4, 0.3]))
    with np.errstate(divide="ignore"):
        log_info = np.log(np.array([[1.0, 0.0], [1.0, 1e-6], [1.0, 0.0]]))
    picks = choose_pairs(log_a, log_info, np.ones((3, 2), bool), costs=[100.0, 1.0],
                         allowance=200.0)
    assert picks == [Pick(0, 0), Pick(1, 0)]


def test_the_allowance_caps_a_cycle_but_one_pick_is_always_made() -> None:
    log_a = np.log(np.array([0.9, 0.8, 0.7, 0.6]))
    log_info = np.zeros((4, 2))
    one = choose_pairs(log_a, log_info, np.ones((4, 2), bool), costs=[10.0, 10.0],
                       allowance=5.0)
    assert len(one) == 1
    picks = choose_pairs(log_a, log_info, np.ones((4, 2), bool), costs=[10.0, 10.0],
                         allowance=30.0)
    assert len(picks) == 3 and len({p.row for p in picks}) == 3  # one fidelity each


def test_tried_pairs_are_never_chosen_again() -> None:
    log_a = np.log(np.array([0.9, 0.1]))
    log_info = np.log(np.array([[1.0, 0.9], [1.0, 0.9]]))
    open_pairs = np.array([[False, False], [True, True]])
    picks = choose_pairs(log_a, log_info, open_pairs, costs=[1.0, 1.0], allowance=10.0)
    assert picks == [Pick(1, 0)]
    assert choose_pairs(log_a, log_info, np.zeros((2, 2), bool), [1.0, 1.0], 10.0) == []


def test_a_source_pays_for_itself_only_with_evidence_beyond_its_break_even() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(size=(100, 2))
    cheap = np.column_stack([0.5 * target[:, 0] + rng.normal(0, 0.05, 100),  # tracks it
                             rng.normal(size=100)])  # noise
    # a tenth of the target's cost: break-even correlation 0.32, and the noise is below
    assert verdicts(target, cheap, cost_ratio=0.1) == [PAYS, USELESS]
    # eight pairs leave the noise undecided (its interval holds 0.03, the break-even)
    assert verdicts(target[:8], cheap[:8], cost_ratio=0.001) == [PAYS, UNDECIDED]
    # three pairs are no evidence either way; a missing value drops its pair
    assert verdicts(target[:3], cheap[:3], 0.001) == [UNDECIDED, UNDECIDED]
    cheap[:97, 0] = np.nan
    assert verdicts(target, cheap, 0.001)[0] == UNDECIDED
