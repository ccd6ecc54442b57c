"""Batch selection over a discrete pool with BoTorch acquisitions, for each kind of set."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from matloop.campaigns.schema import Target
from matloop.campaigns.targets import TargetSet
from matloop.loop.acquisition import derive, select
from matloop.surrogates import make_surrogate

MAXIMIZE = TargetSet.from_targets([Target(property="y", goal="maximize")])
MINIMIZE = TargetSet.from_targets([Target(property="y", goal="minimize")])


def fitted(sign: float = 1.0):
    X = np.linspace(0, 1, 9)[:, None]
    Y = -((X - 0.7) ** 2) * sign  # best at 0.7 for either direction
    bounds = np.array([[0.0], [1.0]])
    return X, Y, make_surrogate("gp", bounds=bounds, seed=0).fit(X, Y)


def two_properties():
    """y0 peaks at x = 0.7; y1 grows with x. Targets: y0 high and y1 below 0.3."""
    X = np.linspace(0, 1, 11)[:, None]
    Y = np.hstack([-((X - 0.7) ** 2), X])
    surrogate = make_surrogate("gp", bounds=np.array([[0.0], [1.0]]), seed=0).fit(X, Y)
    return X, Y, surrogate


@pytest.mark.parametrize(("targets", "name", "expected"), [
    (MAXIMIZE, "auto", "logei"),
    (TargetSet.from_targets([Target(property="y", above=1.0)]), "auto", "feasibility"),
    (TargetSet.from_targets([Target(property="y", goal="maximize"),
                             Target(property="z", below=1.0)]), "auto", "logei"),
    (MAXIMIZE, "ucb", "ucb"),
])
def test_the_set_decides_the_acquisition(targets, name, expected) -> None:
    assert derive(targets, name) == expected


@pytest.mark.parametrize("name", ["logei", "ucb"])
@pytest.mark.parametrize(("sign", "targets"), [(1.0, MAXIMIZE), (-1.0, MINIMIZE)])
def test_single_pick_goes_to_the_optimum(name: str, sign: float, targets: TargetSet) -> None:
    X, Y, surrogate = fitted(sign)
    choices = np.array([[0.05], [0.33], [0.69], [0.95]])
    (index,) = select(name, surrogate, choices, X, Y, targets, q=1, seed=0)
    assert index == 2


@pytest.mark.parametrize("name", ["logei", "ucb"])
def test_batch_has_distinct_picks_and_is_reproducible(name: str) -> None:
    X, Y, surrogate = fitted()
    choices = np.linspace(0, 1, 41)[:, None]
    picks = select(name, surrogate, choices, X, Y, MAXIMIZE, q=4, seed=0)
    assert len(set(picks.tolist())) == 4
    again = select(name, surrogate, choices, X, Y, MAXIMIZE, q=4, seed=0)
    assert picks.tolist() == again.tolist()


def test_pending_points_push_the_next_pick_away() -> None:
    X, Y, surrogate = fitted()
    choices = np.linspace(0, 1, 41)[:, None]
    (alone,) = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=1, seed=0)
    (beside,) = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=1, seed=0,
                       X_pending=choices[[alone]])
    assert beside != alone


def test_identical_rows_are_each_returned_once() -> None:
    X, Y, surrogate = fitted()
    choices = np.array([[0.7], [0.7], [0.1]])
    picks = select("ucb", surrogate, choices, X, Y, MAXIMIZE, q=2, seed=0)
    assert sorted(picks.tolist()) == [0, 1]


def test_constrained_improvement_respects_the_threshold() -> None:
    X, Y, surrogate = two_properties()
    targets = TargetSet.from_targets([Target(property="a", goal="maximize"),
                                      Target(property="b", below=0.3)])
    choices = np.array([[0.2], [0.3], [0.7]])  # 0.7 is best for a but breaks b <= 0.3
    (single,) = select("auto", surrogate, choices, X, Y, targets, q=1, seed=0)
    assert choices[single, 0] == 0.3
    batch = select("auto", surrogate, np.linspace(0, 1, 21)[:, None], X, Y, targets, q=2,
                   seed=0)
    assert np.all(np.linspace(0, 1, 21)[batch] <= 0.35)


def test_range_search_picks_the_likeliest_hits() -> None:
    X, Y, surrogate = two_properties()
    targets = TargetSet.from_targets([Target(property="a", above=-0.01),
                                      Target(property="b", between=(0.6, 0.8))])
    choices = np.array([[0.1], [0.45], [0.72], [0.95]])
    (single,) = select("auto", surrogate, choices, X, Y, targets, q=1, seed=0)
    assert choices[single, 0] == 0.72
    grid = np.linspace(0, 1, 41)[:, None]
    batch = select("feasibility", surrogate, grid, X, Y, targets, q=3, seed=0)
    assert len(set(batch.tolist())) == 3
    assert np.all((grid[batch, 0] > 0.55) & (grid[batch, 0] < 0.85))


def test_large_pool_batches_come_from_the_best_scored_candidates() -> None:
    from matloop.loop import acquisition

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(30, 3))
    Y = -np.sum((X - 0.5) ** 2, axis=1, keepdims=True)
    surrogate = make_surrogate("gp", bounds=np.array([[0.0] * 3, [1.0] * 3]), seed=0).fit(X, Y)
    choices = rng.uniform(size=(acquisition.MC_POOL * 3, 3))
    picks = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=3, seed=0)
    assert len(set(picks.tolist())) == 3
    distance = np.sum((choices[picks] - 0.5) ** 2, axis=1)
    assert np.all(distance < np.quantile(np.sum((choices - 0.5) ** 2, axis=1), 0.2))


def wavy_gp(rng: np.random.Generator, n: int, d: int):
    """n uniform points in [0, 1]^d, y = sum(sin 5x), and a GP fitted to them."""
    X = rng.uniform(size=(n, d))
    Y = np.sin(5 * X).sum(1, keepdims=True)
    return X, Y, make_surrogate("gp", bounds=np.array([[0.0] * d, [1.0] * d]), seed=0).fit(X, Y)


def test_shortlisted_batch_equals_the_batch_over_the_whole_pool(monkeypatch) -> None:
    from matloop.loop import acquisition

    rng = np.random.default_rng(1)
    X, Y, surrogate = wavy_gp(rng, n=40, d=3)
    choices = rng.uniform(size=(600, 3))
    shortlisted = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=4, seed=0)
    monkeypatch.setattr(acquisition, "MC_POOL", len(choices))
    whole = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=4, seed=0)
    assert shortlisted.tolist() == whole.tolist()


def test_capped_baseline_picks_the_batch_of_the_whole_baseline(monkeypatch) -> None:
    from matloop.loop import factories

    rng = np.random.default_rng(3)
    X, Y, surrogate = wavy_gp(rng, n=300, d=3)
    choices = rng.uniform(size=(400, 3))
    monkeypatch.setattr(factories, "MC_BASELINE", 40)
    capped = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=4, seed=0)
    monkeypatch.setattr(factories, "MC_BASELINE", len(X))
    whole = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=4, seed=0)
    assert capped.tolist() == whole.tolist()


def test_capped_baseline_keeps_the_best_by_mean_and_the_best_hits(monkeypatch) -> None:
    import torch

    from matloop.loop import factories

    X = np.linspace(0, 1, 61)[:, None]
    Y = np.hstack([-((X - 0.7) ** 2), X])  # targets: y0 high, y1 below 0.3
    surrogate = make_surrogate("gp", bounds=np.array([[0.0], [1.0]]), seed=0).fit(X, Y)
    targets = TargetSet.from_targets([Target(property="y0", goal="maximize"),
                                      Target(property="y1", below=0.3)])
    problem = factories.Problem(surrogate.model, targets, torch.as_tensor(X),
                                torch.as_tensor(Y), pending=None, seed=0, beta=2.0)
    assert len(factories._baseline(problem)) == len(X)
    monkeypatch.setattr(factories, "MC_BASELINE", 5)
    kept = sorted(round(x, 4) for x in factories._baseline(problem)[:, 0].tolist())
    near_optimum = sorted(X[np.argsort(np.abs(X[:, 0] - 0.7))[:5], 0].round(4).tolist())
    best_hits = sorted(X[targets.hits(Y)][-5:, 0].round(4).tolist())  # "below" includes 0.3
    assert kept == sorted(best_hits + near_optimum)


def test_shortlist_grows_while_the_batch_reaches_its_lower_half(monkeypatch) -> None:
    from matloop.loop import acquisition

    rng = np.random.default_rng(2)
    X, Y, surrogate = wavy_gp(rng, n=20, d=2)
    choices = rng.uniform(size=(300, 2))
    sizes: list[int] = []
    import botorch.optim  # select imports the optimiser when called: patch it there

    original = botorch.optim.optimize_acqf_discrete

    def counting(acq, q, choices, **kwargs):
        sizes.append(len(choices))
        return original(acq, q=q, choices=choices, **kwargs)

    monkeypatch.setattr(botorch.optim, "optimize_acqf_discrete", counting)
    monkeypatch.setattr(acquisition, "MC_POOL", 2)  # 3 picks cannot fit in the top half of 2
    picks = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=3, seed=0)
    assert sizes[:2] == [2, 8]  # 3 picks among 2, then among 8, ...
    assert all(b == 4 * a for a, b in itertools.pairwise(sizes))
    monkeypatch.setattr(acquisition, "MC_POOL", 300)
    assert picks.tolist() == select("logei", surrogate, choices, X, Y, MAXIMIZE, q=3,
                                    seed=0).tolist()


@pytest.mark.parametrize("kind", ["ensemble", "forest"])
@pytest.mark.parametrize("name", ["logei", "ucb"])
def test_ensembles_pick_single_candidates_and_batches(kind: str, name: str) -> None:
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(12, 2))
    Y = -np.sum((X - 0.5) ** 2, axis=1, keepdims=True)
    surrogate = make_surrogate(kind, bounds=np.array([[0.0] * 2, [1.0] * 2]), seed=0).fit(X, Y)
    choices = np.concatenate([rng.uniform(size=(299, 2)), [[0.5, 0.5]]])
    (single,) = select(name, surrogate, choices, X, Y, MAXIMIZE, q=1, seed=0)
    batch = select(name, surrogate, choices, X, Y, MAXIMIZE, q=3, seed=0)
    assert len(set(batch.tolist())) == 3
    distance = np.sum((choices - 0.5) ** 2, axis=1)
    assert distance[single] < np.quantile(distance, 0.2)


# --- two or more objectives -------------------------------------------------------------

TWO_OBJECTIVES = TargetSet.from_targets([Target(property="y0", goal="maximize"),
                                         Target(property="y1", goal="maximize")])


def conflicting(extra_output: bool = False):
    """y0 peaks at x = 0.2, y1 at x = 0.8: the Pareto set is 0.2 <= x <= 0.8. Measured only
    outside it. With ``extra_output``, a third output y2 = x."""
    X = np.array([[0.0], [0.05], [0.1], [0.9], [0.95], [1.0]])
    Y = np.hstack([-((X - 0.2) ** 2), -((X - 0.8) ** 2)] + ([X] if extra_output else []))
    surrogate = make_surrogate("gp", bounds=np.array([[0.0], [1.0]]), seed=0).fit(X, Y)
    return X, Y, surrogate


def test_two_objectives_use_hypervolume_improvement() -> None:
    assert derive(TWO_OBJECTIVES, "auto") == "ehvi"


def test_hypervolume_pick_lands_between_the_two_optima() -> None:
    X, Y, surrogate = conflicting()
    choices = np.array([[0.02], [0.5], [0.97]])
    (index,) = select("ehvi", surrogate, choices, X, Y, TWO_OBJECTIVES, q=1, seed=0)
    assert index == 1


def test_hypervolume_batch_is_distinct_reproducible_and_on_the_front() -> None:
    X, Y, surrogate = conflicting()
    choices = np.linspace(0, 1, 41)[:, None]
    picks = select("ehvi", surrogate, choices, X, Y, TWO_OBJECTIVES, q=3, seed=0)
    assert len(set(picks.tolist())) == 3
    assert all(0.15 <= choices[i, 0] <= 0.85 for i in picks), choices[picks]
    again = select("ehvi", surrogate, choices, X, Y, TWO_OBJECTIVES, q=3, seed=0)
    assert picks.tolist() == again.tolist()


@pytest.mark.parametrize("q", [1, 3])
def test_hypervolume_respects_a_threshold_on_another_output(q: int) -> None:
    X, Y, surrogate = conflicting(extra_output=True)
    targets = TargetSet.from_targets([Target(property="y0", goal="maximize"),
                                      Target(property="y1", goal="maximize"),
                                      Target(property="y2", below=0.4)])
    choices = np.linspace(0, 1, 41)[:, None]
    picks = select("auto", surrogate, choices, X, Y, targets, q=q, seed=0)
    assert all(0.15 <= choices[i, 0] <= 0.42 for i in picks), choices[picks]


# --- weighting by the probability of success -------------------------------------------


def fails_above_half(X: np.ndarray) -> np.ndarray:
    return np.where(X[:, 0] > 0.5, 0.01, 0.99)


@pytest.mark.parametrize("q", [1, 3])
@pytest.mark.parametrize("name", ["logei", "ucb"])
def test_candidates_likely_to_fail_are_skipped(name: str, q: int) -> None:
    X, Y, surrogate = fitted()  # the optimum is at 0.7, where evaluations fail
    choices = np.linspace(0, 1, 41)[:, None]
    picks = select(name, surrogate, choices, X, Y, MAXIMIZE, q=q, seed=0,
                   success=fails_above_half)
    assert all(choices[i, 0] <= 0.5 for i in picks), choices[picks]
    unweighted = select(name, surrogate, choices, X, Y, MAXIMIZE, q=q, seed=0)
    assert any(choices[i, 0] > 0.5 for i in unweighted)


def test_the_probability_also_weights_the_acquisition_without_the_filter() -> None:
    X, Y, surrogate = fitted()
    choices = np.array([[0.6], [0.7]])  # log EI about -7.5 and -5.4

    def fails_above(X: np.ndarray) -> np.ndarray:
        return np.where(X[:, 0] > 0.65, 0.01, 0.99)  # log P about -4.6 at 0.7

    (plain,) = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=1, seed=0)
    (weighted,) = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=1, seed=0,
                         success=fails_above, min_success=0.0)
    assert (plain, weighted) == (1, 0)


def test_when_every_candidate_is_likely_to_fail_the_filter_stands_aside() -> None:
    X, Y, surrogate = fitted()
    choices = np.array([[0.6], [0.7], [0.8]])
    (index,) = select("logei", surrogate, choices, X, Y, MAXIMIZE, q=1, seed=0,
                      success=fails_above_half)
    assert index == 1


def test_observed_incumbent_is_the_best_measured_value_not_the_smoothed_one() -> None:
    import dataclasses

    import torch

    from matloop.loop.acquisition import scores
    from matloop.loop.factories import Problem, incumbent_value

    X = np.linspace(0, 1, 21)[:, None]
    Y = np.sin(3 * X) + np.random.default_rng(0).normal(0, 0.05, X.shape)
    Y[10] += 1.5  # one spike the GP explains as noise
    Y[3] = np.nan  # unmeasured: no incumbent
    surrogate = make_surrogate("gp", bounds=np.array([[0.0], [1.0]]), seed=0).fit(X, Y)
    problem = Problem(model=surrogate.model, targets=MAXIMIZE,
                      X_train=torch.as_tensor(X), Y_train=torch.as_tensor(Y), pending=None,
                      seed=0, beta=2.0)
    smoothed = incumbent_value(problem)
    assert smoothed < np.nanmax(Y) - 0.5
    observed = incumbent_value(dataclasses.replace(problem, observed=torch.as_tensor(Y)))
    assert observed == pytest.approx(np.nanmax(Y))
    choices = np.linspace(0, 1, 50)[:, None]
    by_mean = scores("logei", surrogate, choices, X, Y, MAXIMIZE)
    by_observed = scores("logei", surrogate, choices, X, Y, MAXIMIZE, incumbent="observed")
    assert (by_observed < by_mean).all()  # a higher bar: less improvement everywhere


def test_observed_incumbent_of_a_warped_gp_is_in_warped_units() -> None:
    from matloop.loop.acquisition import _scoring_problem
    from matloop.loop.factories import incumbent_value

    X = np.linspace(0, 1, 15)[:, None]
    Y = np.exp(4 * X)  # skewed: the warp compresses the top
    surrogate = make_surrogate("gp", bounds=np.array([[0.0], [1.0]]), seed=0,
                               warp=(0,)).fit(X, Y)
    problem = _scoring_problem(surrogate, X, Y, MAXIMIZE, 0, 2.0, None, "observed")
    warped_best = surrogate.model_units(Y)[:, 0].max()
    assert incumbent_value(problem) == pytest.approx(warped_best)
    assert warped_best < Y.max() / 10
