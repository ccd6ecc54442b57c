"""The store: SQLModel tables and the only place that holds queries."""

from matloop.store.store import Pending, Proposal, Store, sqlite_path

__all__ = ["Pending", "Proposal", "Store", "sqlite_path"]
