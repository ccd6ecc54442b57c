"""``matloop report``: one HTML page with every plot embedded, and the PNGs beside it.

Everything comes from the campaign's store (evaluations, cycle records with their
hyperparameters, cross-validation figures and predictions) and its featurised pool; the
only model fitted here is the one that ranks the next picks when nothing is in flight,
exactly as ``matloop predict`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.campaigns.targets import TargetSet
from matloop.reporting.figures import save
from matloop.reporting.page import Section, render
from matloop.reporting.tables import Prediction, candidate_table, next_table, order_best

REPORT = "report.html"
BEST_ROWS = 10
HIT_ROWS = 50
NEXT_ROWS = 10


@dataclass(frozen=True)
class NextPicks:
    """The candidates the campaign measures next: ``rows`` ``(k,)`` pool rows, their
    ``labels``, the model's ``mean`` and ``std`` ``(k, m)`` (None when unknown), where they
    come from (``source``) and, when ranked here, ``score`` ``(k,)`` named ``score_name``."""

    rows: np.ndarray
    labels: list[str]
    mean: np.ndarray | None
    std: np.ndarray | None
    source: str
    score: np.ndarray | None = None
    score_name: str = ""


def write_report(campaign: Campaign, out: Path,
                 on_step: Callable[[str], None] | None = None) -> list[Path]:
    """Write the PNGs and ``report.html`` of ``campaign`` (which must have been run) into
    ``out``; returns the paths written, the page last. ``on_step`` hears what is being
    done (featurising, fitting, drawing)."""
    from matloop.loop.pareto import signed_reference
    from matloop.loop.space import featurise
    from matloop.loop.summary import open_campaign, summarize
    from matloop.reporting.candidate_space import candidate_space_figure
    from matloop.reporting.model_quality import model_quality_plots
    from matloop.reporting.progress import progress_figure, progress_series
    from matloop.reporting.relevance import latest_relevance, relevance_figure
    from matloop.reporting.target_space import target_space_figure

    tell = on_step or (lambda _: None)
    summary = summarize(campaign)
    store, campaign_id = open_campaign(campaign)
    targets = TargetSet.from_targets(campaign.targets)
    evaluations = store.evaluations(campaign_id)
    cycles = store.cycles(campaign_id)
    units: dict[str, str | None] = summary["units"]
    indices, mean_values = store.training_data(campaign_id, targets.properties)
    measured = np.asarray(indices, dtype=int)
    Y = np.asarray(mean_values, dtype=float).reshape(len(measured), len(targets.properties))
    labels = {e["pool_index"]: e["candidate"] for e in evaluations}
    predictions = _predictions(cycles, evaluations)
    tell("featurising the pool")
    space = featurise(campaign)
    tell("ranking the next picks")
    picks, pick_note = _next_picks(campaign, space, evaluations, predictions, measured)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sections: list[Section] = []

    tell("drawing")
    raw_reference = summary.get("reference_point")
    series = progress_series(targets, evaluations,
                             {c.number for c in cycles if c.strategy == "initial"}, units,
                             signed_reference(targets, raw_reference)
                             if raw_reference else None)
    objective = targets.properties[targets.objectives[0][0]] \
        if targets.kind == "single" else None
    written.append(save(progress_figure(series, objective, units.get(objective or "")),
                        out / "progress.png"))
    sections.append(Section(
        "Progress", f"{series.label[0].upper()}{series.label[1:]} after each finished "
        "evaluation, in the order they finished. The grey band is the random initial design; the model picks "
        "everything after it. Red crosses on the x-axis are failed evaluations.",
        [written[-1]]))

    next_mean = picks.mean if picks is not None else None
    next_std = picks.std if picks is not None else None
    written.append(save(target_space_figure(targets, Y, units, next_mean, next_std),
                        out / "target-space.png"))
    sections.append(Section(
        "Target space", "Each measured candidate at its measured values (the mean of "
        "replicates). The green area is the target region, orange points are hits, "
        "purple rings the measured Pareto front, black stars the next picks at their "
        "predicted values with ±1σ bars.", [written[-1]],
        notes=[pick_note] if pick_note else []))

    failed = _failed_rows(evaluations, measured)
    next_rows = picks.rows if picks is not None else np.zeros(0, dtype=int)
    written.append(save(candidate_space_figure(
        space.features, space.bounds, measured, Y, targets.properties, units, failed,
        next_rows, picks.labels if picks is not None else [], seed=campaign.campaign.seed),
        out / "candidate-space.png"))
    sections.append(Section(
        "Candidate space", f"The {len(space.features)} candidates of the pool projected on "
        f"the first two principal components of their {space.features.shape[1]} features "
        "(scaled to [0, 1] over the pool). Measured candidates are coloured by their value; "
        "red crosses failed and were never measured; black stars are the next picks.",
        [written[-1]]))

    quality = model_quality_plots(cycles, targets.properties, out, units)
    written += quality
    sections.append(Section(
        "Model quality", "k-fold cross-validation of the surrogate, recorded by the "
        "latest cycle that validated: each held-out value against its prediction with ±1σ "
        "(parity), the fraction of held-out values inside the model's central intervals "
        "against their stated level (calibration), and both over the cycles.", quality,
        notes=list(summary["validation_warnings"]) + ([] if quality else [
            "No cross-validation is recorded yet: it runs every [surrogate] "
            "validate_every-th model cycle (0 switches it off); set validate_every = 1 "
            "and run more cycles."])))

    relevance = latest_relevance(cycles, len(space.names))
    if relevance is not None:
        written.append(save(relevance_figure(relevance, space.names, targets.properties),
                            out / "relevance.png"))
    sections.append(Section(
        "What drives the model", "The features the latest fitted model relies on most, "
        "per property: for a GP the inverse length scale of each scaled feature (larger: "
        "the property changes faster along it), for the forest its impurity importance.",
        [written[-1]] if relevance is not None else [],
        notes=[] if relevance is not None else [
            f"The latest model ({campaign.surrogate.kind}) records no feature relevance "
            "(the neural ensemble has none; a campaign with no model cycle yet has no "
            "model)."]))

    sections.append(_candidates_section(targets, measured, Y, labels, predictions, units,
                                        picks))
    page = out / REPORT
    page.write_text(render(f"matloop report: {campaign.campaign.name}",
                           _facts(campaign, summary), sections), encoding="utf-8")
    written.append(page)
    return written


def _predictions(cycles: Sequence[Any], evaluations: Sequence[dict[str, Any]]
                 ) -> dict[int, Prediction]:
    """Pool row -> what the model predicted when it picked the candidate, and the cycle
    and strategy that picked it (``mean``/``std`` None for a random pick). A cycle's
    recorded predictions are in the order of its candidates' first evaluations."""
    picked: dict[int, list[int]] = {}
    for e in sorted(evaluations, key=lambda e: e["evaluation_id"]):
        rows = picked.setdefault(e["cycle"], [])
        if e["pool_index"] not in rows:
            rows.append(e["pool_index"])
    out: dict[int, Prediction] = {}
    for cycle in cycles:
        rows = picked.get(cycle.number, [])
        predicted = json.loads(cycle.predicted or "null") or {}
        usable = len(predicted.get("mean", ())) == len(rows)
        for k, row in enumerate(rows):
            out.setdefault(row, Prediction(
                cycle.number, cycle.strategy,
                np.asarray(predicted["mean"][k], dtype=float) if usable else None,
                np.asarray(predicted["std"][k], dtype=float) if usable else None))
    return out


def _next_picks(campaign: Campaign, space: Any, evaluations: Sequence[dict[str, Any]],
                predictions: dict[int, Prediction], measured: np.ndarray
                ) -> tuple[NextPicks | None, str | None]:
    """The evaluations in flight or awaiting lab results, with what the model predicted
    for them; when there are none, the best-ranked unmeasured candidates by a model
    fitted now (``matloop.loop.predict.rank``). The note says why there are none."""
    from matloop.errors import StoreError
    from matloop.loop.predict import rank
    from matloop.loop.run import _numerical_failures

    waiting = [e for e in evaluations if e["status"] in ("proposed", "running", "awaiting")]
    if waiting:
        rows = np.array(list(dict.fromkeys(e["pool_index"] for e in waiting)), dtype=int)
        labels = {e["pool_index"]: e["candidate"] for e in waiting}
        known = [predictions.get(int(r)) for r in rows]
        with_model = all(p is not None and p.mean is not None for p in known)
        source = ("awaiting lab results" if any(e["status"] == "awaiting" for e in waiting)
                  else "in flight")
        return NextPicks(rows, [labels[int(r)] for r in rows],
                         np.stack([p.mean for p in known]) if with_model else None,  # type: ignore[union-attr,misc]
                         np.stack([p.std for p in known]) if with_model else None,  # type: ignore[union-attr,misc]
                         source), None
    if len(measured) >= len(space.features):
        return None, "Every candidate of the pool has been measured: there is no next pick."
    top = min(max(campaign.loop.batch_size, 3), NEXT_ROWS)
    try:
        ranking = rank(campaign, top=top, space=space)
    except StoreError as exc:
        return None, f"No next picks are shown: {exc}."
    except _numerical_failures() as exc:
        return None, f"No next picks are shown: the model could not be fitted ({exc})."
    return NextPicks(ranking.rows, ranking.labels, ranking.mean, ranking.std,
                     f"top {len(ranking.rows)} unmeasured by {ranking.score_name}",
                     ranking.score, ranking.score_name), None


def _failed_rows(evaluations: Sequence[dict[str, Any]], measured: np.ndarray) -> np.ndarray:
    """Pool rows of candidates that failed and were never measured."""
    failed = {e["pool_index"] for e in evaluations if e["status"] == "failed"}
    return np.array(sorted(failed - set(measured.tolist())), dtype=int)


def _candidates_section(targets: TargetSet, measured: np.ndarray, Y: np.ndarray,
                        labels: dict[int, str], predictions: dict[int, Prediction],
                        units: dict[str, str | None], picks: NextPicks | None) -> Section:
    order = order_best(targets, Y)
    hits = np.flatnonzero(targets.hits(Y))
    found = [predictions[int(measured[i])].cycle if int(measured[i]) in predictions else -1
             for i in hits]
    hits = hits[np.argsort(found, kind="stable")]  # in the order they were found
    tables = [candidate_table(f"Best measured candidates (top {min(BEST_ROWS, len(order))} "
                              f"of {len(order)})", targets, measured, Y, order[:BEST_ROWS],
                              labels, predictions, units)]
    notes = []
    if targets.bounds:
        tables.append(candidate_table(f"Hits ({len(hits)}), in the order found", targets,
                                      measured, Y, hits[:HIT_ROWS], labels, predictions,
                                      units))
        if len(hits) > HIT_ROWS:
            notes.append(f"The first {HIT_ROWS} of {len(hits)} hits are listed; "
                         "`matloop export` writes them all.")
    if picks is not None:
        tables.append(next_table(f"Next picks ({picks.source})", targets, picks.labels,
                                 picks.mean, picks.std, units, picks.score, picks.score_name))
    return Section(
        "Candidates", "Measured values against what the model predicted (± 1σ) when it "
        "picked each candidate; random picks of the initial design have no prediction.",
        tables=tables, notes=notes)


def _facts(campaign: Campaign, summary: dict[str, Any]) -> list[tuple[str, str]]:
    counts = summary["evaluations"]
    failures = ", ".join(f"{n} {reason}" for reason, n in summary["failures"].items())
    done = (f"{counts['succeeded']} succeeded, {counts['failed']} failed"
            + (f" ({failures})" if failures else "") + f", {counts['pending']} pending"
            + (f", {counts['awaiting']} awaiting lab results" if "awaiting" in counts else "")
            + f"; budget {summary['budget']}")
    facts = [("Targets", "; ".join(summary["targets"])),
             ("Evaluations", done),
             ("Cycles", str(summary["cycles"])),
             ("Surrogate", f"{campaign.surrogate.kind}, acquisition "
                           f"{campaign.loop.acquisition}"),
             ("Database", summary["database"]),
             ("Stopped because", summary["stop_reason"] or "not stopped yet")]
    if summary["hits"] is not None:
        facts.insert(2, ("Hits", str(summary["hits"])))
    if summary["best"] and campaign.targets and any(t.optimised for t in campaign.targets):
        best = "; ".join(f"{name} {value:.4g} ({summary['best_candidate'][name]})"
                         for name, value in summary["best"].items())
        facts.insert(2, ("Best measured", best))
    if summary["hypervolume"] is not None:
        facts.insert(2, ("Hypervolume", f"{summary['hypervolume']:.4g} "
                         f"({len(summary['pareto_candidates'])} on the Pareto front)"))
    facts.append(("Generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")))
    return facts
