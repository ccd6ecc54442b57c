"""Peers on the same problems: a plain BoTorch loop and BayBE's default campaign.

A ``Problem`` is a benchmark campaign reduced to what every method sees: the pool's
features ``x`` ``(N, d)`` scaled to the unit box (matloop's own featurisation of the
pool, so the methods differ in the loop and not in the description of a candidate), the
true objective ``y`` ``(N,)`` from the table, its direction, and the budget, initial
design and batch size of the campaign file. Each method returns, per seed, the pool
indices it evaluated in order; ``first_hit`` turns an order into evaluations to the first
top-1 % candidate.

* ``botorch_order``: the minimal loop a BoTorch user writes (random initial design,
  ``SingleTaskGP`` with BoTorch's default priors and outcome standardisation, LogEI over
  the candidates not yet measured; qLogEI with sequential greedy selection for batches).
* ``baybe_orders``: BayBE's default ``Campaign`` over a discrete search space of the same
  rows, run by ``benchmarks/baybe_peer.py`` in a separate Python environment that has
  ``baybe`` installed (it is not a matloop dependency).
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matloop.benchmarking import metrics
from matloop.campaigns.schema import Campaign
from matloop.errors import ConfigError

TOP_FIRST = 0.01  # "evaluations to the first top-1 % candidate"
SCORE_CHUNK = 4096  # candidates scored at once by the BoTorch peer


@dataclass(frozen=True)
class Problem:
    """One benchmark campaign as the peers see it; ``sign`` +1 maximises, -1 minimises."""

    name: str
    x: np.ndarray
    y: np.ndarray
    sign: float
    budget: int
    initial: int
    batch: int

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def top(self, fraction: float = TOP_FIRST) -> np.ndarray:
        """Members ``(N,)`` of the pool's top ``fraction`` (ties included)."""
        return metrics.top_set(self.y, self.sign, fraction)[0]

    def random_first_hit(self, fraction: float = TOP_FIRST) -> float:
        """Random search's expected draws to the first top-``fraction`` candidate."""
        return metrics.random_evaluations_to_kth(1, self.n, int(self.top(fraction).sum()))


def problem_from_campaign(campaign: Campaign, label: str, budget: int | None = None
                          ) -> Problem:
    """The campaign's pool, features and known answers; one maximise/minimise target."""
    from matloop.benchmarking.analysis import known_answers
    from matloop.spaces.build import build_pool
    from matloop.spaces.featurised import featurise

    pool = build_pool(campaign.space)
    truth = known_answers(campaign, label, pool)
    objective = truth.targets.objective
    if objective is None or truth.targets.bounds or len(campaign.targets) != 1:
        raise ConfigError(f"{label}: peers are compared on one maximize/minimize target")
    from matloop.loop.initial import unit_box

    x = unit_box(featurise(pool).features)
    loop = campaign.loop
    total = budget or loop.budget
    return Problem(label, x, truth.values[:, 0].copy(), campaign.targets[0].sign, total,
                   min(loop.initial, total), loop.batch_size)


def first_hit(problem: Problem, order: list[int] | tuple[int, ...],
              fraction: float = TOP_FIRST) -> float:
    """Evaluations (1-based) to the first top-``fraction`` candidate; ``inf`` if never."""
    good = problem.top(fraction)[np.asarray(order, dtype=int)]
    return metrics.evaluations_to(np.cumsum(good), 1)


def botorch_order(problem: Problem, seed: int, stop_at_first: bool = False) -> list[int]:
    """Pool indices a plain BoTorch loop evaluates, in order (``problem.budget`` of them,
    or with ``stop_at_first`` up to the batch that measures a top-1 % candidate).

    A candidate whose value is missing (NaN) counts as evaluated but adds no data.
    """
    import torch
    from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.optim import optimize_acqf_discrete
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(problem.x, dtype=torch.float64)
    order = [int(i) for i in rng.choice(problem.n, size=problem.initial, replace=False)]
    top = problem.top()
    while len(order) < min(problem.budget, problem.n):
        if stop_at_first and top[order].any():
            break
        measured = [i for i in order if np.isfinite(problem.y[i])]
        remaining = np.setdiff1d(np.arange(problem.n), order)
        q = min(problem.batch, problem.budget - len(order), len(remaining))
        if len(measured) < 2:
            order += [int(i) for i in rng.choice(remaining, size=q, replace=False)]
            continue
        train_y = torch.as_tensor(problem.sign * problem.y[measured],
                                  dtype=torch.float64)[:, None]
        model = SingleTaskGP(x[measured], train_y)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        best = train_y.max()
        choices = x[remaining]
        if q == 1:
            acquisition = LogExpectedImprovement(model, best_f=best)
            with torch.no_grad():
                scores = torch.cat([acquisition(chunk.unsqueeze(1))
                                    for chunk in choices.split(SCORE_CHUNK)])
            order.append(int(remaining[int(scores.argmax())]))
        else:
            batch_acquisition = qLogExpectedImprovement(model, best_f=best)
            picked, _ = optimize_acqf_discrete(batch_acquisition, q=q, choices=choices,
                                               unique=True)
            where: dict[tuple[float, ...], list[int]] = {}
            for j, row in enumerate(choices.tolist()):
                where.setdefault(tuple(row), []).append(j)
            order += [int(remaining[where[tuple(row)].pop(0)]) for row in picked.tolist()]
    return order


def baybe_orders(problem: Problem, seeds: list[int], python: Path, script: Path,
                 stop_at_first: bool = False) -> dict[int, list[int]]:
    """Per seed, the pool indices BayBE's default campaign evaluates, in order (with
    ``stop_at_first``, up to the batch that measures a top-1 % candidate).

    Runs ``python script in.npz out.json`` (``benchmarks/baybe_peer.py`` under an
    interpreter that has ``baybe``); raises ``ConfigError`` if it fails.
    """
    with tempfile.TemporaryDirectory(prefix="matloop-peers-") as folder:
        given, found = Path(folder) / "problem.npz", Path(folder) / "orders.json"
        np.savez(given, x=problem.x, y=problem.y, sign=problem.sign, budget=problem.budget,
                 initial=problem.initial, batch=problem.batch, seeds=np.asarray(seeds),
                 stop=problem.top() if stop_at_first else np.zeros(problem.n, bool))
        done = subprocess.run([str(python), str(script), str(given), str(found)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ConfigError(f"{problem.name}: the BayBE peer failed:\n{done.stderr[-2000:]}")
        orders = json.loads(found.read_text())
    return {int(seed): [int(i) for i in order] for seed, order in orders.items()}


def geometric_mean(values: list[float]) -> float:
    """Geometric mean of positive finite ``values`` (NaN when there are none)."""
    kept = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, kept)) / len(kept)) if kept else math.nan
