"""A damaged SQLite file or a full disk as one clear ``StoreError`` instead of SQL text.

``watch(engine, shown)`` makes every error SQLite reports as damage (``SQLITE_CORRUPT``,
``SQLITE_NOTADB``, text that is not UTF-8) or as a failed write (``SQLITE_FULL``,
``SQLITE_IOERR``), wherever the engine meets it (opening, reading, writing, committing), a
``DatabaseDamaged`` or ``DatabaseFull`` naming the database. ``quick_check`` runs
``PRAGMA quick_check`` before a command writes: damage that reads do not notice (a page
whose cells point astray gives wrong rows, not an error) is refused before anything is
added to it.
"""

from __future__ import annotations

import shlex
import sqlite3
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from matloop.store.engine import DatabaseUnavailable

# SQLite's primary result codes (the low byte of an extended code)
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 10, 11, 13, 26


class DatabaseDamaged(DatabaseUnavailable):
    """The SQLite file is damaged (``reason``), or is not an SQLite database at all."""

    reason = ""


class DatabaseFull(DatabaseUnavailable):
    """The disk refused SQLite: full, a file-size limit, or failing. What was committed
    before is intact; the transaction that failed changed nothing."""


def damaged(shown: str, reason: str, written: str = "") -> DatabaseDamaged:
    """The error for damage found (``reason``, then ``written``), with how to get the file
    back."""
    error = DatabaseDamaged(f"database {shown} is damaged ({reason}){written}; restore it "
                            f"from a backup, or save what is readable with "
                            f"`sqlite3 {shlex.quote(shown)} .recover | sqlite3 recovered.db`")
    error.reason = reason
    return error


def translated(exc: BaseException, shown: str) -> DatabaseUnavailable | None:
    """The error to raise instead of SQLite's ``exc`` (None: keep ``exc``)."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code == SQLITE_NOTADB:
        return damaged(shown, f"{exc}: not an SQLite file, or its header is overwritten")
    if code == SQLITE_CORRUPT:
        return damaged(shown, str(exc))
    if str(exc).startswith("Could not decode to UTF-8"):  # sqlite3's own, without a code
        return damaged(shown, "a text value is not UTF-8")
    kept = ("everything committed before is intact: make space{} and run the command again "
            "(a run resumes where it stopped)")
    if code == SQLITE_FULL:
        return DatabaseFull(f"cannot write to database {shown}: the disk is full ({exc}); "
                            + kept.format(""))
    if code == SQLITE_IOERR:  # EFBIG (a file-size limit) and EIO come as this
        return DatabaseFull(f"database {shown}: {exc} (a full disk, a file-size limit or a "
                            "failing disk); " + kept.format(" (or mend the disk)"))
    return None


def watch(engine: Engine, shown: str) -> None:
    """Raise ``DatabaseDamaged`` / ``DatabaseFull`` for the engine's SQLite errors that
    mean so (``shown`` names the database)."""

    def replace(context: Any) -> None:
        found = translated(context.original_exception, shown)
        if found is not None:
            raise found from context.original_exception

    event.listen(engine, "handle_error", replace)


def quick_check(engine: Engine, shown: str) -> None:
    """``DatabaseDamaged`` (saying nothing was written) unless ``PRAGMA quick_check``
    finds the file sound; ``engine`` is ``watch``ed."""
    try:
        with engine.connect() as connection:
            found = [str(row[0]) for row in connection.execute(text("PRAGMA quick_check(3)"))]
    except DatabaseDamaged as exc:  # too damaged to check: SQLite raised instead
        found = [exc.reason]
    if found != ["ok"]:
        problems = "; ".join(" ".join(line.split()) for problem in found
                             for line in problem.splitlines() if not line.startswith("***"))
        raise damaged(shown, problems, "; nothing was written")
