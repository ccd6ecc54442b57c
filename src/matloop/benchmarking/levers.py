"""Choosing defaults without overfitting: settings measured one lever at a time on every
benchmark pool, and chosen by leave-one-dataset-out.

A *setting* is a name and overrides of campaign-file fields (``{"loop.initial_design":
"farthest"}``); ``baseline`` overrides nothing. Each (setting, campaign, seed) runs the
real loop (``Session.run`` on a benchmark copy of the campaign, as ``matloop
benchmark`` does) until the batch that measures its first top-1 % candidate is complete,
or its budget is spent, and records that candidate's position in the order the
evaluations were proposed (``inf``: not within the budget). (Counting in the order
results came back would make a batch's order a matter of chance.) The models'
cross-validation is switched off (except for ``auto``, which chooses by it): it runs
after each cycle's picks and changes none of them.

The score of a setting on a dataset is AF_first: random search's expected draws to the
first top-1 % candidate, (N+1)/(K+1), over the setting's median across seeds, a seed
that never got there counting as budget + 1 (so a score is a lower bound when the median
seed missed). Settings are compared by the geometric mean of AF_first over datasets.

Leave-one-dataset-out: for each dataset, each lever's value is the one with the best
geometric mean over the *other* datasets, and the held-out dataset is scored with that
value. The default is trustworthy when every fold picks the same value and the held-out
scores beat the baseline's.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matloop.benchmarking import metrics
from matloop.benchmarking.peers import geometric_mean
from matloop.campaigns.schema import Campaign

FIRST = 0.01  # the top fraction whose first member is sought
BASELINE = "baseline"


@dataclass(frozen=True)
class Setting:
    """``lever`` groups the settings that are alternatives to one another (the baseline
    belongs to every lever); ``overrides`` maps ``"section.field"`` to a value."""

    name: str
    lever: str
    overrides: Mapping[str, Any]


@dataclass(frozen=True)
class LeverJob:
    setting: Setting
    source: Path
    seed: int
    database: Path


@dataclass(frozen=True)
class LeverRun:
    setting: str
    dataset: str
    seed: int
    first: float  # evaluations to the first top-1 % candidate (inf: not within budget)
    evaluations: int  # evaluations made (the run stops after the batch with that candidate)
    wall_s: float


class _Found(Exception):
    """Raised from the progress callback to end a run at its first top-1 % candidate."""


def overridden(campaign: Campaign, overrides: Mapping[str, Any]) -> Campaign:
    """The campaign with ``"section.field"`` values replaced (validated by the schema)."""
    data = campaign.model_dump(exclude_unset=True)
    for dotted, value in overrides.items():
        section, name = dotted.split(".")
        data.setdefault(section, {})[name] = value
    from matloop.campaigns.loader import validate

    base = campaign.base or (campaign.source.parent if campaign.source else Path.cwd())
    return validate(data, base).model_copy(update={"source": campaign.source})


def threshold(campaign: Campaign) -> tuple[float, float, float]:
    """``(sign, threshold, random_first)``: the top-1 % threshold of the campaign's one
    optimised property and random search's expected draws to reach it."""
    from matloop.benchmarking.analysis import known_answers

    truth = known_answers(campaign, campaign.campaign.name)
    if truth.targets.objective is None or truth.targets.bounds:
        raise ValueError(f"{campaign.campaign.name}: levers are studied on one maximize/minimize "
                         "target")
    _, sign = truth.targets.objective
    members, value = metrics.top_set(truth.values[:, 0], sign, FIRST)
    n = int(np.isfinite(truth.values[:, 0]).sum())
    return sign, value, metrics.random_evaluations_to_kth(1, n, int(members.sum()))


def run_lever_job(job: LeverJob) -> LeverRun:
    """One seed of one setting on one campaign, stopped at its first top-1 % candidate."""
    import warnings

    import torch
    from linear_operator.utils.warnings import NumericalWarning

    from matloop.benchmarking.replay import benchmark_copy
    from matloop.campaigns import load
    from matloop.loop.progress import Progress
    from matloop.loop.session import Session

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=NumericalWarning)
    campaign = overridden(load(job.source), job.setting.overrides)
    sign, value, _ = _threshold_of(job.source)
    copy = benchmark_copy(campaign, job.seed, None, str(job.database))
    if copy.surrogate.kind != "auto":  # cross-validation runs after the picks: same choices
        copy = copy.model_copy(update={"surrogate": copy.surrogate.model_copy(
            update={"validate_every": 0})})
    def watch(progress: Progress) -> None:
        # stop once a batch is complete: which of its members came back first is chance
        if progress.in_flight == 0 and progress.best is not None \
                and sign * progress.best >= sign * value:
            raise _Found

    start = time.perf_counter()
    with contextlib.suppress(_Found), Session(copy) as session:
        session.run(progress=watch)
    first, made = _first_in_order(copy, sign, value)
    return LeverRun(job.setting.name, campaign.campaign.name, job.seed, first, made,
                    time.perf_counter() - start)


def _first_in_order(campaign: Campaign, sign: float, value: float) -> tuple[float, int]:
    """Evaluations (1-based, in the order they were proposed) to the first whose
    optimised property reaches ``value``, and the evaluations made; ``inf`` if none did."""
    from matloop.store import Store

    store = Store(campaign.database_url, create=False)
    made = [e for e in store.evaluations(store.campaign_id(campaign.campaign.name))
            if e.status in ("succeeded", "failed")]
    made.sort(key=lambda e: e.evaluation_id)
    name = campaign.targets[0].property
    for position, evaluation in enumerate(made, 1):
        measured = evaluation.values.get(name)
        if measured is not None and sign * measured >= sign * value:
            return float(position), len(made)
    return math.inf, len(made)


@functools.lru_cache(maxsize=32)
def _threshold_of(source: Path) -> tuple[float, float, float]:
    """``threshold`` of a campaign file, once per worker process (settings do not move it:
    it depends on the table and the targets only)."""
    from matloop.campaigns import load

    return threshold(load(source))


def af_first(firsts: Sequence[float], random_first: float, budget: int) -> float:
    """Random's expected draws over the median evaluations to the first top-1 %
    candidate, an unreached seed counted as ``budget + 1``."""
    capped = np.minimum(np.asarray(firsts, dtype=float), budget + 1)
    return random_first / float(np.median(capped))


def leave_one_out(scores: Mapping[str, Mapping[str, float]], settings: Sequence[Setting]
                  ) -> dict[str, dict[str, Any]]:
    """Per held-out dataset and lever: the setting chosen on the other datasets (best
    geometric mean of AF_first among the lever's settings and the baseline) and its
    score on the held-out one. ``scores[setting][dataset]`` = AF_first; settings not
    measured on every dataset the baseline was are left out."""
    datasets = sorted(scores[BASELINE])
    settings = [s for s in settings if set(datasets) <= set(scores.get(s.name, {}))]
    levers = sorted({s.lever for s in settings if s.name != BASELINE})
    folds: dict[str, dict[str, Any]] = {}
    for held in datasets:
        others = [d for d in datasets if d != held]
        fold: dict[str, Any] = {}
        for lever in levers:
            names = [BASELINE] + [s.name for s in settings if s.lever == lever]
            chosen = max(names, key=lambda n: geometric_mean([scores[n][d] for d in others]))
            fold[lever] = {"chosen": chosen, "held_out": scores[chosen][held],
                           "baseline": scores[BASELINE][held]}
        folds[held] = fold
    return folds
