"""The store: SQLModel tables and the only place that holds queries.

``Store`` (store.py) composes ``engine`` (URLs, engines), ``migrate`` (the schema's
Alembic revision, checked and upgraded on opening), ``lock`` (the run lock), ``writes``
and ``reads``; ``StoreProtocol`` (protocol.py) is what the rest of matloop asks of it.
"""

from matloop.store.migrate import SchemaError
from matloop.store.protocol import StoreProtocol
from matloop.store.store import (
    DatabaseUnavailable,
    Pending,
    Proposal,
    Recorded,
    Store,
    safe_url,
    sqlite_path,
)

__all__ = ["DatabaseUnavailable", "Pending", "Proposal", "Recorded", "SchemaError", "Store",
           "StoreProtocol", "safe_url", "sqlite_path"]
