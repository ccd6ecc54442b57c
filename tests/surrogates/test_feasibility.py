"""The feasibility classifier: P(an evaluation succeeds) learnt from successes and failures."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.surrogates.feasibility import FeasibilityClassifier

BOUNDS = np.array([[0.0, 0.0], [1.0, 1.0]])


def boundary_data(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Candidates in the unit square; those with x0 > 0.6 fail."""
    X = np.random.default_rng(seed).random((n, 2))
    return X, X[:, 0] <= 0.6


def test_learns_where_candidates_fail() -> None:
    X, ok = boundary_data()
    classifier = FeasibilityClassifier(BOUNDS, seed=0).fit(X, ok)
    grid = np.array([[0.1, 0.5], [0.3, 0.2], [0.85, 0.5], [0.95, 0.9]])
    p = classifier.probability(grid)
    assert p.shape == (4,) and np.all((p >= 0) & (p <= 1))
    assert p[:2].min() > 0.8 and p[2:].max() < 0.2, p
    assert classifier.hyperparameters()["n_failed"] == int((~ok).sum())
    # the relevant feature has the shorter length scale
    scales = classifier.hyperparameters()["lengthscale"]
    assert scales[0] < scales[1]


def test_is_reproducible_with_a_seed() -> None:
    X, ok = boundary_data()
    grid = np.random.default_rng(1).random((50, 2))
    first = FeasibilityClassifier(BOUNDS, seed=3).fit(X, ok).probability(grid)
    again = FeasibilityClassifier(BOUNDS, seed=3).fit(X, ok).probability(grid)
    assert np.array_equal(first, again)


def test_is_unsure_far_from_every_evaluation() -> None:
    X = np.array([[0.0, 0.0], [0.05, 0.0], [0.0, 0.05], [0.05, 0.05]])
    classifier = FeasibilityClassifier(BOUNDS).fit(X, np.array([True, True, False, True]))
    assert 0.2 < classifier.probability(np.array([[1.0, 1.0]]))[0] < 0.95


@pytest.mark.parametrize("labels", [[True, True, True], [False, False, False]])
def test_needs_both_successes_and_failures(labels: list[bool]) -> None:
    with pytest.raises(ValueError, match="successes and failures"):
        FeasibilityClassifier(BOUNDS).fit(np.random.default_rng(0).random((3, 2)),
                                          np.array(labels))


def test_probability_before_fit_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        FeasibilityClassifier(BOUNDS).probability(np.zeros((1, 2)))
