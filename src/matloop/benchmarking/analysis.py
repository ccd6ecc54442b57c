"""From replayed seeds and the table's known answers to a campaign's benchmark summary.

The pool's true values come from the campaign's own table: the space's candidates, each
looked up by the table oracle (which averages repeated rows of one candidate, exactly as
the runs saw them). A seed's order of evaluations and its measured values come from its
store (``replay.SeedRun``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from matloop.benchmarking import metrics
from matloop.benchmarking.replay import SeedRun
from matloop.campaigns.schema import Campaign
from matloop.campaigns.targets import TargetSet
from matloop.errors import ConfigError
from matloop.spaces.pool import Pool

FRACTIONS = (0.5, 0.8)  # AF(p) is reported at these fractions of the top-5 % set
TOP = 0.05
BEST = 0.01
DEFAULT_HITS = 10  # K for "evaluations to K hits" when the file has no stop_after_hits


@dataclass(frozen=True)
class Truth:
    """The pool's known answers: ``values`` ``(N, m)`` of ``targets.properties`` (NaN where
    the table has none)."""

    targets: TargetSet
    values: np.ndarray

    @property
    def n(self) -> int:
        return int(self.values.shape[0])


def require_table_oracle(campaign: Campaign, label: str) -> None:
    """Raise ``ConfigError`` unless the campaign's answers are known (a table oracle)."""
    if campaign.oracle.kind != "table":
        raise ConfigError(
            f"{label}: oracle.kind = {campaign.oracle.kind!r}: benchmark replays campaigns "
            "whose oracle is a table of known answers (oracle.kind = \"table\"); a "
            f"{campaign.oracle.kind!r} oracle would have to be run on the whole pool")


def known_answers(campaign: Campaign, label: str, pool: Pool | None = None) -> Truth:
    """Every pool candidate's values from the campaign's table; ``ConfigError`` if the
    oracle is not a table, the targets are several objectives without ranges, or the table
    has nothing to find. ``pool``: the campaign's pool when the caller has built it.

    One maximise/minimise target (and no ranges) is benchmarked by its top sets; any set
    with range targets by its hits.
    """
    from matloop.loop.build import build_oracle
    from matloop.spaces.build import build_pool

    require_table_oracle(campaign, label)
    if pool is None:
        pool = build_pool(campaign.space)
    oracle = build_oracle(campaign)
    properties = campaign.properties
    values = np.full((len(pool), len(properties)), np.nan)
    for i in range(len(pool)):
        outcome = oracle.evaluate(pool.candidate(i))
        if outcome.ok:
            values[i] = [outcome.values.get(p, np.nan) for p in properties]
    truth = Truth(TargetSet.from_targets(campaign.targets), values)
    if truth.targets.objective is None and not truth.targets.bounds:
        raise ConfigError(f"{label}: benchmark needs one maximize/minimize target or range "
                          "targets (several optimised properties are not benchmarked yet)")
    if truth.targets.bounds and not truth.targets.hits(values).any():
        raise ConfigError(f"{label}: no candidate in the table meets every range target; "
                          "there is nothing to find")
    if not truth.targets.bounds and not np.isfinite(values).any():
        raise ConfigError(f"{label}: the table has no value of {properties[0]}")
    return truth


def analyse(label: str, campaign: Campaign, truth: Truth, runs: list[SeedRun],
            budget: int) -> dict[str, Any]:
    """The benchmark summary of one campaign over its seeds (plain, JSON-ready data).

    ``budget`` is the evaluations per seed; curves run over ``i = 1..min(budget, N)``.
    """
    length = min(budget, truth.n)
    targets = truth.targets
    summary: dict[str, Any] = {
        "label": label,
        "file": str(campaign.source) if campaign.source else None,
        "kind": "single" if not targets.bounds else "target set",
        "targets": [t.describe() for t in campaign.targets],
        "pool_size": truth.n,
        "budget": length,
        "seeds": [r.seed for r in runs],
        "initial": min(campaign.loop.initial, length),
        "batch_size": campaign.loop.batch_size,
        "acquisition": campaign.loop.acquisition,
        "surrogate": campaign.surrogate.kind,
    }
    if targets.bounds:
        summary["target_set"] = _target_set(campaign, truth, runs, length)
    else:
        summary["single"] = _single(truth, runs, length)
    summary["timing"] = _timing(runs)
    return summary


def _measured(run: SeedRun) -> np.ndarray:
    values = np.asarray(run.values, dtype=float)
    return values.reshape(run.evaluations, len(run.properties))


def _single(truth: Truth, runs: list[SeedRun], length: int) -> dict[str, Any]:
    """Top%, EF, AF and the first top-1 % candidate for one maximise/minimise target."""
    assert truth.targets.objective is not None
    j, sign = truth.targets.objective
    n = truth.n
    top, threshold = metrics.top_set(truth.values[:, j], sign, TOP)
    best, best_threshold = metrics.top_set(truth.values[:, j], sign, BEST)
    k, k_best = int(top.sum()), int(best.sum())
    curves, best_curves, best_found = [], [], []
    for run in runs:
        measured = _measured(run)[:, j]
        ok = np.asarray(run.succeeded, dtype=bool) & np.isfinite(measured)
        with np.errstate(invalid="ignore"):
            signed = np.where(ok, sign * measured, -np.inf)
        index = np.asarray(run.pool_index)
        curves.append(metrics.found_curve(signed >= sign * threshold, index, length))
        best_curves.append(metrics.found_curve(signed >= sign * best_threshold, index,
                                               length))
        finite = signed[:length][np.isfinite(signed[:length])]
        best_found.append(sign * finite.max() if len(finite) else math.nan)
    found = np.stack(curves)  # (S, B)
    top_fraction = found / k
    i = np.arange(1, length + 1)
    first = np.array([metrics.evaluations_to(c, 1) for c in best_curves])
    random_first = metrics.random_evaluations_to_kth(1, n, k_best)
    acceleration = {}
    for p in FRACTIONS:
        needed = metrics.count_for_fraction(p, k)
        method = np.array([metrics.evaluations_to(c, needed) for c in found])
        random = metrics.random_evaluations_to_fraction(p, n)
        median = float(metrics.quantiles(method, (0.5,))[0])
        acceleration[str(p)] = {
            "found_needed": needed, "method": metrics.band(method), "random": random,
            "factor": metrics.ratio(random, median),
            "per_seed": [metrics.ratio(random, m) for m in method],
            "reached": int(np.isfinite(method).sum())}
    at_budget = metrics.band(top_fraction[:, -1])
    random_at_budget = float(metrics.random_top_fraction(np.array([length]), n)[0])
    return {
        "direction": "maximize" if sign > 0 else "minimize",
        "top5": {"size": k, "threshold": threshold},
        "top1": {"size": k_best, "threshold": best_threshold},
        "first_top1": {"method": metrics.band(first), "random": random_first,
                       "factor": metrics.ratio(random_first,
                                               float(metrics.quantiles(first, (0.5,))[0])),
                       "reached": int(np.isfinite(first).sum())},
        "acceleration": acceleration,
        "top5_at_budget": {"method": at_budget, "random": random_at_budget,
                           "enhancement": _divide(at_budget["median"], random_at_budget)},
        "best_at_budget": metrics.band(np.array(best_found)),
        "pool_best": float(sign * np.nanmax(sign * truth.values[:, j])),
        "per_seed": [{"seed": r.seed, "first_top1": _finite(f), "top5_found": int(c[-1]),
                      "best": _finite(b)}
                     for r, f, c, b in zip(runs, first, found, best_found, strict=True)],
        "curves": {"evaluations": i.tolist(), "top5_fraction": metrics.band(top_fraction),
                   "random_top5_fraction": metrics.random_top_fraction(i, n).tolist(),
                   "enhancement": metrics.band(metrics.enhancement(top_fraction, n))},
    }


def _target_set(campaign: Campaign, truth: Truth, runs: list[SeedRun],
                length: int) -> dict[str, Any]:
    """Hits found against evaluations, first hit and K hits, against random search."""
    n = truth.n
    pool_hits = int(truth.targets.hits(truth.values).sum())
    wanted = campaign.loop.stop_after_hits or DEFAULT_HITS
    k = min(wanted, pool_hits)
    curves = []
    for run in runs:
        measured = _measured(run)
        hit = np.asarray(run.succeeded, dtype=bool) & truth.targets.hits(measured)
        curves.append(metrics.found_curve(hit, np.asarray(run.pool_index), length))
    found = np.stack(curves)  # (S, B)
    i = np.arange(1, length + 1)
    random_hits = metrics.random_expected_found(i, n, pool_hits)
    milestones = {}
    for name, count in (("first_hit", 1), ("k_hits", k)):
        method = np.array([metrics.evaluations_to(c, count) for c in found])
        random = metrics.random_evaluations_to_kth(count, n, pool_hits)
        milestones[name] = {
            "hits": count, "method": metrics.band(method), "random": random,
            "factor": metrics.ratio(random, float(metrics.quantiles(method, (0.5,))[0])),
            "reached": int(np.isfinite(method).sum()),
            "per_seed": [_finite(m) for m in method]}
    at_budget = metrics.band(found[:, -1].astype(float))
    return {
        "hits_in_pool": pool_hits,
        "k": k,
        **milestones,
        "hits_at_budget": {"method": at_budget, "random": float(random_hits[-1]),
                           "enhancement": _divide(at_budget["median"], float(random_hits[-1])),
                           "per_seed": [int(c[-1]) for c in found]},
        "curves": {"evaluations": i.tolist(), "hits": metrics.band(found.astype(float)),
                   "random_hits": random_hits.tolist()},
    }


def _timing(runs: list[SeedRun]) -> dict[str, Any]:
    """What the loop itself costs: seconds per seed, per model cycle, per evaluation."""
    wall = np.array([r.wall_s for r in runs])
    loop = np.array([r.fit_s + r.select_s for r in runs])
    evaluations = np.array([max(r.evaluations, 1) for r in runs])
    cycles = max(sum(r.model_cycles for r in runs), 1)
    return {
        "wall_s_per_seed": metrics.band(wall),
        "fit_s_per_cycle": sum(r.fit_s for r in runs) / cycles,
        "select_s_per_cycle": sum(r.select_s for r in runs) / cycles,
        "loop_s_per_evaluation": metrics.band(loop / evaluations),
        "stop_reasons": sorted({r.stop_reason for r in runs}),
    }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _divide(a: Any, b: float) -> float | None:
    return None if a is None or not b else float(a) / b
