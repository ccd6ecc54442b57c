"""Where a campaign stands, read from its store alone (no models, no heavy imports)."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.campaigns.targets import TargetSet, goodness
from matloop.errors import ConfigError
from matloop.store import CycleRow, EvaluationRow, Store

if TYPE_CHECKING:
    from matloop.spaces.pool import Pool


def summarize(campaign: Campaign, store: Store, campaign_id: int) -> dict[str, Any]:
    """Status as plain data: counts, cycles, best value and candidate per target, hits,
    and for several objectives the measured Pareto front and its hypervolume (as recorded
    by the last cycle, with the reference point it was measured from)."""
    counts = store.counts(campaign_id)
    cycles = store.cycles(campaign_id)
    evaluations = store.evaluations(campaign_id)
    targets = TargetSet.from_targets(campaign.targets)
    best: dict[str, float] = {}
    best_candidate: dict[str, str] = {}
    for j, name in enumerate(targets.properties):
        measured = [(e.values[name], e.candidate) for e in evaluations
                    if e.status == "succeeded" and name in e.values]
        if measured:
            value, label = max(measured,
                               key=lambda m: float(goodness(targets, j, np.asarray(m[0]))))
            best[name], best_candidate[name] = value, label
    indices, values = store.training_data(campaign_id, targets.properties)
    hit_rows = np.flatnonzero(targets.hits(np.asarray(values, dtype=float)))
    labels = {e.pool_index: e.candidate for e in evaluations}
    last = cycles[-1] if cycles else None
    record = last.best if last else {}
    front = np.flatnonzero(targets.pareto(np.asarray(values, dtype=float)) if
                           targets.kind == "multi" else np.zeros(len(indices), dtype=bool))
    budget = store.config(campaign_id).get("loop", {}).get("budget", campaign.loop.budget)
    return {
        "campaign": campaign.campaign.name,
        "database": store.safe_url,
        "cycles": len(cycles),
        "budget": budget,
        "evaluations": _evaluation_counts(campaign, counts),
        "replicates": replicated(store, campaign_id, targets.properties),
        "failures": _failure_reasons(evaluations),
        "targets": [t.describe() for t in campaign.targets],
        "best": best,
        "best_candidate": best_candidate,
        "hits": len(hit_rows) if targets.bounds else None,
        "hit_candidates": [labels[indices[i]] for i in hit_rows],
        "pareto_candidates": [labels[indices[i]] for i in front],
        "hypervolume": record.get("hypervolume"),
        "reference_point": record.get("reference"),
        "units": {t.property: t.unit or evaluations_unit(evaluations, t.property)
                  for t in campaign.targets},
        "last_cycle": None if last is None else {
            "number": last.number, "strategy": last.strategy, "n_train": last.n_train,
            "fit_s": last.fit_s, "select_s": last.select_s,
            "hyperparameters": dict(last.hyperparameters),
            "predicted": None if last.predicted is None else dict(last.predicted)},
        "stop_reason": store.stop_reason(campaign_id),
        **_validation(cycles),
        **({"fidelities": fidelity_summary(campaign, store, campaign_id, cycles)}
           if campaign.fidelities else {}),
        **({"related": related_summary(campaign, cycles)} if campaign.campaign.related
           else {}),
    }


def related_summary(campaign: Campaign, cycles: Sequence[CycleRow]) -> list[dict[str, Any]]:
    """Each ``[[campaign.related]]`` entry: where its measurements come from, and from
    the last cycle that fitted the transfer GP its rows in the model and learnt
    correlation per target property (None before, or where it has no values)."""
    fitted: Mapping[str, Any] = {}
    for cycle in reversed(cycles):
        if cycle.hyperparameters.get("kind") == "transfer-gp":
            fitted = cycle.hyperparameters
            break
    from sqlalchemy.engine import make_url

    return [{"name": r.name, "source": str(r.path) if r.path else
             make_url(r.url).render_as_string(hide_password=True),
             "campaign": r.campaign,
             "rows": (fitted.get("rows") or {}).get(r.name),
             "model_correlation": (fitted.get("correlation") or {}).get(r.name)}
            for r in campaign.campaign.related]


def fidelity_summary(campaign: Campaign, store: Store, campaign_id: int,
                     cycles: Sequence[CycleRow]) -> dict[str, Any]:
    """Every source of a multi-fidelity campaign: the campaign's own oracle (``target``)
    and each ``[[fidelities]]`` entry with its cost per evaluation (``cost_given`` or
    measured), evaluations by status, what they cost, and for the cheaper sources the
    evidence: candidates measured by both, the Spearman correlation per property, the
    verdict (``pays``, ``undecided``, ``useless``) and the multi-fidelity model's learnt
    correlation (from the last cycle that fitted it; None before)."""
    from matloop.loop.fidelity import source_costs, spent, standing

    costs = source_costs(campaign, store, campaign_id)
    learnt: dict[str, Any] = {}
    for cycle in reversed(cycles):
        if "correlation" in cycle.hyperparameters:
            learnt = dict(cycle.hyperparameters["correlation"])
            break
    sources: list[dict[str, Any]] = []
    given: dict[str | None, float | None] = {None: campaign.oracle.cost}
    given.update({f.name: f.cost for f in campaign.fidelities})
    for name in given:
        counts = store.counts(campaign_id, name)
        finished = counts["succeeded"] + counts["failed"]
        cost = costs[name]
        sources.append({"name": name or "target", "cost": cost,
                        "cost_given": given[name] is not None,
                        "evaluations": _evaluation_counts(campaign, counts),
                        "spent": None if cost is None else
                        (cost * finished if given[name] is not None else
                         sum(store.durations(campaign_id).get(name, ())))})
    for entry, verdict in zip(sources[1:], standing(campaign, store, campaign_id),
                              strict=True):
        measured = [p for p, m in zip(campaign.properties, verdict.measures, strict=True)
                    if m]
        entry.update({
            "properties": measured, "pairs": verdict.pairs,
            "rank_correlation": {p: None if math.isnan(r) else r for p, r, m in zip(
                campaign.properties, verdict.rank_correlation, verdict.measures,
                strict=True) if m},
            "verdict": {p: v for p, v, m in zip(campaign.properties, verdict.found,
                                                verdict.measures, strict=True) if m},
            "useless": verdict.useless,
            "model_correlation": learnt.get(verdict.name)})
    return {"sources": sources, "spent": spent(campaign, store, campaign_id),
            "cost_budget": campaign.loop.cost_budget}


def _evaluation_counts(campaign: Campaign, counts: dict[str, int]) -> dict[str, int]:
    """Succeeded, failed, pending (proposed or running) and, for a lab campaign (or when
    there are some), awaiting lab results; failures run again (``retried``, uncharged)
    when there are some."""
    out = {"succeeded": counts["succeeded"], "failed": counts["failed"],
           "pending": counts["proposed"] + counts["running"]}
    if campaign.oracle.kind == "lab" or counts.get("awaiting"):
        out["awaiting"] = counts.get("awaiting", 0)
    if counts.get("retried"):
        out["retried"] = counts["retried"]
    return out


def replicated(store: Store, campaign_id: int, properties: tuple[str, ...]
               ) -> dict[str, dict[str, dict[str, float]]]:
    """Candidates measured more than once: ``{label: {property: {mean, std, n}}}`` (the
    models train on the mean)."""
    return {label: {name: asdict(s) for name, s in spread.items()}
            for label, spread in store.replicates(campaign_id, properties).items()
            if any(s.n > 1 for s in spread.values())}


def _validation(cycles: Sequence[CycleRow]) -> dict[str, Any]:
    """The latest cross-validation figures per property (``"validation"``, without the
    held-out lists), the cycle they come from and warnings when uncertainty is badly off."""
    from matloop.surrogates.validation import calibration_warning

    for cycle in reversed(cycles):
        record = cycle.hyperparameters.get("validation")
        if record:
            figures = {name: {k: v for k, v in f.items()
                              if k not in ("measured", "predicted", "std")}
                       for name, f in record.items() if name != "seconds"}
            warnings = [w for name, f in figures.items()
                        if (w := calibration_warning(name, f)) is not None]
            return {"validation": figures, "validation_cycle": cycle.number,
                    "validation_warnings": warnings}
    return {"validation": {}, "validation_cycle": None, "validation_warnings": []}


def evaluations_unit(evaluations: Sequence[EvaluationRow], name: str) -> str | None:
    for e in evaluations:
        if e.units.get(name):
            return str(e.units[name])
    return None


def _failure_reasons(evaluations: Sequence[EvaluationRow]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for e in evaluations:
        if e.status == "failed":
            reasons[e.reason or "error"] = reasons.get(e.reason or "error", 0) + 1
    return reasons


def evaluation_table(campaign: Campaign, evaluations: Sequence[EvaluationRow],
                     inputs: Callable[[int], Mapping[str, Any]] | None = None,
                     input_names: Sequence[str] = ()) -> tuple[list[str], list[list[Any]]]:
    """Every evaluation as a row: the header ``candidate_id, candidate, <inputs...>,
    [fidelity,] status, <properties...>, cycle, attempt, reason, error, duration_s, proposed_at,
    started_at, finished_at`` and ``model`` when some evaluation names its calculator
    (target properties first, then any other property the oracle returned) and the rows
    (None where a value is missing). ``inputs(pool_index)`` gives a table candidate's
    inputs by name, one column each (``input_names``; a name the table uses otherwise
    gets an ``input_`` prefix); ``fidelity`` (multi-fidelity campaigns only) names the
    source, ``target`` for the campaign's own oracle; ``reason`` is the failure category
    and ``error`` its text; times are ISO 8601 in UTC."""
    others = sorted({p for e in evaluations for p in e.values} - set(campaign.properties))
    properties = [*campaign.properties, *others]
    models = any(e.model is not None for e in evaluations)
    sources = bool(campaign.fidelities)
    trailing = ["cycle", "attempt", "reason", "error", "duration_s", *TIMES,
                *(["model"] if models else [])]
    fixed = {"candidate_id", "candidate", "status", *trailing, *properties}
    columns = [f"input_{n}" if n in fixed else n for n in input_names]
    header = ["candidate_id", "candidate", *columns, *(["fidelity"] if sources else []),
              "status", *properties, *trailing]
    rows = []
    for e in evaluations:
        given = inputs(e.pool_index) if inputs is not None else {}
        times = [None if t is None else _utc(t).isoformat()
                 for t in (e.proposed_at, e.started_at, e.finished_at)]
        rows.append([e.candidate_id, e.candidate, *(given.get(n) for n in input_names),
                     *([e.fidelity or "target"] if sources else []), e.status,
                     *(e.values.get(p) for p in properties), e.cycle, e.attempt,
                     e.reason, e.error, e.duration_s, *times,
                     *([e.model] if models else [])])
    return header, rows


TIMES = ("proposed_at", "started_at", "finished_at")


def _utc(moment: datetime) -> datetime:
    """A stored time in UTC with its zone (SQLite gives them without one)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def write_csv(header: Sequence[str], rows: Sequence[Sequence[Any]], out: Path) -> int:
    """Write ``evaluation_table``'s header and rows as CSV (numbers in full precision,
    missing folders made); the number of rows. ``ConfigError`` when ``out`` is a folder
    or cannot be written."""
    if out.is_dir():
        raise ConfigError(f"{out} is a folder; give the path of a CSV file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow([repr(v) if isinstance(v, float) and math.isfinite(v)
                                 else "" if v is None else v for v in row])
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    return len(rows)


def table_inputs(pool: Pool
                 ) -> tuple[Callable[[int], Mapping[str, Any]] | None, tuple[str, ...]]:
    """The inputs by pool row of a space of inputs (a table's or a box's), and their
    names (none for other spaces)."""
    if pool.kind != "inputs":
        return None, ()
    return (lambda i: pool.candidate(i).inputs or {}), tuple(pool.names)
