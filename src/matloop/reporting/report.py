"""``matloop report``: one HTML page with every plot embedded, and the PNGs beside it.

Everything drawn comes from ``Gathered``: what the session read from the campaign's store
(evaluations, cycle records with their hyperparameters, cross-validation figures and
predictions), its featurised pool and the next picks (``matloop.loop.gather``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.errors import ConfigError
from matloop.reporting.figures import save, slug
from matloop.reporting.gathered import Gathered
from matloop.reporting.history import CycleLike, EvaluationLike
from matloop.reporting.page import Section, render
from matloop.reporting.tables import candidate_table, next_table, order_best

REPORT = "report.html"
BEST_ROWS = 10
HIT_ROWS = 50


def write_report(data: Gathered, out: Path,
                 on_step: Callable[[str], None] | None = None) -> list[Path]:
    """Write the PNGs and ``report.html`` of a campaign's gathered records into ``out``;
    returns the paths written, the page last. ``on_step`` hears that it is drawing.
    ``ConfigError`` when ``out`` is a file or cannot be made."""
    tell = on_step or (lambda _: None)
    campaign = data.campaign
    tell("drawing")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; the report is a folder (report.html and its "
                          "images): give a folder path")
    try:
        return _write(data, campaign, out)
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {out}: {exc.strerror or exc}") \
            from None


def _write(data: Gathered, campaign: Campaign, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    sections = [build(data, out) for build in (_progress_section, _target_section,
                                              _candidate_space_section, _model_section,
                                              _relevance_section)]
    if data.space.pool.kind == "inputs":
        sections.insert(3, _inputs_section(data, out))
    from matloop.reporting.hull import hull_section

    stability = hull_section(data.evaluations, data.space.pool, out)
    if stability is not None:
        sections.insert(2, stability)
    if "fidelities" in data.summary:
        sections.append(_sources_section(data, out))
    if "related" in data.summary:
        from matloop.reporting.related import related_section

        sections.append(related_section(
            data.summary["related"], [(c.number, c.hyperparameters) for c in data.cycles],
            data.targets.properties, out))
    sections.append(_candidates_section(data))
    page = out / REPORT
    page.write_text(render(f"matloop report: {campaign.campaign.name}",
                           _facts(campaign, data.summary), sections), encoding="utf-8")
    return [image for section in sections for image in section.images] + [page]


def _progress_section(data: Gathered, out: Path) -> Section:
    from matloop.campaigns.pareto import signed_reference
    from matloop.reporting.progress import progress_figure, progress_series

    targets, raw_reference = data.targets, data.summary.get("reference_point")
    series = progress_series(targets, data.evaluations,
                             {c.number for c in data.cycles if c.strategy == "initial"},
                             data.units,
                             signed_reference(targets, raw_reference) if raw_reference
                             else None)
    objective = targets.properties[targets.objectives[0][0]] \
        if targets.kind == "single" else None
    image = save(progress_figure(series, objective, data.units.get(objective or "")),
                 out / "progress.png")
    return Section(
        "Progress", f"{series.label[0].upper()}{series.label[1:]} after each finished "
        "evaluation, in the order they finished. The grey band is the initial "
        "design; the model picks everything after it. Red crosses on the x-axis are failed "
        "evaluations.", [image])


def _target_section(data: Gathered, out: Path) -> Section:
    from matloop.reporting.target_space import target_space_figure

    picks = data.picks
    image = save(target_space_figure(data.targets, data.Y, data.units,
                                     picks.mean if picks else None,
                                     picks.std if picks else None), out / "target-space.png")
    return Section(
        "Target space", "Each measured candidate at its measured values (the mean of "
        "replicates). The green area is the target region, orange points are hits, "
        "purple rings the measured Pareto front, black stars the next picks at their "
        "predicted values with ±1σ bars.", [image],
        notes=[data.pick_note] if data.pick_note else [])


def _candidate_space_section(data: Gathered, out: Path) -> Section:
    from matloop.reporting.candidate_space import candidate_space_figure

    space, picks = data.space, data.picks
    image = save(candidate_space_figure(
        space.features, space.bounds, data.rows, data.Y, data.targets.properties, data.units,
        _failed_rows(data.evaluations, data.rows),
        picks.rows if picks else np.zeros(0, dtype=int), seed=data.campaign.campaign.seed),
        out / "candidate-space.png")
    return Section(
        "Candidate space", f"The {len(space.features)} candidates of the pool projected on "
        f"the first two principal components of their {space.features.shape[1]} features "
        "(scaled to [0, 1] over the pool). Measured candidates are coloured by their value; "
        "red crosses failed and were never measured; black stars are the next picks, "
        "numbered as in the table of next picks below.",
        [image])


def _inputs_section(data: Gathered, out: Path) -> Section:
    from matloop.reporting.inputs import input_effects_figure

    intro = ("For each input, the model's mean prediction over the unmeasured candidates, "
             "averaged within bins of that input (the line; the band spans 10–90 % of the "
             "predictions in a bin; bars per option for a categorical input), and the "
             "measured values as points. The average runs over the candidates themselves, "
             "so inputs tied by constraints are never varied apart (a partial dependence "
             "over the pool).")
    picks, pool = data.picks, data.space.pool
    if picks is None or picks.unmeasured is None or picks.unmeasured_mean is None:
        return Section("Along each input", intro, notes=[
            "Drawn once a model can be fitted: two measured values of every property."])
    images = []
    for j, prop in enumerate(data.targets.properties):
        measured = np.isfinite(data.Y[:, j])
        figure = input_effects_figure(
            pool.names, pool.values, pool.categories, picks.unmeasured,
            picks.unmeasured_mean[:, j], data.rows[measured], data.Y[measured, j], prop,
            data.units.get(prop))
        images.append(save(figure, out / f"inputs-{slug(prop)}.png"))
    return Section("Along each input", intro, images)


def _model_section(data: Gathered, out: Path) -> Section:
    from matloop.reporting.model_quality import model_quality_plots

    images = model_quality_plots(data.cycles, data.targets.properties, out, data.units)
    every = data.campaign.surrogate.validate_every
    if images:
        missing = []
    elif not every:
        missing = ["Cross-validation is switched off ([surrogate] validate_every = 0): set "
                   "it to 1 (every model cycle) or more and run more cycles."]
    else:
        missing = [f"No cross-validation is recorded yet: it runs at the model cycles "
                   f"whose number is a multiple of [surrogate] validate_every = {every}, "
                   f"and {_model_cycles(data.cycles)} model cycles have run."]
    return Section(
        "Model quality", "k-fold cross-validation of the surrogate, recorded by the "
        "latest cycle that validated: each held-out value against its prediction with ±1σ "
        "(parity), the fraction of held-out values inside the model's central intervals "
        "against their stated level (calibration), and both over the cycles.", images,
        notes=list(data.summary["validation_warnings"]) + missing)


def _relevance_section(data: Gathered, out: Path) -> Section:
    from matloop.reporting.relevance import latest_relevance, relevance_figure

    intro = ("The features the latest fitted model relies on most, per property: for a GP "
             "the inverse length scale of each scaled feature (larger: the property changes "
             "faster along it), for the forest its impurity importance.")
    relevance = latest_relevance(data.cycles, len(data.space.names))
    if relevance is None:
        why = ("No model has been fitted yet (the campaign is still in its initial "
               "design)." if not _model_cycles(data.cycles) else
               f"The latest model ({data.campaign.surrogate.kind}) records no feature "
               "relevance: the neural ensemble has none.")
        return Section("What drives the model", intro, notes=[why])
    image = save(relevance_figure(relevance, data.space.names, data.targets.properties),
                 out / "relevance.png")
    return Section("What drives the model", intro, [image])


def _sources_section(data: Gathered, out: Path) -> Section:
    from matloop.reporting.sources import sources_section

    hits = {name: data.targets.hits(target) for name, (target, _) in data.paired.items()}
    return sources_section(data.summary["fidelities"], data.paired, data.targets.properties,
                           data.units, hits, out)


def _model_cycles(cycles: Sequence[CycleLike]) -> int:
    """How many cycles fitted a model (they record its hyperparameters)."""
    return sum(1 for c in cycles if c.hyperparameters)


def _failed_rows(evaluations: Sequence[EvaluationLike], measured: np.ndarray) -> np.ndarray:
    """Pool rows of candidates that failed and were never measured."""
    failed = {e.pool_index for e in evaluations if e.status == "failed"}
    return np.array(sorted(failed - set(measured.tolist())), dtype=int)


def _candidates_section(data: Gathered) -> Section:
    targets, Y, picks = data.targets, data.Y, data.picks
    order = order_best(targets, Y)
    hits = np.flatnonzero(targets.hits(Y))
    found = [data.predictions[int(data.rows[i])].cycle
             if int(data.rows[i]) in data.predictions else -1 for i in hits]
    hits = hits[np.argsort(found, kind="stable")]  # in the order they were found
    table = partial(candidate_table, targets=targets, rows=data.rows, Y=Y, labels=data.labels,
                    predictions=data.predictions, units=data.units)
    tables = [table(f"Best measured candidates (top {min(BEST_ROWS, len(order))} of "
                    f"{len(order)})", order=order[:BEST_ROWS])]
    notes = []
    if targets.bounds:
        tables.append(table(f"Hits ({len(hits)}), in the order found", order=hits[:HIT_ROWS]))
        if len(hits) > HIT_ROWS:
            notes.append(f"The first {HIT_ROWS} of {len(hits)} hits are listed; "
                         "`matloop export` writes them all.")
    if picks is not None:
        tables.append(next_table(f"Next picks ({picks.source})", targets, picks.labels,
                                 picks.mean, picks.std, data.units, picks.score,
                                 picks.score_name))
    return Section(
        "Candidates", "Measured values against what the model predicted (± 1σ) when it "
        "picked each candidate; picks of the initial design have no prediction.",
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
                           f"{campaign.loop.acquisition}" + _last_strategy(summary)),
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


def _last_strategy(summary: dict[str, Any]) -> str:
    """`` (last cycle: logei)`` when the last cycle's strategy says more than the file."""
    last = summary["last_cycle"]
    return "" if last is None else f" (last cycle: {last['strategy']})"
