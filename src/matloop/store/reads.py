"""Every query: a campaign's settings, its evaluations and measurements (as training
data, per evaluation, or per candidate with their spread), its cycles and lab batches.

Every query whose order matters has an ORDER BY, so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, true
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from matloop.store.records import AWAITING, EVERY_FIDELITY, FINISHED
from matloop.store.tables import (
    CampaignRecord,
    CandidateRecord,
    Cycle,
    Evaluation,
    ExternalCandidate,
    ImportedSheet,
    Measurement,
)
from matloop.store.views import (
    AwaitingRow,
    CandidateRow,
    CycleRow,
    EvaluationRow,
    FinishedRow,
    OutsideCandidate,
    Spread,
)


def at_fidelity(fidelity: str | None) -> ColumnElement[bool]:
    """The evaluations of ``fidelity``: None the campaign's own ``[oracle]``, a
    ``[[fidelities]]`` name, or ``EVERY_FIDELITY``."""
    if fidelity == EVERY_FIDELITY:
        return true()
    if fidelity is None:
        return col(Evaluation.fidelity).is_(None)
    return col(Evaluation.fidelity) == fidelity


def campaign_names(engine: Engine) -> list[str]:
    """The names of every campaign in the database, in the order they were created."""
    with Session(engine) as session:
        return list(session.exec(select(CampaignRecord.name)
                                 .order_by(col(CampaignRecord.id))))


def config(engine: Engine, campaign_id: int) -> dict[str, Any]:
    """The campaign file (as JSON data) of the latest run."""
    with Session(engine) as session:
        record = session.get(CampaignRecord, campaign_id)
        return json.loads(record.config) if record else {}


def stop_reason(engine: Engine, campaign_id: int) -> str | None:
    """Why the campaign's last run stopped (None if it did not)."""
    with Session(engine) as session:
        record = session.get(CampaignRecord, campaign_id)
        return record.stop_reason if record else None


def tried_pool_indices(engine: Engine, campaign_id: int) -> dict[str, int]:
    """Key -> pool index of every candidate with an evaluation of any status."""
    with Session(engine) as session:
        rows = session.exec(select(CandidateRecord.key, CandidateRecord.pool_index)
                            .where(CandidateRecord.campaign_id == campaign_id)
                            .order_by(col(CandidateRecord.id))).all()
        return {key: index for key, index in rows}


def evaluated_rows(engine: Engine, campaign_id: int, fidelity: str | None = None
                   ) -> set[int]:
    """Pool indices of the candidates with an evaluation (of any status) at ``fidelity``."""
    with Session(engine) as session:
        return set(session.exec(
            select(CandidateRecord.pool_index)
            .join(Evaluation, col(Evaluation.candidate_id) == CandidateRecord.id)
            .where(Evaluation.campaign_id == campaign_id, at_fidelity(fidelity))
            .distinct()).all())


def measured(engine: Engine, campaign_id: int, properties: Sequence[str], key: Any,
             fidelity: str | None = None) -> list[tuple[Any, int, str, float]]:
    """``(key of the candidate, evaluation id, property, value)`` of every measurement
    of a succeeded evaluation at ``fidelity``, in candidate and then evaluation order;
    ``key`` is a ``CandidateRecord`` column."""
    with Session(engine) as session:
        return list(session.exec(
            select(key, Measurement.evaluation_id, Measurement.property, Measurement.value)
            .join(Evaluation, col(Evaluation.candidate_id) == CandidateRecord.id)
            .join(Measurement, col(Measurement.evaluation_id) == Evaluation.id)
            .where(Evaluation.campaign_id == campaign_id,
                   Evaluation.status == "succeeded", at_fidelity(fidelity),
                   col(Measurement.property).in_(list(properties)))
            .order_by(col(CandidateRecord.id), col(Evaluation.id))).all())


def training_data(engine: Engine, campaign_id: int, properties: Sequence[str],
                  fidelity: str | None = None) -> tuple[list[int], list[list[float]]]:
    """Pool indices and per-candidate mean values ``(n, m)`` (NaN where unmeasured)."""
    rows = measured(engine, campaign_id, properties, CandidateRecord.pool_index, fidelity)
    sums: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for index, _, name, value in rows:
        sums[index][name].append(value)
    indices = sorted(sums)
    values = [[sum(v) / len(v) if (v := sums[i].get(p)) else float("nan")
               for p in properties] for i in indices]
    return indices, values


def observations(engine: Engine, campaign_id: int, properties: Sequence[str],
                 fidelity: str | None = None) -> tuple[list[int], list[list[float]]]:
    """One row per succeeded evaluation that measured any of ``properties``: its
    candidate's pool index and its values (NaN where not measured), replicates apart."""
    rows = measured(engine, campaign_id, properties, CandidateRecord.pool_index, fidelity)
    by_evaluation: dict[int, tuple[int, dict[str, float]]] = {}
    for index, evaluation_id, name, value in rows:
        by_evaluation.setdefault(evaluation_id, (index, {}))[1][name] = value
    indices = [index for index, _ in by_evaluation.values()]
    values = [[found.get(p, float("nan")) for p in properties]
              for _, found in by_evaluation.values()]
    return indices, values


def replicates(engine: Engine, campaign_id: int, properties: Sequence[str]
               ) -> dict[str, dict[str, Spread]]:
    """Per measured candidate (by label) and property: the ``Spread`` of its succeeded
    evaluations (std: sample standard deviation, 0 for one measurement)."""
    rows = measured(engine, campaign_id, properties, CandidateRecord.label)
    grouped: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for label, _, name, value in rows:
        grouped[label][name].append(value)
    return {label: {name: spread(values) for name, values in by_name.items()}
            for label, by_name in grouped.items()}


def spread(values: Sequence[float]) -> Spread:
    """Mean, sample standard deviation (0 for one value) and count of ``values``."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return Spread(mean, var ** 0.5, n)


def finished(engine: Engine, campaign_id: int, fidelity: str | None = None
             ) -> list[FinishedRow]:
    """Every finished evaluation at ``fidelity`` (pool index, succeeded, failure
    reason), in the order they finished."""
    with Session(engine) as session:
        rows = session.exec(
            select(CandidateRecord.pool_index, Evaluation.status, Evaluation.reason)
            .join(Evaluation, col(Evaluation.candidate_id) == CandidateRecord.id)
            .where(Evaluation.campaign_id == campaign_id, at_fidelity(fidelity),
                   col(Evaluation.status).in_(FINISHED))
            .order_by(col(Evaluation.finished_at), col(Evaluation.id))).all()
    return [FinishedRow(index, status == "succeeded", reason)
            for index, status, reason in rows]


def counts(engine: Engine, campaign_id: int, fidelity: str | None = None
           ) -> dict[str, int]:
    """Number of evaluations at ``fidelity`` by status (all four statuses present)."""
    with Session(engine) as session:
        rows = session.exec(select(Evaluation.status, func.count())
                            .where(Evaluation.campaign_id == campaign_id,
                                   at_fidelity(fidelity))
                            .group_by(Evaluation.status)).all()
    found = dict.fromkeys(("proposed", "running", "succeeded", "failed"), 0)
    found.update({status: n for status, n in rows})  # + "awaiting" when there are some
    return found


def evaluations(engine: Engine, campaign_id: int, fidelity: str | None = None
                ) -> list[EvaluationRow]:
    """Every evaluation at ``fidelity`` with its candidate and measured values, oldest
    first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Evaluation, CandidateRecord)
            .join(CandidateRecord, col(CandidateRecord.id) == Evaluation.candidate_id)
            .where(Evaluation.campaign_id == campaign_id, at_fidelity(fidelity))
            .order_by(col(Evaluation.id))).all()
        values: dict[int, dict[str, float]] = defaultdict(dict)
        units: dict[str, str | None] = {}
        for m in session.exec(
                select(Measurement).join(Evaluation,
                                         col(Evaluation.id) == Measurement.evaluation_id)
                .where(Evaluation.campaign_id == campaign_id)
                .order_by(col(Measurement.id))).all():
            values[m.evaluation_id][m.property] = m.value
            units.setdefault(m.property, m.unit)
    return [
        EvaluationRow(
            evaluation_id=_id(e.id), candidate_id=_id(c.id), candidate=c.label, key=c.key,
            pool_index=c.pool_index, status=e.status, cycle=e.cycle, attempt=e.attempt,
            reason=e.reason, error=e.error, duration_s=e.duration_s,
            finished_at=e.finished_at, values=values.get(_id(e.id), {}), units=units,
            proposed_at=e.proposed_at, started_at=e.started_at,
            model=model_of(e.provenance), fidelity=e.fidelity)
        for e, c in rows
    ]


def model_of(provenance: str | None) -> str | None:
    """The calculator an evaluation's provenance names, with its package and version
    (``"emt (ase 3.23.0)"``); None when it names none."""
    if not provenance or '"calculator"' not in provenance:
        return None
    recorded = json.loads(provenance)
    name = recorded.get("calculator")
    if not isinstance(name, str):
        return None
    package, version = recorded.get("package"), recorded.get("version")
    return f"{name} ({package} {version})" if package and version else name


def next_cycle(engine: Engine, campaign_id: int) -> int:
    """The number of the next cycle (after every recorded cycle and evaluation)."""
    with Session(engine) as session:
        last = session.exec(select(func.max(Cycle.number))
                            .where(Cycle.campaign_id == campaign_id)).one()
        # evaluations may carry a cycle number whose record was never written (killed run)
        last_eval = session.exec(select(func.max(Evaluation.cycle))
                                 .where(Evaluation.campaign_id == campaign_id)).one()
    return max(-1 if last is None else last, -1 if last_eval is None else last_eval) + 1


def latest_hyperparameters(engine: Engine, campaign_id: int) -> dict[str, Any] | None:
    """The hyperparameters of the latest cycle that fitted a model, if any."""
    with Session(engine) as session:
        row = session.exec(select(Cycle.hyperparameters)
                           .where(Cycle.campaign_id == campaign_id,
                                  col(Cycle.hyperparameters).is_not(None),
                                  Cycle.hyperparameters != "{}")
                           .order_by(col(Cycle.number).desc()).limit(1)).first()
    return json.loads(row) if row else None


def cycles(engine: Engine, campaign_id: int) -> list[CycleRow]:
    """Every recorded cycle, in order."""
    with Session(engine) as session:
        rows = session.exec(select(Cycle).where(Cycle.campaign_id == campaign_id)
                            .order_by(col(Cycle.number))).all()
        return [CycleRow(number=c.number, strategy=c.strategy, n_train=c.n_train,
                         n_proposed=c.n_proposed, fit_s=c.fit_s, select_s=c.select_s,
                         hyperparameters=_parsed(c.hyperparameters) or {},
                         best=_parsed(c.best) or {}, predicted=_parsed(c.predicted),
                         created_at=c.created_at) for c in rows]


def awaiting(engine: Engine, campaign_id: int) -> list[AwaitingRow]:
    """The lab evaluations still awaiting results, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Evaluation, CandidateRecord)
            .join(CandidateRecord, col(CandidateRecord.id) == Evaluation.candidate_id)
            .where(Evaluation.campaign_id == campaign_id, Evaluation.status == AWAITING)
            .order_by(col(Evaluation.id))).all()
    return [AwaitingRow(evaluation_id=_id(e.id), candidate_id=_id(c.id), key=c.key,
                        label=c.label, pool_index=c.pool_index, cycle=e.cycle,
                        provenance=_parsed(e.provenance) or {}, fidelity=e.fidelity)
            for e, c in rows]


def candidates(engine: Engine, campaign_id: int) -> list[CandidateRow]:
    """Every candidate the campaign has an evaluation of (any status)."""
    with Session(engine) as session:
        rows = session.exec(select(CandidateRecord.id, CandidateRecord.pool_index,
                                   CandidateRecord.key, CandidateRecord.label)
                            .where(CandidateRecord.campaign_id == campaign_id)
                            .order_by(col(CandidateRecord.id))).all()
    return [CandidateRow(_id(i), index, key, label) for i, index, key, label in rows]


def external_candidates(engine: Engine, campaign_id: int) -> list[OutsideCandidate]:
    """The measured candidates from outside the pool, by pool index."""
    with Session(engine) as session:
        rows = session.exec(
            select(CandidateRecord.pool_index, CandidateRecord.key, ExternalCandidate.kind,
                   ExternalCandidate.values)
            .join(ExternalCandidate, col(ExternalCandidate.candidate_id) == CandidateRecord.id)
            .where(ExternalCandidate.campaign_id == campaign_id)
            .order_by(col(CandidateRecord.pool_index))).all()
    return [OutsideCandidate(index, key, kind, json.loads(values))
            for index, key, kind, values in rows]


def imported_files(engine: Engine, campaign_id: int) -> set[str]:
    """The digests of the results imported into the campaign so far."""
    with Session(engine) as session:
        return set(session.exec(select(ImportedSheet.sha256)
                                .where(ImportedSheet.campaign_id == campaign_id)).all())


def _id(value: int | None) -> int:
    """A stored row's id (None only before it is written)."""
    assert value is not None
    return value


def _parsed(text: str | None) -> Any:
    """A JSON column's value (None when empty)."""
    return json.loads(text) if text else None


def durations(engine: Engine, campaign_id: int) -> dict[str | None, list[float]]:
    """Per fidelity (None: the campaign's own ``[oracle]``), the oracle's seconds of every
    finished evaluation the loop ran, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Evaluation.fidelity, Evaluation.duration_s)
            .where(Evaluation.campaign_id == campaign_id,
                   col(Evaluation.status).in_(FINISHED),
                   col(Evaluation.duration_s).is_not(None))
            .order_by(col(Evaluation.id))).all()
    found: dict[str | None, list[float]] = defaultdict(list)
    for fidelity, seconds in rows:
        if seconds is not None:
            found[fidelity].append(float(seconds))
    return dict(found)
