"""A damaged SQLite file and a full disk, on real files: one ``StoreError`` naming the file
(``DatabaseDamaged``, ``DatabaseFull``), never SQLAlchemy's error with its SQL; opening a
damaged file to write is refused before anything is written (``PRAGMA quick_check``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from matloop.protocols import Outcome
from matloop.store import DatabaseDamaged, DatabaseFull, Proposal, Store


def small_campaign(db: Path, evaluations: int = 5) -> int:
    """A campaign in ``db`` with ``evaluations`` succeeded evaluations; its id."""
    store = Store(f"sqlite:///{db}")
    campaign = store.campaign_id("c", {"space": 1})
    for item in store.propose(campaign, 0, [Proposal(i, f"k{i}", f"x={i}")
                                            for i in range(evaluations)]):
        store.record(item.evaluation_id, Outcome.success({"p": float(item.pool_index)}))
    store.close()
    return campaign


def test_a_damaged_file_is_not_opened_to_write_and_reads_say_it_is_damaged(
        tmp_path: Path, damage_table: Callable[..., None]) -> None:
    db = tmp_path / "c.db"
    campaign = small_campaign(db)
    damage_table(db)
    before = db.read_bytes()

    with pytest.raises(DatabaseDamaged) as refused:
        Store(f"sqlite:///{db}")
    message = str(refused.value)
    assert message.startswith(f"database {db} is damaged (On tree page ")
    assert "nothing was written" in message and f"sqlite3 {db} .recover" in message
    assert db.read_bytes() == before

    reader = Store(f"sqlite:///{db}", create=False)  # no check: reading writes nothing
    assert reader.config(campaign) == {"space": 1}  # what is not damaged reads
    with pytest.raises(DatabaseDamaged, match="database disk image is malformed") as read:
        reader.evaluations(campaign)
    assert "SELECT" not in str(read.value) and "nothing was written" not in str(read.value)
    reader.close()
    assert db.read_bytes() == before


def test_a_full_disk_keeps_what_was_committed(tmp_path: Path) -> None:
    """A real SQLITE_FULL: the file may not grow past the pages it has (``PRAGMA
    max_page_count``, set on every connection), so a big transaction cannot commit."""
    db = tmp_path / "c.db"
    campaign = small_campaign(db)
    store = Store(f"sqlite:///{db}")

    @event.listens_for(store.engine, "connect")
    def no_more_pages(connection: Any, _record: Any) -> None:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()  # connect again, with the limit
    many = [Proposal(i, f"new{i}" + "x" * 200, f"y={i}") for i in range(2000)]
    with pytest.raises(DatabaseFull) as full:
        store.propose(campaign, 1, many)
    message = str(full.value)
    assert message.startswith(f"cannot write to database {db}: the disk is full (database "
                              "or disk is full)")
    assert "everything committed before is intact" in message and "INSERT" not in message
    assert store.counts(campaign)["succeeded"] == 5  # the failed transaction left nothing
    assert len(store.evaluations(campaign)) == 5
    store.close()


def test_a_file_that_is_not_a_database_is_damaged_not_an_internal_error(
        tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    db.write_bytes(bytes(range(256)) * 64)
    for create in (True, False):
        with pytest.raises(DatabaseDamaged, match="not an SQLite file"):
            Store(f"sqlite:///{db}", create=create)
    assert db.read_bytes() == bytes(range(256)) * 64
    with pytest.raises(sqlite3.DatabaseError):  # as SQLite itself sees it
        sqlite3.connect(db).execute("PRAGMA quick_check").fetchall()


def test_text_overwritten_with_bytes_that_are_not_utf8_is_damage(tmp_path: Path) -> None:
    """Damage inside a value: the pages are sound (``quick_check`` passes), but a label's
    bytes are no longer UTF-8; reading it is ``DatabaseDamaged``, not sqlite3's error."""
    db = tmp_path / "c.db"
    store = Store(f"sqlite:///{db}")
    campaign = store.campaign_id("c", {"space": 1})
    store.propose(campaign, 0, [Proposal(0, "k0", "a-label-to-overwrite")])
    store.close()
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    content = db.read_bytes()
    assert content.count(b"a-label-to-overwrite") == 1
    db.write_bytes(content.replace(b"a-label-to-overwrite", b"\xa5" * 20))

    store = Store(f"sqlite:///{db}")  # quick_check finds nothing wrong with the pages
    with pytest.raises(DatabaseDamaged, match=r"is damaged \(a text value is not UTF-8\)"):
        store.evaluations(campaign)
    store.close()
