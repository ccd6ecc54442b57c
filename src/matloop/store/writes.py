"""Every write: campaigns, proposals, outcomes, requeues, cycles, lab batches and
imported results.

Each call is its own transaction, so a killed run loses at most the evaluations that
were in flight; writes that could race are conditional (an INSERT that may hit a unique
key, an UPDATE that checks the status it changes), so two processes at once leave one
result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from matloop.errors import AlreadyImported, StoreError
from matloop.protocols import Outcome
from matloop.store.records import AWAITING, IN_FLIGHT, RETRIED, Pending, Proposal, Recorded
from matloop.store.tables import (
    CampaignRecord,
    CandidateRecord,
    Cycle,
    Evaluation,
    ExternalCandidate,
    ImportedSheet,
    Measurement,
    now,
)


def campaign_id(engine: Engine, shown: str, name: str, config: Mapping[str, Any] | None,
                fixed: Sequence[str], free: Sequence[str] = ()) -> int:
    """The id of campaign ``name``; created with ``config`` when given and absent (see
    ``Store.campaign_id``; ``shown`` is the database URL as messages show it)."""
    for _ in range(2):
        with Session(engine) as session:
            record = session.exec(select(CampaignRecord)
                                  .where(CampaignRecord.name == name)).first()
            if record is None:
                if config is None:
                    raise StoreError(f"campaign {name!r} is not in {shown}")
                record = CampaignRecord(name=name, config=json.dumps(dict(config)))
                session.add(record)
                try:
                    session.commit()
                except IntegrityError:  # created by a run starting at the same time:
                    session.rollback()  # read it (and check its settings) instead
                    continue
                session.refresh(record)
            elif config is not None:
                changed = changed_settings(json.loads(record.config), config, fixed, free)
                if changed:
                    raise StoreError(
                        f"campaign {name!r} in {shown} was run with different settings "
                        f"({', '.join(changed)}); use a new campaign name or another "
                        "database" + ORACLE_ADVICE * any(c.startswith("oracle")
                                                         for c in changed))
                record.config = json.dumps(dict(config))
                session.add(record)
                session.commit()
            assert record.id is not None
            return record.id
    raise StoreError(f"campaign {name!r} in {shown} could not be created")


ORACLE_ADVICE = ("; or, if the oracle was changed on purpose (a fixed bug, a moved file) "
                 "and its results so far still stand, run with --accept-oracle-change")


def changed_settings(stored: Mapping[str, Any], current: Mapping[str, Any],
                     fixed: Sequence[str], free: Sequence[str] = ()) -> list[str]:
    """The settings of the ``fixed`` sections that differ between two campaign configs,
    as ``section.field`` (or ``section`` when it is not a table), ignoring the
    ``section.field`` names in ``free`` (of a list of tables: that field of each)."""
    changed = []
    for section in fixed:
        old, new = stored.get(section), current.get(section)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += [f"{section}.{k}" for k in sorted(old.keys() | new.keys())
                        if old.get(k) != new.get(k) and f"{section}.{k}" not in free]
        elif _without(old, section, free) != _without(new, section, free):
            changed.append(section)
    return changed


def _without(value: Any, section: str, free: Sequence[str]) -> Any:
    """A list of tables without the fields ``free`` names for its items."""
    if not isinstance(value, list):
        return value
    return [{k: v for k, v in item.items() if f"{section}.{k}" not in free}
            if isinstance(item, dict) else item for item in value]


def set_stop_reason(engine: Engine, campaign_id: int, reason: str | None) -> None:
    """Record why the campaign's last run stopped (None: it has not stopped)."""
    with Session(engine) as session:
        record = session.get(CampaignRecord, campaign_id)
        assert record is not None
        record.stop_reason = reason
        session.add(record)
        session.commit()


def propose(engine: Engine, campaign_id: int, cycle: int, proposals: Sequence[Proposal]
            ) -> list[Pending]:
    """Record new evaluations (status ``proposed``) in one transaction."""
    with Session(engine) as session:
        pending = []
        for proposal in proposals:
            candidate = candidate_id(session, campaign_id, proposal, proposal.external)
            evaluation = Evaluation(campaign_id=campaign_id, candidate_id=candidate,
                                    cycle=cycle, fidelity=proposal.fidelity)
            session.add(evaluation)
            session.flush()
            assert evaluation.id is not None
            pending.append(Pending(evaluation.id, proposal.pool_index, proposal.key, 1,
                                   proposal.fidelity))
        session.commit()
        return pending


def mark_running(engine: Engine, evaluation_id: int, attempt: int) -> None:
    """Mark an evaluation started (its attempt number given)."""
    with Session(engine) as session:
        session.execute(update(Evaluation).where(col(Evaluation.id) == evaluation_id)
                        .values(status="running", started_at=now(), attempt=attempt))
        session.commit()


def record(engine: Engine, evaluation_id: int, outcome: Outcome) -> bool:
    """Store an outcome and its measurements in one transaction, exactly once; False,
    changing nothing, when the evaluation is already finished."""
    with Session(engine) as session:
        finished = session.execute(
            update(Evaluation)
            .where(col(Evaluation.id) == evaluation_id,
                   col(Evaluation.status).in_((*IN_FLIGHT, AWAITING)))
            .values(status="succeeded" if outcome.ok else "failed",
                    reason=outcome.reason, error=text(outcome.error),
                    finished_at=now(),
                    duration_s=outcome.duration_s,
                    provenance=json.dumps(dict(outcome.provenance), default=str)))
        if finished.rowcount != 1:  # type: ignore[attr-defined]
            if session.get(Evaluation, evaluation_id) is None:
                raise StoreError(f"evaluation {evaluation_id} does not exist")
            return False
        if outcome.ok:
            for name, value in outcome.values.items():
                session.add(Measurement(evaluation_id=evaluation_id, property=name,
                                        value=float(value), unit=outcome.units.get(name)))
        session.commit()
        return True


def requeue_in_flight(engine: Engine, campaign_id: int) -> list[Pending]:
    """Evaluations left unfinished by a stopped run, ready to run again: those that had
    started count a new attempt; those only proposed keep theirs."""
    with Session(engine) as session:
        rows = session.exec(
            select(Evaluation, CandidateRecord)
            .join(CandidateRecord, col(CandidateRecord.id) == Evaluation.candidate_id)
            .where(Evaluation.campaign_id == campaign_id,
                   col(Evaluation.status).in_(IN_FLIGHT))
            .order_by(col(Evaluation.id))).all()
        pending = []
        for evaluation, candidate in rows:
            assert evaluation.id is not None
            if evaluation.status == "running":
                evaluation.attempt += 1
                evaluation.status = "proposed"
                evaluation.started_at = None
                session.add(evaluation)
            pending.append(Pending(evaluation.id, candidate.pool_index, candidate.key,
                                   evaluation.attempt, evaluation.fidelity))
        session.commit()
        return pending


def retry_failures(engine: Engine, campaign_id: int, reasons: Sequence[str]) -> int:
    """Give the candidates whose evaluations failed for one of ``reasons`` a new
    evaluation (status ``proposed``, the next attempt, the same cycle) and mark those
    failures ``retried`` (no longer charged to the budget; their reason, error and the
    id of the retry in ``provenance["retried_as"]`` kept). A candidate with a success or
    an evaluation in flight (at the failure's fidelity) is left alone. Returns the
    number of new evaluations."""
    with Session(engine) as session:
        rows = session.exec(select(Evaluation).where(
            Evaluation.campaign_id == campaign_id).order_by(col(Evaluation.id))).all()
        settled = {(e.candidate_id, e.fidelity) for e in rows
                   if e.status in ("succeeded", AWAITING, *IN_FLIGHT)}
        failures: dict[tuple[int, str | None], list[Evaluation]] = {}
        for e in rows:
            pair = (e.candidate_id, e.fidelity)
            if e.status == "failed" and e.reason in reasons and pair not in settled:
                failures.setdefault(pair, []).append(e)
        for (candidate_id, fidelity), failed in failures.items():
            retry = Evaluation(campaign_id=campaign_id, candidate_id=candidate_id,
                               cycle=failed[-1].cycle, attempt=failed[-1].attempt + 1,
                               fidelity=fidelity)
            session.add(retry)
            session.flush()
            for e in failed:
                provenance = json.loads(e.provenance or "{}")
                provenance["retried_as"] = retry.id
                e.status, e.provenance = RETRIED, json.dumps(provenance, default=str)
                session.add(e)
        session.commit()
        return len(failures)


def finish_cycle(engine: Engine, campaign_id: int, number: int,
                 best: Mapping[str, Any]) -> None:
    """Store the best values known once the cycle's evaluations are recorded."""
    with Session(engine) as session:
        session.execute(update(Cycle).where(col(Cycle.campaign_id) == campaign_id,
                                            col(Cycle.number) == number)
                        .values(best=json.dumps(dict(best))))
        session.commit()


def record_cycle(engine: Engine, campaign_id: int, number: int, strategy: str,
                 n_train: int, n_proposed: int, fit_s: float, select_s: float,
                 hyperparameters: Mapping[str, Any] | None,
                 best: Mapping[str, Any] | None,
                 predicted: Mapping[str, Any] | None) -> None:
    """Record a cycle: its strategy, sizes, timings, model and best values."""
    with Session(engine) as session:
        session.add(Cycle(campaign_id=campaign_id, number=number, strategy=strategy,
                          n_train=n_train, n_proposed=n_proposed, fit_s=fit_s,
                          select_s=select_s,
                          hyperparameters=json.dumps(hyperparameters or {}),
                          best=json.dumps(best or {}),
                          predicted=json.dumps(predicted) if predicted else None))
        session.commit()


def propose_awaiting(engine: Engine, campaign_id: int, cycle: int,
                     proposals: Sequence[Proposal],
                     provenance: Sequence[Mapping[str, Any]]) -> list[int]:
    """Record a lab batch (status ``awaiting``) in one transaction; its evaluation ids."""
    with Session(engine) as session:
        ids = []
        for proposal, extra in zip(proposals, provenance, strict=True):
            candidate = candidate_id(session, campaign_id, proposal, proposal.external)
            evaluation = Evaluation(campaign_id=campaign_id, candidate_id=candidate,
                                    cycle=cycle, status=AWAITING,
                                    fidelity=proposal.fidelity,
                                    provenance=json.dumps(dict(extra), default=str))
            session.add(evaluation)
            session.flush()
            assert evaluation.id is not None
            ids.append(evaluation.id)
        session.commit()
        return ids


def import_results(engine: Engine, campaign_id: int, results: Sequence[Recorded],
                   digest: str | None, path: str) -> list[int]:
    """Store imported results in ONE transaction (all or nothing); the evaluation ids.
    ``StoreError`` (nothing written) when an evaluation to fill is no longer awaiting;
    ``AlreadyImported`` when ``digest`` was imported before (see ``Store``)."""
    with Session(engine) as session:
        if digest is not None:
            _record_import(session, campaign_id, digest, path)
        try:
            ids = [_store_result(session, campaign_id, result) for result in results]
            session.commit()
        except IntegrityError:  # a candidate added by another import meanwhile
            session.rollback()
            raise StoreError("another import changed the campaign at the same time; "
                             "nothing was imported, import again") from None
    return ids


def _record_import(session: Session, campaign_id: int, digest: str, path: str) -> None:
    """The import's row, first in its transaction: of two imports of one digest the
    second waits for the first (SQLite's write lock, PostgreSQL's unique index) and then
    hits the unique key — ``AlreadyImported``, its transaction rolled back."""
    session.add(ImportedSheet(campaign_id=campaign_id, sha256=digest, path=path))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AlreadyImported(path) from None


def _store_result(session: Session, campaign_id: int, result: Recorded) -> int:
    """Write one imported result (in the caller's transaction); its evaluation id."""
    outcome: dict[str, Any] = {
        "status": "failed" if result.failed else "succeeded",
        "reason": "infeasible" if result.failed else None,
        "error": text(result.note) if result.failed else None,
        "finished_at": now()}
    if result.evaluation_id is not None:
        gone = StoreError(f"{result.candidate.label}: evaluation {result.evaluation_id} "
                          "is no longer awaiting results (imported by someone else?); "
                          "nothing was imported")
        evaluation = session.get(Evaluation, result.evaluation_id)
        if evaluation is None or evaluation.status != AWAITING:
            raise gone
        provenance = {**json.loads(evaluation.provenance or "{}"), **result.provenance}
        # filled only if still awaiting when written: of two imports at once, one does
        filled = session.execute(
            update(Evaluation)
            .where(col(Evaluation.id) == result.evaluation_id,
                   col(Evaluation.status) == AWAITING)
            .values(**outcome, provenance=json.dumps(provenance, default=str)))
        if filled.rowcount != 1:  # type: ignore[attr-defined]
            raise gone
        evaluation_id = result.evaluation_id
    else:
        candidate = candidate_id(session, campaign_id, result.candidate, result.external,
                                 result.kind)
        evaluation = Evaluation(campaign_id=campaign_id, candidate_id=candidate,
                                cycle=result.cycle, **outcome, fidelity=result.fidelity,
                                provenance=json.dumps(dict(result.provenance), default=str))
        session.add(evaluation)
        session.flush()
        assert evaluation.id is not None
        evaluation_id = evaluation.id
    for name, value in result.values.items():
        session.add(Measurement(evaluation_id=evaluation_id, property=name,
                                value=float(value), unit=result.units.get(name)))
    return evaluation_id


def candidate_id(session: Session, campaign_id: int, proposal: Proposal,
                 external: Mapping[str, float | str] | None = None, kind: str = "inputs"
                 ) -> int:
    """The id of the campaign's candidate with ``proposal.key`` (created when absent);
    ``external``: the values of a candidate outside the pool (of pool ``kind``), stored
    with it so that the pool can be rebuilt with it."""
    if external is not None:
        _check_free_row(session, campaign_id, proposal)
    candidate = session.exec(
        select(CandidateRecord).where(CandidateRecord.campaign_id == campaign_id,
                                      CandidateRecord.key == proposal.key)).first()
    if candidate is None:
        candidate = CandidateRecord(campaign_id=campaign_id, key=proposal.key,
                                    pool_index=proposal.pool_index, label=proposal.label)
        session.add(candidate)
        session.flush()
    assert candidate.id is not None
    if external is not None and session.get(ExternalCandidate, candidate.id) is None:
        session.add(ExternalCandidate(candidate_id=candidate.id, campaign_id=campaign_id,
                                      kind=kind, values=json.dumps(dict(external))))
    return candidate.id


def _check_free_row(session: Session, campaign_id: int, proposal: Proposal) -> None:
    """An outside candidate's pool index must not be taken by another candidate (two
    imports adding candidates at the same time)."""
    taken = session.exec(select(CandidateRecord.key).where(
        CandidateRecord.campaign_id == campaign_id,
        CandidateRecord.pool_index == proposal.pool_index)).first()
    if taken is not None and taken != proposal.key:
        raise StoreError(f"{proposal.label}: row {proposal.pool_index} was just taken by "
                         f"another candidate ({taken}); nothing was written, try again")


def text(value: str | None) -> str | None:
    """Free text as both databases store it: PostgreSQL refuses NUL characters."""
    return None if value is None else value.replace("\x00", "\\x00")
