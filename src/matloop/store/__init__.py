"""The store: SQLModel tables and the only place that holds queries.

``Store`` (store.py) composes ``engine`` (URLs, engines), ``migrate`` (the schema's
Alembic revision, checked and upgraded on opening), ``faults`` (a damaged file or a full
disk as one clear error), ``lock`` (the run lock), ``writes`` and ``reads``;
``StoreProtocol`` (protocol.py) is what the rest of matloop asks of it.
Its reads give the frozen dataclasses of ``views`` (``EvaluationRow``, ``CycleRow``...),
never the tables' rows.
"""

from matloop.store.faults import DatabaseDamaged, DatabaseFull
from matloop.store.migrate import SchemaError
from matloop.store.protocol import StoreProtocol
from matloop.store.records import EVERY_FIDELITY
from matloop.store.store import (
    DatabaseUnavailable,
    Pending,
    Proposal,
    Recorded,
    Store,
    safe_url,
    sqlite_path,
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
from matloop.store.writes import changed_settings

__all__ = ["EVERY_FIDELITY", "AwaitingRow", "CandidateRow", "CycleRow", "DatabaseDamaged",
           "DatabaseFull", "DatabaseUnavailable", "EvaluationRow", "FinishedRow",
           "OutsideCandidate", "Pending", "Proposal", "Recorded", "SchemaError", "Spread",
           "Store", "StoreProtocol", "changed_settings", "safe_url", "sqlite_path"]
