"""The store: every query matloop makes, over any SQLAlchemy URL (SQLite by default).

Each write is its own transaction, so a killed run loses at most the evaluations that
were in flight. SQLite files are opened in WAL mode with a busy timeout so that
``matloop status`` can read while a run writes. PostgreSQL
(``postgresql+psycopg://user@host/db``, an existing database) gets the same schema, the
same run lock and the same resume: every statement here is portable, every query whose
order matters has an ORDER BY, the tables are created under a lock, and writes that
could race are conditional (an INSERT that may hit a unique key, an UPDATE that checks
the status it changes), so two processes at once leave one result.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlmodel import Session, SQLModel, col, create_engine, select

from matloop.errors import CampaignLocked, StoreError
from matloop.protocols import Outcome
from matloop.store.tables import (
    SCHEMA_VERSION,
    CampaignRecord,
    CandidateRecord,
    Cycle,
    Evaluation,
    ExternalCandidate,
    Measurement,
    Meta,
    RunLock,
    now,
)

# PostgreSQL: the advisory lock that serialises creating the tables (two runs starting at
# once on an empty database would otherwise both issue CREATE TABLE)
SCHEMA_LOCK = 0x6D61746C6F6F70  # "matloop"

IN_FLIGHT = ("proposed", "running")  # re-run by the next run when left unfinished
AWAITING = "awaiting"  # proposed to a lab: in flight, but never re-run by the loop
FINISHED = ("succeeded", "failed")


class DatabaseUnavailable(StoreError):
    """The database cannot be opened at all: a malformed URL, a missing driver, a server
    that does not answer, a database that does not exist or a refused login. (Readers
    that treat "no campaign yet" as empty must not treat this so.)"""


@dataclass(frozen=True)
class Proposal:
    """A candidate to evaluate: its row in the pool, its key and its label."""

    pool_index: int
    key: str
    label: str


@dataclass(frozen=True)
class Pending:
    """An evaluation that is recorded but not finished."""

    evaluation_id: int
    pool_index: int
    key: str
    attempt: int


@dataclass(frozen=True)
class Recorded:
    """One imported result: it fills the awaiting evaluation ``evaluation_id``, or (None)
    becomes a new evaluation of ``candidate`` (a replicate, or a candidate never proposed;
    ``external`` holds the values of one outside the pool). ``values`` are in ``units``;
    a failed result has no values and ``note`` as its error text."""

    evaluation_id: int | None
    candidate: Proposal
    values: Mapping[str, float]
    units: Mapping[str, str]
    failed: bool
    note: str
    cycle: int
    provenance: Mapping[str, Any]
    external: Mapping[str, float] | None = None
    kind: str = "inputs"


def safe_url(url: str) -> str:
    """``url`` as it may be shown: its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for other databases and ``:memory:``."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if path in ("", ":memory:") else Path(path)


class Store:
    """All reads and writes of one database. Cheap to construct; holds an engine."""

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        self.safe_url = safe_url(url)  # for messages: without the password
        path = sqlite_path(url)
        if path is not None and not create and not path.exists():
            raise StoreError(f"no database at {path}: the campaign has not been run yet")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url, self.safe_url)
        try:
            if create:
                self._create_tables()
            elif not self._has_tables():
                raise StoreError(f"{self.safe_url}: not a matloop database")
        except DBAPIError as exc:  # unreachable server, no such database, refused login
            self.engine.dispose()
            reason = " ".join(str(exc.orig).split())  # libpq's messages span lines
            raise DatabaseUnavailable(f"cannot open database {self.safe_url}: {reason}"
                                      ) from None

    def _has_tables(self) -> bool:
        from sqlalchemy import inspect

        return inspect(self.engine).has_table("campaign")

    def _create_tables(self) -> None:
        """Create what is missing and check the schema version in one transaction that
        holds the database's write lock (SQLite: BEGIN IMMEDIATE) or an advisory lock
        (PostgreSQL): runs starting at once on a new database create it in turn."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            elif connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": SCHEMA_LOCK})
            SQLModel.metadata.create_all(connection)
            version = connection.execute(select(Meta.value).where(
                Meta.key == "schema_version")).scalar_one_or_none()
            if version is None:
                connection.execute(insert(Meta).values(key="schema_version",
                                                       value=str(SCHEMA_VERSION)))
            elif int(version) != SCHEMA_VERSION:
                raise StoreError(f"{self.safe_url} has schema version {version}; this "
                                 f"matloop reads version {SCHEMA_VERSION}")

    # --- campaigns -------------------------------------------------------------------

    def campaign_id(self, name: str, config: Mapping[str, Any] | None = None,
                    fixed: Sequence[str] = ()) -> int:
        """The id of campaign ``name``; created with ``config`` when given and absent.

        When the campaign exists and ``config`` is given, the ``fixed`` sections (those
        that define the search) must be unchanged — resuming a different search into the
        same history would mix incomparable data — and ``config`` replaces the stored one
        (so it records the latest run's seed and budget).
        """
        for _ in range(2):
            with Session(self.engine) as session:
                record = session.exec(select(CampaignRecord)
                                      .where(CampaignRecord.name == name)).first()
                if record is None:
                    if config is None:
                        raise StoreError(f"campaign {name!r} is not in {self.safe_url}")
                    record = CampaignRecord(name=name, config=json.dumps(dict(config)))
                    session.add(record)
                    try:
                        session.commit()
                    except IntegrityError:  # created by a run starting at the same time:
                        session.rollback()  # read it (and check its settings) instead
                        continue
                    session.refresh(record)
                elif config is not None:
                    stored = json.loads(record.config)
                    changed = sorted(k for k in fixed if stored.get(k) != config.get(k))
                    if changed:
                        raise StoreError(
                            f"campaign {name!r} in {self.safe_url} was run with different "
                            f"{', '.join(changed)} settings; use a new campaign name or --db")
                    record.config = json.dumps(dict(config))
                    session.add(record)
                    session.commit()
                assert record.id is not None
                return record.id
        raise StoreError(f"campaign {name!r} in {self.safe_url} could not be created")

    def set_stop_reason(self, campaign_id: int, reason: str | None) -> None:
        with Session(self.engine) as session:
            record = session.get(CampaignRecord, campaign_id)
            assert record is not None
            record.stop_reason = reason
            session.add(record)
            session.commit()

    def config(self, campaign_id: int) -> dict[str, Any]:
        """The campaign file (as JSON data) of the latest run."""
        with Session(self.engine) as session:
            record = session.get(CampaignRecord, campaign_id)
            return json.loads(record.config) if record else {}

    def stop_reason(self, campaign_id: int) -> str | None:
        with Session(self.engine) as session:
            record = session.get(CampaignRecord, campaign_id)
            return record.stop_reason if record else None

    # --- the run lock ----------------------------------------------------------------

    @contextmanager
    def lock(self, campaign_id: int) -> Iterator[None]:
        """Hold the campaign's run lock; raises ``CampaignLocked`` if a live run has it.

        A lock left by a process that no longer exists on this host is taken over.
        """
        host, pid = socket.gethostname(), os.getpid()
        self._acquire(campaign_id, host, pid)
        try:
            yield
        finally:
            with Session(self.engine) as session:
                session.execute(RunLock.__table__.delete().where(  # type: ignore[attr-defined]
                    RunLock.campaign_id == campaign_id, RunLock.pid == pid,
                    RunLock.host == host))
                session.commit()

    def _acquire(self, campaign_id: int, host: str, pid: int) -> None:
        """Insert the lock row; when there is one, take it over if its owner is dead.

        Two processes inserting at once: the database lets one in and gives the other an
        IntegrityError (PostgreSQL makes it wait for the first to commit). After an error
        PostgreSQL refuses every statement until the rollback, so each try gets its own
        transaction."""
        for _ in range(3):  # a holder may release between our insert and our read
            with Session(self.engine) as session:
                try:
                    session.add(RunLock(campaign_id=campaign_id, host=host, pid=pid))
                    session.commit()
                    return
                except IntegrityError:
                    session.rollback()
                held = session.get(RunLock, campaign_id)
                if held is None:
                    continue
                if held.host != host or _alive(held.pid):
                    raise CampaignLocked(
                        f"campaign is being run by process {held.pid} on {held.host} since "
                        f"{held.acquired_at:%Y-%m-%d %H:%M:%S} UTC; wait for it or stop it "
                        "first")
                taken = session.execute(
                    update(RunLock)
                    .where(col(RunLock.campaign_id) == campaign_id,
                           col(RunLock.pid) == held.pid, col(RunLock.host) == held.host)
                    .values(pid=pid, host=host, acquired_at=now()))
                session.commit()
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    raise CampaignLocked("another run took over the campaign's lock just now")
                return
        raise CampaignLocked("the campaign's lock changed hands repeatedly; try again")

    # --- evaluations -----------------------------------------------------------------

    def propose(self, campaign_id: int, cycle: int, proposals: Sequence[Proposal]
                ) -> list[Pending]:
        """Record new evaluations (status ``proposed``) in one transaction."""
        with Session(self.engine) as session:
            pending = []
            for proposal in proposals:
                candidate = session.exec(
                    select(CandidateRecord).where(CandidateRecord.campaign_id == campaign_id,
                                                  CandidateRecord.key == proposal.key)).first()
                if candidate is None:
                    candidate = CandidateRecord(campaign_id=campaign_id, key=proposal.key,
                                                pool_index=proposal.pool_index,
                                                label=proposal.label)
                    session.add(candidate)
                    session.flush()
                assert candidate.id is not None
                evaluation = Evaluation(campaign_id=campaign_id, candidate_id=candidate.id,
                                        cycle=cycle)
                session.add(evaluation)
                session.flush()
                assert evaluation.id is not None
                pending.append(Pending(evaluation.id, proposal.pool_index, proposal.key, 1))
            session.commit()
            return pending

    def mark_running(self, evaluation_id: int, attempt: int) -> None:
        with Session(self.engine) as session:
            session.execute(update(Evaluation).where(col(Evaluation.id) == evaluation_id)
                            .values(status="running", started_at=now(), attempt=attempt))
            session.commit()

    def record(self, evaluation_id: int, outcome: Outcome) -> bool:
        """Store an outcome and its measurements in one transaction, exactly once.

        Returns False, changing nothing, when the evaluation is already finished (a late
        duplicate result, e.g. from a worker presumed dead): the first outcome stands."""
        with Session(self.engine) as session:
            finished = session.execute(
                update(Evaluation)
                .where(col(Evaluation.id) == evaluation_id,
                       col(Evaluation.status).in_((*IN_FLIGHT, AWAITING)))
                .values(status="succeeded" if outcome.ok else "failed",
                        reason=outcome.reason, error=_text(outcome.error),
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

    def requeue_in_flight(self, campaign_id: int) -> list[Pending]:
        """Evaluations left unfinished by a stopped run, ready to run again.

        Those that had started count a new attempt; those only proposed keep theirs.
        """
        with Session(self.engine) as session:
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
                                       evaluation.attempt))
            session.commit()
            return pending

    def tried_pool_indices(self, campaign_id: int) -> dict[str, int]:
        """Key -> pool index of every candidate with an evaluation of any status."""
        with Session(self.engine) as session:
            rows = session.exec(select(CandidateRecord.key, CandidateRecord.pool_index)
                                .where(CandidateRecord.campaign_id == campaign_id)
                                .order_by(col(CandidateRecord.id))).all()
            return {key: index for key, index in rows}

    def training_data(self, campaign_id: int, properties: Sequence[str]
                      ) -> tuple[list[int], list[list[float]]]:
        """Pool indices and per-candidate mean values ``(n, m)`` (NaN where unmeasured)."""
        rows = self._measured(campaign_id, properties, CandidateRecord.pool_index)
        sums: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for index, _, name, value in rows:
            sums[index][name].append(value)
        indices = sorted(sums)
        values = [[sum(v) / len(v) if (v := sums[i].get(p)) else float("nan")
                   for p in properties] for i in indices]
        return indices, values

    def observations(self, campaign_id: int, properties: Sequence[str]
                     ) -> tuple[list[int], list[list[float]]]:
        """One row per succeeded evaluation that measured any of ``properties``: its
        candidate's pool index and its values ``(n_evaluations, m)`` (NaN where not
        measured), in candidate order. Replicates stay separate rows, so a model fitted
        on them learns the measurement noise from their scatter."""
        rows = self._measured(campaign_id, properties, CandidateRecord.pool_index)
        by_evaluation: dict[int, tuple[int, dict[str, float]]] = {}
        for index, evaluation_id, name, value in rows:
            by_evaluation.setdefault(evaluation_id, (index, {}))[1][name] = value
        indices = [index for index, _ in by_evaluation.values()]
        values = [[measured.get(p, float("nan")) for p in properties]
                  for _, measured in by_evaluation.values()]
        return indices, values

    def finished(self, campaign_id: int) -> list[tuple[int, bool, str | None]]:
        """``(pool index, succeeded, failure reason)`` of every finished evaluation, in the
        order they finished."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(CandidateRecord.pool_index, Evaluation.status, Evaluation.reason)
                .join(Evaluation, col(Evaluation.candidate_id) == CandidateRecord.id)
                .where(Evaluation.campaign_id == campaign_id,
                       col(Evaluation.status).in_(("succeeded", "failed")))
                .order_by(col(Evaluation.finished_at), col(Evaluation.id))).all()
        return [(index, status == "succeeded", reason) for index, status, reason in rows]

    def counts(self, campaign_id: int) -> dict[str, int]:
        """Number of evaluations by status (all four statuses present)."""
        with Session(self.engine) as session:
            rows = session.exec(select(Evaluation.status, func.count())
                                .where(Evaluation.campaign_id == campaign_id)
                                .group_by(Evaluation.status)).all()
        counts = dict.fromkeys(("proposed", "running", "succeeded", "failed"), 0)
        counts.update({status: n for status, n in rows})  # + "awaiting" when there are some
        return counts

    def evaluations(self, campaign_id: int) -> list[dict[str, Any]]:
        """Every evaluation with its candidate and measured values, oldest first."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Evaluation, CandidateRecord)
                .join(CandidateRecord, col(CandidateRecord.id) == Evaluation.candidate_id)
                .where(Evaluation.campaign_id == campaign_id)
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
            {"evaluation_id": e.id, "candidate_id": c.id, "candidate": c.label, "key": c.key,
             "pool_index": c.pool_index, "status": e.status, "cycle": e.cycle,
             "attempt": e.attempt, "reason": e.reason, "error": e.error,
             "duration_s": e.duration_s, "finished_at": e.finished_at,
             "values": values.get(e.id or -1, {}),
             "units": units}
            for e, c in rows
        ]

    # --- cycles ----------------------------------------------------------------------

    def next_cycle(self, campaign_id: int) -> int:
        with Session(self.engine) as session:
            last = session.exec(select(func.max(Cycle.number))
                                .where(Cycle.campaign_id == campaign_id)).one()
            # evaluations may carry a cycle number whose record was never written (killed run)
            last_eval = session.exec(select(func.max(Evaluation.cycle))
                                     .where(Evaluation.campaign_id == campaign_id)).one()
        return max(-1 if last is None else last, -1 if last_eval is None else last_eval) + 1

    def finish_cycle(self, campaign_id: int, number: int, best: Mapping[str, Any]) -> None:
        """Store the best values known once the cycle's evaluations are recorded."""
        with Session(self.engine) as session:
            session.execute(update(Cycle).where(col(Cycle.campaign_id) == campaign_id,
                                                col(Cycle.number) == number)
                            .values(best=json.dumps(dict(best))))
            session.commit()

    def record_cycle(self, campaign_id: int, number: int, strategy: str, n_train: int,
                     n_proposed: int, fit_s: float, select_s: float,
                     hyperparameters: Mapping[str, Any] | None,
                     best: Mapping[str, Any] | None,
                     predicted: Mapping[str, Any] | None = None) -> None:
        with Session(self.engine) as session:
            session.add(Cycle(campaign_id=campaign_id, number=number, strategy=strategy,
                              n_train=n_train, n_proposed=n_proposed, fit_s=fit_s,
                              select_s=select_s,
                              hyperparameters=json.dumps(hyperparameters or {}),
                              best=json.dumps(best or {}),
                              predicted=json.dumps(predicted) if predicted else None))
            session.commit()

    def latest_hyperparameters(self, campaign_id: int) -> dict[str, Any] | None:
        """The hyperparameters of the latest cycle that fitted a model, if any."""
        with Session(self.engine) as session:
            row = session.exec(select(Cycle.hyperparameters)
                               .where(Cycle.campaign_id == campaign_id,
                                      col(Cycle.hyperparameters).is_not(None),
                                      Cycle.hyperparameters != "{}")
                               .order_by(col(Cycle.number).desc()).limit(1)).first()
        return json.loads(row) if row else None

    def cycles(self, campaign_id: int) -> list[Cycle]:
        with Session(self.engine) as session:
            return list(session.exec(select(Cycle).where(Cycle.campaign_id == campaign_id)
                                     .order_by(col(Cycle.number))).all())

    # --- lab batches and imported results --------------------------------------------

    def propose_awaiting(self, campaign_id: int, cycle: int, proposals: Sequence[Proposal],
                         provenance: Sequence[Mapping[str, Any]]) -> list[int]:
        """Record a lab batch (status ``awaiting``) in one transaction; its evaluation ids.

        ``provenance[i]`` (JSON-able: the model's predictions) is kept with proposal i."""
        with Session(self.engine) as session:
            ids = []
            for proposal, extra in zip(proposals, provenance, strict=True):
                candidate = _candidate(session, campaign_id, proposal)
                evaluation = Evaluation(campaign_id=campaign_id, candidate_id=candidate,
                                        cycle=cycle, status=AWAITING,
                                        provenance=json.dumps(dict(extra), default=str))
                session.add(evaluation)
                session.flush()
                assert evaluation.id is not None
                ids.append(evaluation.id)
            session.commit()
            return ids

    def awaiting(self, campaign_id: int) -> list[dict[str, Any]]:
        """The lab evaluations still awaiting results, oldest first: ``evaluation_id,
        candidate_id, key, label, pool_index, cycle, provenance`` (parsed JSON)."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Evaluation, CandidateRecord)
                .join(CandidateRecord, col(CandidateRecord.id) == Evaluation.candidate_id)
                .where(Evaluation.campaign_id == campaign_id, Evaluation.status == AWAITING)
                .order_by(col(Evaluation.id))).all()
        return [{"evaluation_id": e.id, "candidate_id": c.id, "key": c.key, "label": c.label,
                 "pool_index": c.pool_index, "cycle": e.cycle,
                 "provenance": json.loads(e.provenance or "{}")} for e, c in rows]

    def candidates(self, campaign_id: int) -> list[CandidateRecord]:
        """Every candidate the campaign has an evaluation of (any status)."""
        with Session(self.engine) as session:
            return list(session.exec(select(CandidateRecord)
                                     .where(CandidateRecord.campaign_id == campaign_id)
                                     .order_by(col(CandidateRecord.id))).all())

    def external_candidates(self, campaign_id: int) -> list[tuple[int, str, str, dict]]:
        """``(pool_index, key, kind, {name: value})`` of measured candidates outside the
        pool, by pool index."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(CandidateRecord.pool_index, CandidateRecord.key, ExternalCandidate.kind,
                       ExternalCandidate.values)
                .join(ExternalCandidate,
                      col(ExternalCandidate.candidate_id) == CandidateRecord.id)
                .where(ExternalCandidate.campaign_id == campaign_id)
                .order_by(col(CandidateRecord.pool_index))).all()
        return [(index, key, kind, json.loads(values)) for index, key, kind, values in rows]

    def import_results(self, campaign_id: int, results: Sequence[Recorded]) -> list[int]:
        """Store imported results in ONE transaction (all or nothing); the evaluation ids.

        Raises ``StoreError`` (and writes nothing) when an evaluation to fill is no longer
        awaiting — e.g. another import got there first."""
        with Session(self.engine) as session:
            try:
                ids = [self._store_result(session, campaign_id, result)
                       for result in results]
                session.commit()
            except IntegrityError:  # a candidate added by another import meanwhile
                session.rollback()
                raise StoreError("another import changed the campaign at the same time; "
                                 "nothing was imported, import again") from None
        return ids

    def _store_result(self, session: Session, campaign_id: int, result: Recorded) -> int:
        outcome: dict[str, Any] = {
            "status": "failed" if result.failed else "succeeded",
            "reason": "infeasible" if result.failed else None,
            "error": _text(result.note) if result.failed else None,
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
            if result.external is not None:
                _check_free_row(session, campaign_id, result.candidate)
            candidate = _candidate(session, campaign_id, result.candidate)
            if result.external is not None and session.get(ExternalCandidate,
                                                           candidate) is None:
                session.add(ExternalCandidate(candidate_id=candidate, campaign_id=campaign_id,
                                              kind=result.kind,
                                              values=json.dumps(dict(result.external))))
            evaluation = Evaluation(campaign_id=campaign_id, candidate_id=candidate,
                                    cycle=result.cycle, **outcome,
                                    provenance=json.dumps(dict(result.provenance),
                                                          default=str))
            session.add(evaluation)
            session.flush()
            assert evaluation.id is not None
            evaluation_id = evaluation.id
        for name, value in result.values.items():
            session.add(Measurement(evaluation_id=evaluation_id, property=name,
                                    value=float(value), unit=result.units.get(name)))
        return evaluation_id

    def imported_files(self, campaign_id: int) -> set[str]:
        """The checksums of the result files imported into the campaign so far."""
        with Session(self.engine) as session:
            rows = session.exec(select(Evaluation.provenance).where(
                Evaluation.campaign_id == campaign_id,
                col(Evaluation.provenance).contains('"sha256"'))).all()
        digests = {json.loads(text).get("import", {}).get("sha256") for text in rows if text}
        return {d for d in digests if isinstance(d, str)}

    def _measured(self, campaign_id: int, properties: Sequence[str], key: Any
                  ) -> list[tuple[Any, int, str, float]]:
        """``(key of the candidate, evaluation id, property, value)`` of every measurement
        of a succeeded evaluation, in candidate and then evaluation order; ``key`` is a
        ``CandidateRecord`` column."""
        with Session(self.engine) as session:
            return list(session.exec(
                select(key, Measurement.evaluation_id, Measurement.property,
                       Measurement.value)
                .join(Evaluation, col(Evaluation.candidate_id) == CandidateRecord.id)
                .join(Measurement, col(Measurement.evaluation_id) == Evaluation.id)
                .where(Evaluation.campaign_id == campaign_id,
                       Evaluation.status == "succeeded",
                       col(Measurement.property).in_(list(properties)))
                .order_by(col(CandidateRecord.id), col(Evaluation.id))).all())

    def replicates(self, campaign_id: int, properties: Sequence[str]
                   ) -> dict[str, dict[str, dict[str, float]]]:
        """Per measured candidate (by label) and property: ``{"mean", "std", "n"}`` over its
        succeeded evaluations (std: sample standard deviation, 0 for one measurement)."""
        rows = self._measured(campaign_id, properties, CandidateRecord.label)
        grouped: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for label, _, name, value in rows:
            grouped[label][name].append(value)
        return {label: {name: _spread(values) for name, values in by_name.items()}
                for label, by_name in grouped.items()}


def _candidate(session: Session, campaign_id: int, proposal: Proposal) -> int:
    """The id of the campaign's candidate with ``proposal.key`` (created when absent)."""
    candidate = session.exec(
        select(CandidateRecord).where(CandidateRecord.campaign_id == campaign_id,
                                      CandidateRecord.key == proposal.key)).first()
    if candidate is None:
        candidate = CandidateRecord(campaign_id=campaign_id, key=proposal.key,
                                    pool_index=proposal.pool_index, label=proposal.label)
        session.add(candidate)
        session.flush()
    assert candidate.id is not None
    return candidate.id


def _check_free_row(session: Session, campaign_id: int, proposal: Proposal) -> None:
    """An outside candidate's pool index must not be taken by another candidate (two
    imports adding candidates at the same time)."""
    taken = session.exec(select(CandidateRecord.key).where(
        CandidateRecord.campaign_id == campaign_id,
        CandidateRecord.pool_index == proposal.pool_index)).first()
    if taken is not None and taken != proposal.key:
        raise StoreError(f"{proposal.label}: row {proposal.pool_index} was just taken by "
                         f"another import ({taken}); nothing was imported, import again")


def _text(value: str | None) -> str | None:
    """Free text as both databases store it: PostgreSQL refuses NUL characters."""
    return None if value is None else value.replace("\x00", "\\x00")


def _spread(values: Sequence[float]) -> dict[str, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"mean": mean, "std": var ** 0.5, "n": n}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _engine(url: str, shown: str) -> Engine:
    """An engine for ``url``; ``StoreError`` for a malformed URL or a missing driver."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            connect_args: dict[str, Any] = {}
            if parsed.get_driver_name() in ("psycopg", "psycopg2") and \
                    "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = 10  # an unreachable host fails in 10 s
            return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        engine = create_engine(url, connect_args={"timeout": 30,
                                                  "check_same_thread": False})
    except ImportError as exc:
        hint = ""
        if exc.name == "psycopg2":
            hint = "; use postgresql+psycopg://... (psycopg 3: pip install 'matloop[postgres]')"
        elif exc.name == "psycopg":
            hint = " (pip install 'matloop[postgres]')"
        raise DatabaseUnavailable(f"cannot open database {shown}: its driver {exc.name!r} "
                                  f"is not installed{hint}") from None
    except NoSuchModuleError:
        hint = "; for PostgreSQL use postgresql+psycopg://" if "postgres" in url else ""
        raise DatabaseUnavailable(f"{shown}: unknown kind of database "
                                  f"{url.split(':')[0]!r}{hint}") from None
    except ArgumentError:
        raise DatabaseUnavailable(f"{shown} is not a database URL (e.g. "
                                  "sqlite:///path/to/file.db or "
                                  "postgresql+psycopg://user@host/db)") from None

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        # switching a new file to WAL needs it alone, and SQLite answers "locked" at once
        # (no busy timeout) when another process opens it at the same moment: retry
        for attempt in range(100):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
