"""The store: every query matloop makes, over any SQLAlchemy URL (SQLite by default).

Each write is its own transaction, so a killed run loses at most the evaluations that
were in flight. SQLite files are opened in WAL mode with a busy timeout so that
``matloop status`` can read while a run writes.
"""

from __future__ import annotations

import json
import os
import socket
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, col, create_engine, select

from matloop.errors import CampaignLocked, StoreError
from matloop.protocols import Outcome
from matloop.store.tables import (
    SCHEMA_VERSION,
    CampaignRecord,
    CandidateRecord,
    Cycle,
    Evaluation,
    Measurement,
    Meta,
    RunLock,
    now,
)

IN_FLIGHT = ("proposed", "running")
FINISHED = ("succeeded", "failed")


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
        path = sqlite_path(url)
        if path is not None and not create and not path.exists():
            raise StoreError(f"no database at {path}: the campaign has not been run yet")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url)
        try:
            if create:
                SQLModel.metadata.create_all(self.engine)
                self._check_schema_version()
            elif not self._has_tables():
                raise StoreError(f"{url}: not a matloop database")
        except OperationalError as exc:
            raise StoreError(f"cannot open database {url}: {exc.orig}") from None

    def _has_tables(self) -> bool:
        from sqlalchemy import inspect

        return inspect(self.engine).has_table("campaign")

    def _check_schema_version(self) -> None:
        with Session(self.engine) as session:
            meta = session.get(Meta, "schema_version")
            if meta is None:
                session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
                session.commit()
            elif int(meta.value) != SCHEMA_VERSION:
                raise StoreError(f"{self.url} has schema version {meta.value}; this matloop "
                                 f"reads version {SCHEMA_VERSION}")

    # --- campaigns -------------------------------------------------------------------

    def campaign_id(self, name: str, config: Mapping[str, Any] | None = None,
                    fixed: Sequence[str] = ()) -> int:
        """The id of campaign ``name``; created with ``config`` when given and absent.

        When the campaign exists and ``config`` is given, the ``fixed`` sections (those
        that define the search) must be unchanged — resuming a different search into the
        same history would mix incomparable data — and ``config`` replaces the stored one
        (so it records the latest run's seed and budget).
        """
        with Session(self.engine) as session:
            record = session.exec(select(CampaignRecord).where(CampaignRecord.name == name)
                                  ).first()
            if record is None:
                if config is None:
                    raise StoreError(f"campaign {name!r} is not in {self.url}")
                record = CampaignRecord(name=name, config=json.dumps(dict(config)))
                session.add(record)
                session.commit()
                session.refresh(record)
            elif config is not None:
                stored = json.loads(record.config)
                changed = sorted(k for k in fixed if stored.get(k) != config.get(k))
                if changed:
                    raise StoreError(
                        f"campaign {name!r} in {self.url} was run with different "
                        f"{', '.join(changed)} settings; use a new campaign name or --db")
                record.config = json.dumps(dict(config))
                session.add(record)
                session.commit()
            assert record.id is not None
            return record.id

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
        with Session(self.engine) as session:
            try:
                session.add(RunLock(campaign_id=campaign_id, host=host, pid=pid))
                session.commit()
                return
            except IntegrityError:
                session.rollback()
            held = session.get(RunLock, campaign_id)
            if held is None:  # released between our insert and read: try once more
                session.add(RunLock(campaign_id=campaign_id, host=host, pid=pid))
                session.commit()
                return
            if held.host != host or _alive(held.pid):
                raise CampaignLocked(
                    f"campaign is being run by process {held.pid} on {held.host} since "
                    f"{held.acquired_at:%Y-%m-%d %H:%M:%S}; wait for it or stop it first")
            taken = session.execute(
                update(RunLock)
                .where(col(RunLock.campaign_id) == campaign_id, col(RunLock.pid) == held.pid,
                       col(RunLock.host) == held.host)
                .values(pid=pid, host=host, acquired_at=now()))
            session.commit()
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise CampaignLocked("another run took over the campaign's lock just now")

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

    def record(self, evaluation_id: int, outcome: Outcome) -> None:
        """Store an outcome and its measurements in one transaction."""
        with Session(self.engine) as session:
            evaluation = session.get(Evaluation, evaluation_id)
            if evaluation is None:
                raise StoreError(f"evaluation {evaluation_id} does not exist")
            evaluation.status = "succeeded" if outcome.ok else "failed"
            evaluation.reason = outcome.reason
            evaluation.error = outcome.error
            evaluation.finished_at = now()
            evaluation.duration_s = outcome.duration_s
            evaluation.provenance = json.dumps(dict(outcome.provenance), default=str)
            session.add(evaluation)
            if outcome.ok:
                for name, value in outcome.values.items():
                    session.add(Measurement(evaluation_id=evaluation_id, property=name,
                                            value=float(value), unit=outcome.units.get(name)))
            session.commit()

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
                                .where(CandidateRecord.campaign_id == campaign_id)).all()
            return {key: index for key, index in rows}

    def training_data(self, campaign_id: int, properties: Sequence[str]
                      ) -> tuple[list[int], list[list[float]]]:
        """Pool indices and per-candidate mean values ``(n, m)`` (NaN where unmeasured)."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(CandidateRecord.pool_index, Measurement.property, Measurement.value)
                .join(Evaluation, col(Evaluation.candidate_id) == CandidateRecord.id)
                .join(Measurement, col(Measurement.evaluation_id) == Evaluation.id)
                .where(Evaluation.campaign_id == campaign_id,
                       Evaluation.status == "succeeded",
                       col(Measurement.property).in_(list(properties)))).all()
        sums: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for index, name, value in rows:
            sums[index][name].append(value)
        indices = sorted(sums)
        values = [[sum(v) / len(v) if (v := sums[i].get(p)) else float("nan")
                   for p in properties] for i in indices]
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
        counts.update({status: n for status, n in rows})
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
                    .where(Evaluation.campaign_id == campaign_id)).all():
                values[m.evaluation_id][m.property] = m.value
                units.setdefault(m.property, m.unit)
        return [
            {"evaluation_id": e.id, "candidate_id": c.id, "candidate": c.label, "key": c.key,
             "pool_index": c.pool_index, "status": e.status, "cycle": e.cycle,
             "attempt": e.attempt, "reason": e.reason, "error": e.error,
             "duration_s": e.duration_s, "values": values.get(e.id or -1, {}),
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
