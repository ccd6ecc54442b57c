"""The campaigns a server shows: every campaign file in one folder, by campaign name.

A request names a campaign, never a path: names map to the files found in the folder,
and each campaign's ``Session`` is opened once and used by one request at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matloop.errors import MatloopError, StoreError

if TYPE_CHECKING:
    import pandas as pd

    from matloop.loop.session import Session
    from matloop.store import AwaitingRow


@dataclass(frozen=True)
class Entry:
    """A campaign file of the folder: its campaign name, or why it cannot be read."""

    path: Path
    name: str | None
    error: str | None = None


class CampaignFolder:
    """The campaign files (``*.toml``) directly in ``root``; each campaign's session
    is reopened when its file changes."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._sessions: dict[str, tuple[float, Session]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._read: dict[Path, tuple[float, Entry]] = {}  # each file as last read

    def entries(self) -> list[Entry]:
        """Every ``*.toml`` file of the folder, sorted by file name (a file is read
        again only when it changed)."""
        from matloop.campaigns import load

        out = []
        for path in sorted(self.root.glob("*.toml")):
            stamp = path.stat().st_mtime
            known = self._read.get(path)
            if known is None or known[0] != stamp:
                try:
                    entry = Entry(path, load(path).campaign.name)
                except MatloopError as exc:
                    entry = Entry(path, None, str(exc))
                known = self._read[path] = (stamp, entry)
            out.append(known[1])
        return out

    def path_of(self, name: str) -> Path:
        """The file of the campaign ``name``; ``KeyError`` when the folder has none."""
        for entry in self.entries():
            if entry.name == name:
                return entry.path
        raise KeyError(name)

    @contextmanager
    def session(self, name: str) -> Iterator[Session]:
        """The campaign's open session, for this request alone (``KeyError``: no such
        campaign in the folder)."""
        from matloop.campaigns import load
        from matloop.loop.session import Session

        path = self.path_of(name)
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            stamp = path.stat().st_mtime
            cached = self._sessions.get(name)
            if cached is None or cached[0] != stamp:
                if cached is not None:
                    cached[1].close()
                self._sessions[name] = (stamp, Session(load(path)))
            yield self._sessions[name][1]

    def close(self) -> None:
        """Close every campaign's session (the server stops)."""
        for _, session in self._sessions.values():
            session.close()
        self._sessions.clear()


def summary_or_none(session: Session) -> dict[str, Any] | None:
    """``session.status()``, or None for a campaign that was never run."""
    try:
        return session.status()
    except StoreError:
        return None


def awaiting_rows(session: Session) -> list[AwaitingRow]:
    """The evaluations awaiting the lab's results, without proposing anything (none for
    a campaign never run)."""
    from matloop.store import Store

    campaign = session.campaign
    try:
        store = Store(campaign.database_url, create=False)
    except StoreError:  # never run
        return []
    try:
        return store.awaiting(store.campaign_id(campaign.campaign.name))
    except StoreError:
        return []
    finally:
        store.close()


def awaiting_batch(session: Session) -> pd.DataFrame | None:
    """``awaiting_rows`` as the batch sheet (``propose``'s columns); None when none
    awaits."""
    from matloop.lab.proposals import batch_frame

    awaiting = awaiting_rows(session)
    return batch_frame(session.campaign, session.pool, awaiting) if awaiting else None


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON records: NaN becomes null."""
    import json

    return json.loads(frame.to_json(orient="records", date_format="iso"))
