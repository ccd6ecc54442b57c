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

from matloop.errors import StoreError

if TYPE_CHECKING:
    import pandas as pd

    from matloop.loop.context import Context


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
    unmeasured: np.ndarray | None = None  # (r,) every unmeasured row, in pool order ...
    unmeasured_mean: np.ndarray | None = None  # (r, m) ... and its predicted mean


def rank(context: Context, top: int | None = None) -> Ranking:
    """Rank the unmeasured candidates of an opened campaign (the ``top`` best, or all):
    by P(hit) with range targets, else by the acquisition; where evaluations have
    failed, times P(success), with candidates below ``min_success_probability`` last."""
    from matloop.loop.acquisition import derive, scores
    from matloop.loop.model import feasibility_classifier, fit_surrogate
    from matloop.loop.progress import stored_reference

    campaign, store, campaign_id = context.campaign, context.store, context.campaign_id
    prepared, targets = context.space, context.targets
    indices, Y = context.keeper.training()
    counts = np.isfinite(Y).sum(axis=0)
    if len(indices) == 0 or counts.min() < 2:
        raise StoreError("ranking needs at least two measured values of every target property "
                         f"(have {dict(zip(targets.properties, counts.tolist(), strict=True))})"
                         "; run the campaign first")
    seed = campaign.campaign.seed
    surrogate = fit_surrogate(campaign, store, campaign_id, prepared, targets.properties, seed)
    rows = np.flatnonzero(context.untried())
    prediction = surrogate.predict(prepared.features[rows])
    classifier = feasibility_classifier(campaign, store, campaign_id, prepared, seed)
    success = None if classifier is None else classifier.probability(prepared.features[rows])
    if targets.bounds:
        score, score_name = targets.hit_probability(prediction.mean, prediction.std), \
            "hit_probability"
        if success is not None:
            score, score_name = score * success, "hit_and_success_probability"
    else:
        name = derive(targets, "auto" if campaign.loop.acquisition in ("random", "thompson")
                      else campaign.loop.acquisition)
        score = scores(name, surrogate, prepared.features[rows], prepared.features[indices],
                       Y, targets, beta=campaign.loop.beta, incumbent=campaign.loop.incumbent,
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
                   n_unmeasured=len(rows), rows=chosen, unmeasured=rows,
                   unmeasured_mean=prediction.mean)


def ranking_columns(ranking: Ranking) -> list[str]:
    """``rank, candidate_key, candidate, <score>, [success_probability,] predicted_<p>
    [unit], std_<p> [unit] ...``."""
    header = ["rank", "candidate_key", "candidate",
              ranking.score_name if "probability" in ranking.score_name else "score"]
    if ranking.success is not None:
        header.append("success_probability")
    for name, unit in zip(ranking.properties, ranking.units, strict=True):
        suffix = f" [{unit}]" if unit else ""
        header += [f"predicted_{name}{suffix}", f"std_{name}{suffix}"]
    return header


def ranking_rows(ranking: Ranking) -> list[list[object]]:
    """One row per ranked candidate, in ``ranking_columns`` order."""
    rows = []
    for i, (key, label) in enumerate(zip(ranking.keys, ranking.labels, strict=True)):
        row: list[object] = [i + 1, key, label, float(ranking.score[i])]
        if ranking.success is not None:
            row.append(float(ranking.success[i]))
        for j in range(len(ranking.properties)):
            row += [float(ranking.mean[i, j]), float(ranking.std[i, j])]
        rows.append(row)
    return rows


def ranking_frame(ranking: Ranking) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(ranking_rows(ranking), columns=ranking_columns(ranking))


def write_ranking(ranking: Ranking, out: Path) -> None:
    """The ranking as CSV (numbers in full precision)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ranking_columns(ranking))
        writer.writerows([repr(v) if isinstance(v, float) else v for v in row]
                         for row in ranking_rows(ranking))
