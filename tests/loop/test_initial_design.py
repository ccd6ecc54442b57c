"""Initial designs: distinct available rows, reproducible, and spread as each promises."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.loop.initial import DESIGNS, initial_design


def grid(k: int) -> np.ndarray:
    """A k × k grid on the unit square, shape ``(k², 2)``."""
    a = np.linspace(0, 1, k)
    return np.array([(x, y) for x in a for y in a])


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_picks_are_distinct_available_rows_and_reproducible(name: str) -> None:
    features = np.random.default_rng(0).random((200, 3))
    available = np.ones(200, dtype=bool)
    available[:50] = False
    picks = initial_design(name, features, available, 10, seed=3, cycle=0)
    assert len(picks) == len(set(picks.tolist())) == 10
    assert available[picks].all()
    again = initial_design(name, features, available, 10, seed=3, cycle=0)
    np.testing.assert_array_equal(picks, again)
    fresh = np.ones(200, dtype=bool)  # nothing planned: the seed decides the start
    if name == "diameter":  # ... only among tied extremes
        return
    assert not np.array_equal(initial_design(name, features, fresh, 10, seed=3, cycle=0),
                              initial_design(name, features, fresh, 10, seed=4, cycle=0))


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_never_more_than_available(name: str) -> None:
    available = np.zeros(30, dtype=bool)
    available[[3, 7]] = True
    picks = initial_design(name, np.arange(30.0).reshape(-1, 1), available, 5, 0, 0)
    assert sorted(picks.tolist()) == [3, 7]


def test_random_is_the_seeded_draw_the_loop_always_made() -> None:
    available = np.ones(100, dtype=bool)
    expected = np.random.default_rng([7, 2]).choice(np.arange(100), size=5, replace=False)
    picks = initial_design("random", np.zeros((100, 1)), available, 5, seed=7, cycle=2)
    np.testing.assert_array_equal(picks, expected)


def test_farthest_keeps_away_from_what_was_measured() -> None:
    line = np.linspace(0, 1, 101).reshape(-1, 1)
    available = np.ones(101, dtype=bool)
    available[0] = False  # measured: x = 0
    picks = initial_design("farthest", line, available, 2, seed=0, cycle=0)
    assert picks.tolist() == [100, 50]


def test_diameter_starts_at_opposite_corners_and_seeds_break_the_ties() -> None:
    square = grid(11)
    fresh = np.ones(len(square), dtype=bool)
    starts = set()
    for seed in range(20):
        first, second, third = initial_design("diameter", square, fresh, 3, seed, cycle=0)
        assert {tuple(square[first]), tuple(square[second])} in (
            {(0.0, 0.0), (1.0, 1.0)}, {(0.0, 1.0), (1.0, 0.0)})
        assert tuple(square[third]) in {(0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1.0, 1.0)}
        starts.add(int(first))
    assert len(starts) > 1
    available = fresh.copy()
    available[60] = False  # measured: the centre; the design keeps away from it instead
    assert initial_design("diameter", square, available, 1, 0, 0).tolist() == \
        initial_design("farthest", square, available, 1, 0, 0).tolist()


def test_kmeans_draws_from_the_far_cluster() -> None:
    rng = np.random.default_rng(1)
    near, far = rng.normal(0, 0.01, (100, 2)), rng.normal(1, 0.01, (100, 2))
    features = np.vstack([near, far])
    available = np.ones(200, dtype=bool)
    available[0] = False  # one point of the near cluster is measured
    seconds = [initial_design("kmeans", features, available, 1, seed, 0)[0]
               for seed in range(20)]
    assert all(row >= 100 for row in seconds)


def test_sobol_fills_the_four_quadrants() -> None:
    features = grid(20)
    picks = initial_design("sobol", features, np.ones(len(features), bool), 4, 0, 0)
    quadrants = {(bool(x >= 0.5), bool(y >= 0.5)) for x, y in features[picks]}
    assert len(quadrants) == 4


def test_unknown_design_is_named() -> None:
    with pytest.raises(ValueError, match="unknown initial design 'lhs'"):
        initial_design("lhs", np.zeros((3, 1)), np.ones(3, bool), 1, 0, 0)


def test_the_loop_uses_the_campaign_design(make_campaign, crossed_barrel_config,
                                           tmp_path) -> None:
    campaign = make_campaign(crossed_barrel_config(
        budget=6, initial=6, loop={"initial_design": "farthest"}))
    with campaign.session(tmp_path / "cb.db") as session:
        batch = session.propose(6)
        pool = session.pool
        expected = initial_design("farthest", session.space.features,
                                  np.ones(len(pool), bool), 6, seed=0, cycle=0)
    proposed = {tuple(row) for row in batch[["n", "theta", "r", "t"]].to_numpy(float)}
    assert proposed == {tuple(row) for row in pool.values[expected]}
