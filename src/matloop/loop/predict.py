"""Inverse design: rank every unmeasured candidate by how likely it is to meet the targets.

The question "which materials does the model think meet my targets, and how sure is it?":
the surrogate is refitted on everything measured (warm-started from the last cycle) and
every unmeasured candidate gets its probability of being a hit — or, when the set has no
range targets, its acquisition value — with predicted mean ± std for every property.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.campaigns.targets import TargetSet
from matloop.errors import StoreError
from matloop.loop.summary import open_campaign

if TYPE_CHECKING:
    from matloop.loop.space import Featurised


@dataclass(frozen=True)
class Ranking:
    """Unmeasured candidates, best first: ``score`` ``(k,)``, ``mean`` and ``std``
    ``(k, m)`` in the units of ``properties``; ``score_name`` says what the score is."""

    properties: tuple[str, ...]
    units: tuple[str, ...]
    score_name: str
    keys: list[str]
    labels: list[str]
    score: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n_measured: int
    n_unmeasured: int
    rows: np.ndarray  # (k,) the candidates' rows in the pool
    success: np.ndarray | None = None  # (k,) P(an evaluation succeeds), when failures are learnt


def rank(campaign: Campaign, top: int | None = None, space: Featurised | None = None
         ) -> Ranking:
    """Rank the unmeasured candidates of ``campaign`` (the ``top`` best, or all): by
    P(hit) with range targets, else by the acquisition; where evaluations have failed,
    times P(success), with candidates below ``min_success_probability`` last.

    ``space``: the campaign's featurised pool when the caller has built it already."""
    from matloop.loop.acquisition import derive, scores
    from matloop.loop.pareto import stored_reference
    from matloop.loop.run import check_pool_unchanged, feasibility_classifier
    from matloop.loop.space import featurise
    from matloop.surrogates import make_surrogate

    prepared = space if space is not None else featurise(campaign)
    store, campaign_id = open_campaign(campaign)
    check_pool_unchanged(store, campaign_id, prepared.pool)
    targets = TargetSet.from_targets(campaign.targets)
    indices, values = store.training_data(campaign_id, targets.properties)
    Y = np.asarray(values, dtype=float).reshape(len(indices), len(targets.properties))
    counts = np.isfinite(Y).sum(axis=0)
    if len(indices) == 0 or counts.min() < 2:
        raise StoreError("ranking needs at least two measured values of every target property "
                         f"(have {dict(zip(targets.properties, counts.tolist(), strict=True))})"
                         "; run the campaign first")
    surrogate = make_surrogate(campaign.surrogate.kind, bounds=prepared.bounds,
                               seed=campaign.campaign.seed,
                               warm_start=store.latest_hyperparameters(campaign_id),
                               fit_points=campaign.surrogate.fit_points,
                               exact_limit=campaign.surrogate.exact_limit,
                               folds=campaign.surrogate.folds, reselect=False)
    observed_rows, observed = store.observations(campaign_id, targets.properties)
    surrogate.fit(prepared.features[observed_rows], np.asarray(observed, dtype=float))
    unmeasured = np.ones(len(prepared.pool), dtype=bool)
    unmeasured[list(store.tried_pool_indices(campaign_id).values())] = False
    rows = np.flatnonzero(unmeasured)
    prediction = surrogate.predict(prepared.features[rows])
    classifier = feasibility_classifier(campaign, store, campaign_id, prepared,
                                        campaign.campaign.seed)
    success = None if classifier is None else classifier.probability(prepared.features[rows])
    if targets.bounds:
        score, score_name = targets.hit_probability(prediction.mean, prediction.std), \
            "hit_probability"
        if success is not None:
            score, score_name = score * success, "hit_and_success_probability"
    else:
        name = derive(targets, "auto" if campaign.loop.acquisition == "random"
                      else campaign.loop.acquisition)
        score = scores(name, surrogate, prepared.features[rows], prepared.features[indices],
                       Y, targets, beta=campaign.loop.beta,
                       reference=stored_reference(store, campaign_id, targets),
                       success=None if classifier is None else classifier.probability)
        score_name = f"acquisition ({name})"
    order = np.argsort(-score, kind="stable")
    if success is not None:  # as the loop does: candidates likely to fail come last
        likely = success[order] >= campaign.surrogate.min_success_probability
        order = np.concatenate([order[likely], order[~likely]])
    order = order[:top]
    units = {t.property: t.unit or "" for t in campaign.targets}
    chosen = rows[order]
    return Ranking(properties=targets.properties,
                   units=tuple(units[p] for p in targets.properties), score_name=score_name,
                   keys=[prepared.pool.key(int(i)) for i in chosen],
                   labels=[prepared.pool.candidate(int(i)).label for i in chosen],
                   score=score[order], mean=prediction.mean[order],
                   std=prediction.std[order], n_measured=len(indices),
                   success=None if success is None else success[order],
                   n_unmeasured=len(rows), rows=chosen)


def write_ranking(ranking: Ranking, out: Path) -> None:
    """CSV: ``rank, candidate_key, candidate, <score>, predicted_<p>, std_<p> ...``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["rank", "candidate_key", "candidate",
                  ranking.score_name if "probability" in ranking.score_name else "score"]
        if ranking.success is not None:
            header.append("success_probability")
        for name, unit in zip(ranking.properties, ranking.units, strict=True):
            suffix = f" [{unit}]" if unit else ""
            header += [f"predicted_{name}{suffix}", f"std_{name}{suffix}"]
        writer.writerow(header)
        for i, (key, label) in enumerate(zip(ranking.keys, ranking.labels, strict=True)):
            row: list[object] = [i + 1, key, label, repr(float(ranking.score[i]))]
            if ranking.success is not None:
                row.append(repr(float(ranking.success[i])))
            for j in range(len(ranking.properties)):
                row += [repr(float(ranking.mean[i, j])), repr(float(ranking.std[i, j]))]
            writer.writerow(row)
