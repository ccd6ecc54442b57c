"""SQLModel tables: the campaign's whole history, and its checkpoint.

One database may hold several campaigns (by name). An evaluation moves
``proposed -> running -> succeeded | failed``, or, for a lab, ``awaiting -> succeeded |
failed`` when its results are imported; an evaluation at a cheaper fidelity names it
(``fidelity``); each measured property is a row of
``Measurement`` so that evaluations may return some properties and not others. Each
import is an ``ImportedSheet``, unique per campaign by the digest of its results.

A change to these tables needs a new revision in ``matloop/store/migrations/versions``
(see ``matloop.store.migrations``); a test checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# the head schema revision's number (matloop.store.migrate.HEAD), kept in the meta table:
# matloop from before Alembic (which knows version 1 only) refuses a newer database
SCHEMA_VERSION = 4


def now() -> datetime:
    return datetime.now(UTC)


class Meta(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


class CampaignRecord(SQLModel, table=True):
    __tablename__ = "campaign"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    config: str = Field(sa_column=Column(Text, nullable=False))  # JSON of the campaign file
    created_at: datetime = Field(default_factory=now)
    stop_reason: str | None = None


class CandidateRecord(SQLModel, table=True):
    __tablename__ = "candidate"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    pool_index: int
    key: str
    label: str


class Evaluation(SQLModel, table=True):
    __tablename__ = "evaluation"
    # most queries ask for one campaign's evaluations of some status (revision 0002)
    __table_args__ = (Index("ix_evaluation_campaign_id_status", "campaign_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    cycle: int
    attempt: int = 1
    status: str = Field(default="proposed", index=True)  # proposed|running|awaiting|
    #                                                        succeeded|failed|retried
    reason: str | None = None  # failure category (see matloop.protocols.FAILURE_REASONS)
    error: str | None = Field(default=None, sa_column=Column(Text))
    proposed_at: datetime = Field(default_factory=now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    provenance: str | None = Field(default=None, sa_column=Column(Text))  # JSON
    # a [[fidelities]] name (revision 0004); None: the campaign's own [oracle], the
    # fidelity its targets, hits and budget count at
    fidelity: str | None = None


class Measurement(SQLModel, table=True):
    __tablename__ = "measurement"
    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id", index=True)
    property: str
    value: float
    unit: str | None = None


class Cycle(SQLModel, table=True):
    __tablename__ = "cycle"
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    number: int
    strategy: str  # "initial" (random design) or the acquisition's name
    n_train: int = 0
    n_proposed: int = 0
    fit_s: float = 0.0
    select_s: float = 0.0
    hyperparameters: str | None = Field(default=None, sa_column=Column(Text))  # JSON
    best: str | None = Field(default=None, sa_column=Column(Text))  # JSON {best, hits, progress}
    predicted: str | None = Field(default=None, sa_column=Column(Text))  # JSON, chosen ones
    created_at: datetime = Field(default_factory=now)


class RunLock(SQLModel, table=True):
    __tablename__ = "run_lock"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    host: str
    pid: int
    acquired_at: datetime = Field(default_factory=now)


class ExternalCandidate(SQLModel, table=True):
    """A measured candidate that is not in the campaign's pool (``import --allow-new``):
    its pool-space values, so that a later run can rebuild and featurise it."""

    __tablename__ = "external_candidate"
    candidate_id: int = Field(foreign_key="candidate.id", primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    kind: str  # "inputs" or "composition", as Pool.kind
    values: str = Field(sa_column=Column(Text, nullable=False))  # JSON {name: value}


class ImportedSheet(SQLModel, table=True):
    """An import of results (a file or a DataFrame), by the sha256 of its results
    (``matloop.lab.importer.content_digest``; before revision 0003, of its cells): written
    in the import's transaction, so of two imports of the same results — one after the
    other or at the same moment — the second hits the unique key and stores nothing."""

    __tablename__ = "imported_sheet"
    __table_args__ = (UniqueConstraint("campaign_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    sha256: str
    path: str  # the file as given to the import, or "<DataFrame>"
    imported_at: datetime = Field(default_factory=now)
