"""Exact pruning of pool acquisitions (``loop.pruning``): the bounds bound, and the picks
are those of scoring every candidate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from matloop.campaigns.schema import Target
from matloop.campaigns.targets import TargetSet
from matloop.loop.acquisition import select
from matloop.loop.pruning import Ranking, bounding_model, likeliest_variance
from matloop.surrogates import make_surrogate
from matloop.surrogates.bounds import marginal_bounds
from matloop.surrogates.marginal import MarginalGP, exact_marginals

MAXIMIZE = TargetSet.from_targets([Target(property="y", goal="maximize")])
ABOVE = TargetSet.from_targets([Target(property="y", above=1.2)])
BETWEEN = TargetSet.from_targets([Target(property="y", between=(0.4, 0.6))])
CONSTRAINED = TargetSet.from_targets([Target(property="y", goal="maximize"),
                                      Target(property="z", below=0.3)])


@pytest.fixture(autouse=True)
def prune_small_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pruning from the first observation, so that small, fast models exercise it."""
    from matloop.loop import pruning

    monkeypatch.setattr(pruning, "MIN_OBSERVATIONS", 1)


def problem(n: int, d: int, m: int = 1, seed: int = 0, N: int = 20000):
    """A GP fitted to n points of a wavy function (m outputs) and a pool of N."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    Y = np.sin(5 * X).sum(1, keepdims=True) / d
    if m == 2:
        Y = np.hstack([Y, np.cos(3 * X).mean(1, keepdims=True) - 0.5])
    surrogate = make_surrogate("gp", bounds=np.array([[0.0] * d, [1.0] * d]),
                               seed=0).fit(X, Y)
    return surrogate, X, Y, rng.uniform(size=(N, d))


@pytest.mark.parametrize("kernel", ["rbf", "matern"])
def test_the_bounds_hold_and_are_tight(kernel: str) -> None:
    """The mean lies within [low, high] (the float32 kernel block's rounding, a few
    10⁻⁵ of the mean's scale) and the variance below its bound."""
    surrogate, X, Y, pool = problem(n=120, d=3)
    if kernel == "matern":
        surrogate = make_surrogate("gp", bounds=np.array([[0.0] * 3, [1.0] * 3]), seed=0,
                                   kernel="matern52").fit(X, Y)
    P = torch.as_tensor(pool)
    mean, variance = exact_marginals(surrogate.model, P)
    low, high, bound = marginal_bounds(surrogate.model, P)
    assert (low <= mean).all() and (mean <= high).all()
    assert (high - low).max() < 0.05 * mean.abs().max()  # α = K⁻¹y: ‖α‖₁ is 1,800 here
    assert (high - low).max() > 0  # the float32 path, with its error bound
    assert (bound >= variance * (1 - 1e-3)).all()
    prior = surrogate.model.covar_module(surrogate.model.transform_inputs(P), diag=True)
    prior = prior * surrogate.model.outcome_transform.stdvs.square()
    assert (bound <= prior * (1 + 1e-9)).all()
    assert (bound < 0.5 * prior).float().mean() > 0.5  # far tighter than the prior


@pytest.mark.parametrize(("lo", "hi"), [(0.2, 0.5), (0.2, math.inf), (-math.inf, 0.5)])
def test_the_likeliest_variance_maximises_the_probability_of_the_range(
        lo: float, hi: float) -> None:
    mean = torch.linspace(-1.0, 1.5, 101, dtype=torch.double)
    upper = torch.full_like(mean, 0.3)
    chosen = likeliest_variance(mean, upper, lo, hi)
    assert ((chosen >= 0) & (chosen <= upper)).all()
    normal = torch.distributions.Normal(0.0, 1.0)

    def probability(var: torch.Tensor) -> torch.Tensor:
        sd = var.clamp_min(1e-300).sqrt()
        return normal.cdf((hi - mean) / sd) - normal.cdf((lo - mean) / sd)

    best = probability(chosen)
    for fraction in torch.linspace(1e-4, 1.0, 200, dtype=torch.double):
        assert (best >= probability(upper * fraction) - 1e-12).all()


@pytest.mark.parametrize(("name", "targets", "m"), [
    ("logei", MAXIMIZE, 1), ("ucb", MAXIMIZE, 1), ("feasibility", ABOVE, 1),
    ("feasibility", BETWEEN, 1), ("logei", CONSTRAINED, 2)])
def test_the_bound_acquisition_bounds_the_exact_one(name: str, targets: TargetSet,
                                                    m: int) -> None:
    from matloop.loop.acquisition import ACQUISITIONS, _scoring_problem
    from matloop.loop.pruning import score

    surrogate, X, Y, pool = problem(n=60, d=2, m=m)
    scoring = _scoring_problem(surrogate, X, Y, targets, 0, 2.0, None, "mean")
    bounding = bounding_model(name, scoring.model, targets)
    assert bounding is not None
    factory = ACQUISITIONS[name]
    P = torch.as_tensor(pool)
    exact = score(factory(scoring, True), P)
    bound = score(factory(type(scoring)(**{**scoring.__dict__, "model": bounding}), True), P)
    assert (bound >= exact - 1e-9 * (1 + exact.abs())).all()


@pytest.mark.parametrize(("name", "targets", "m", "q", "n"), [
    ("logei", MAXIMIZE, 1, 1, 200), ("logei", MAXIMIZE, 1, 5, 200),
    ("logei", MAXIMIZE, 1, 1, 15), ("ucb", MAXIMIZE, 1, 1, 100),
    ("feasibility", ABOVE, 1, 1, 100), ("feasibility", BETWEEN, 1, 4, 100),
    ("logei", CONSTRAINED, 2, 1, 80), ("logei", CONSTRAINED, 2, 3, 80)])
def test_pruned_picks_are_the_picks_of_scoring_every_candidate(
        name: str, targets: TargetSet, m: int, q: int, n: int) -> None:
    surrogate, X, Y, pool = problem(n=n, d=3, m=m, seed=n + q)
    pruned = select(name, surrogate, pool, X, Y, targets, q=q, seed=0)
    whole = select(name, surrogate, pool, X, Y, targets, q=q, seed=0, prune=False)
    assert pruned.tolist() == whole.tolist()


def test_most_of_a_large_pool_is_never_scored_exactly() -> None:
    from matloop.loop.acquisition import ACQUISITIONS, _scoring_problem

    surrogate, X, Y, pool = problem(n=300, d=4, N=100_000)
    scoring = _scoring_problem(surrogate, X, Y, MAXIMIZE, 0, 2.0, None, "mean")
    bounding = bounding_model("logei", scoring.model, MAXIMIZE)
    factory = ACQUISITIONS["logei"]
    bound = factory(type(scoring)(**{**scoring.__dict__, "model": bounding}), True)
    P = torch.as_tensor(pool)
    ranking = Ranking(factory(scoring, True), bound, P)
    top = ranking.top(256)
    assert ranking.pruned > 0.5 * len(pool)
    whole = Ranking(factory(scoring, True), None, P)
    assert top.tolist() == whole.top(256).tolist() and whole.pruned == 0


def test_pruning_stands_aside_where_it_cannot_bound() -> None:
    surrogate, _, _, _ = problem(n=30, d=2, m=2)
    model = surrogate.marginal_model
    assert isinstance(model, MarginalGP)
    both = TargetSet.from_targets([Target(property="y", goal="maximize"),
                                   Target(property="y", above=0.1)])
    assert bounding_model("logei", model, both) is None  # optimised and bounded
    two = TargetSet.from_targets([Target(property="y", goal="maximize"),
                                  Target(property="z", goal="minimize")])
    assert bounding_model("ehvi", model, two) is None
    assert bounding_model("logei", surrogate.model, MAXIMIZE) is None  # not the marginals
    from matloop.loop import pruning

    pruning.MIN_OBSERVATIONS = 31  # restored by the fixture's monkeypatch
    assert bounding_model("logei", model, MAXIMIZE) is None  # 30 observations: not worth it


@pytest.mark.parametrize(("min_success", "q"), [(0.0, 1), (0.5, 1), (0.0, 3)])
def test_pruned_picks_weighted_by_the_chance_of_success_are_the_same(
        min_success: float, q: int) -> None:
    """log P(success), computed once for the pool, is added to every bound: the weighted
    picks (the best region fails half the time) are still those of scoring everything."""
    surrogate, X, Y, pool = problem(n=150, d=3, seed=5)

    def success(features: np.ndarray) -> np.ndarray:
        return np.where(features[:, 0] > 0.25, 0.45, 0.95)

    pruned = select("logei", surrogate, pool, X, Y, MAXIMIZE, q=q, seed=0, success=success,
                    min_success=min_success)
    whole = select("logei", surrogate, pool, X, Y, MAXIMIZE, q=q, seed=0, success=success,
                   min_success=min_success, prune=False)
    assert pruned.tolist() == whole.tolist()
    if min_success:
        assert (pool[pruned, 0] <= 0.25).all()
