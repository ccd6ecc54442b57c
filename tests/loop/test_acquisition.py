"""Batch selection over a discrete pool with BoTorch acquisitions."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.loop.acquisition import ACQUISITIONS, select
from matloop.surrogates import make_surrogate


def fitted(sign: float = 1.0):
    X = np.linspace(0, 1, 9)[:, None]
    Y = -((X - 0.7) ** 2) * sign  # best at 0.7 for either direction
    bounds = np.array([[0.0], [1.0]])
    return X, make_surrogate("gp", bounds=bounds, seed=0).fit(X, Y)


@pytest.mark.parametrize("name", sorted(ACQUISITIONS))
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_single_pick_goes_to_the_optimum(name: str, sign: float) -> None:
    X, surrogate = fitted(sign)
    choices = np.array([[0.05], [0.33], [0.69], [0.95]])
    (index,) = select(name, surrogate, choices, X, sign=sign, q=1, seed=0)
    assert index == 2


@pytest.mark.parametrize("name", sorted(ACQUISITIONS))
def test_batch_has_distinct_picks_and_respects_pending(name: str) -> None:
    X, surrogate = fitted()
    choices = np.linspace(0, 1, 41)[:, None]
    picks = select(name, surrogate, choices, X, sign=1.0, q=4, seed=0)
    assert len(set(picks.tolist())) == 4
    again = select(name, surrogate, choices, X, sign=1.0, q=4, seed=0)
    assert picks.tolist() == again.tolist()


def test_pending_points_push_the_next_pick_away() -> None:
    X, surrogate = fitted()
    choices = np.linspace(0, 1, 41)[:, None]
    (alone,) = select("logei", surrogate, choices, X, sign=1.0, q=1, seed=0)
    (beside,) = select("logei", surrogate, choices, X, sign=1.0, q=1, seed=0,
                       X_pending=choices[[alone]])
    assert beside != alone


def test_identical_rows_are_each_returned_once() -> None:
    X, surrogate = fitted()
    choices = np.array([[0.7], [0.7], [0.1]])
    picks = select("ucb", surrogate, choices, X, sign=1.0, q=2, seed=0)
    assert sorted(picks.tolist()) == [0, 1]


def test_large_pool_batches_come_from_the_best_scored_candidates() -> None:
    from matloop.loop import acquisition

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(30, 3))
    Y = -np.sum((X - 0.5) ** 2, axis=1, keepdims=True)
    surrogate = make_surrogate("gp", bounds=np.array([[0.0] * 3, [1.0] * 3]), seed=0).fit(X, Y)
    choices = rng.uniform(size=(acquisition.MC_POOL * 3, 3))
    picks = select("logei", surrogate, choices, X, sign=1.0, q=3, seed=0)
    assert len(set(picks.tolist())) == 3
    distance = np.sum((choices[picks] - 0.5) ** 2, axis=1)
    assert np.all(distance < np.quantile(np.sum((choices - 0.5) ** 2, axis=1), 0.2))
