"""The run lock: one row per campaign naming the process (host and pid) that runs it.

A second run is refused with ``CampaignLocked`` while the holder lives; a lock left by a
process that no longer exists on this host is taken over.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from matloop.errors import CampaignLocked
from matloop.store.tables import RunLock, now


@contextmanager
def hold(engine: Engine, campaign_id: int) -> Iterator[None]:
    """Hold the campaign's run lock for the ``with`` block (released on exit)."""
    host, pid = socket.gethostname(), os.getpid()
    acquire(engine, campaign_id, host, pid)
    try:
        yield
    finally:
        release(engine, campaign_id, host, pid)


def acquire(engine: Engine, campaign_id: int, host: str, pid: int) -> None:
    """Insert the lock row; when there is one, take it over if its owner is dead.

    Two processes inserting at once: the database lets one in and gives the other an
    IntegrityError (PostgreSQL makes it wait for the first to commit). After an error
    PostgreSQL refuses every statement until the rollback, so each try gets its own
    transaction."""
    for _ in range(3):  # a holder may release between our insert and our read
        with Session(engine) as session:
            try:
                session.add(RunLock(campaign_id=campaign_id, host=host, pid=pid))
                session.commit()
                return
            except IntegrityError:
                session.rollback()
            held = session.get(RunLock, campaign_id)
            if held is None:
                continue
            if held.host != host or alive(held.pid):
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


def release(engine: Engine, campaign_id: int, host: str, pid: int) -> None:
    """Delete the lock row if (still) ours."""
    with Session(engine) as session:
        session.execute(delete(RunLock).where(
            col(RunLock.campaign_id) == campaign_id, col(RunLock.pid) == pid,
            col(RunLock.host) == host))
        session.commit()


def alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this host (perhaps another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
