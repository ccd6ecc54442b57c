"""The store: SQLModel tables and the only place that holds queries."""

from matloop.store.store import (
    DatabaseUnavailable,
    Pending,
    Proposal,
    Store,
    safe_url,
    sqlite_path,
)

__all__ = ["DatabaseUnavailable", "Pending", "Proposal", "Store", "safe_url", "sqlite_path"]
