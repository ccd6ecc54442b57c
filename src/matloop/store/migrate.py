"""The database schema's version, and bringing a database to it (Alembic, run from here:
no alembic.ini, no command line).

The revisions live in ``matloop/store/migrations/versions``: ``0001`` is the schema of
matloop before Alembic (its databases say so with ``meta.schema_version = '1'`` and have no
``alembic_version`` table), later ones change it. Opening a database (``Store(...)``, so
every command) looks at its revision first, without a lock and without importing Alembic:

- at the head revision: nothing to do (the usual case);
- no matloop tables: a new database; created at the head (``create_all``, then stamped) —
  only when writing (``create=True``), else "not a matloop database";
- revision 1 without Alembic: stamped ``0001``, then upgraded to the head;
- an older revision: upgraded to the head;
- a revision this matloop does not know: ``SchemaError`` (a newer matloop wrote it).

Readers (``create=False``: status, export, report, predict) upgrade an older database too:
an upgrade is quick and all-or-nothing, and a reader must not read a schema it does not
know. Creating or upgrading happens in ONE transaction that holds the database's write
lock (SQLite: ``BEGIN IMMEDIATE``) or an advisory lock (PostgreSQL), and looks at the
revision again once it has the lock, so of processes opening an old or new database at
once one migrates and the others find it done. ``meta.schema_version`` keeps the head's
number (4 for ``0004``): matloop from before Alembic refuses a newer database by it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel, col

from matloop.errors import StoreError
from matloop.store.engine import DatabaseUnavailable
from matloop.store.tables import SCHEMA_VERSION, Meta

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
REVISIONS = ("0001", "0002", "0003", "0004")  # oldest first, as in versions/ (a test checks)
HEAD = REVISIONS[-1]
BASELINE = "0001"  # the schema of matloop before Alembic
LEGACY = "schema_version 1"  # how revision() names a database from before Alembic
UNSETTLED = "unsettled"  # read while another process was migrating the database
# PostgreSQL: the advisory lock that serialises creating and upgrading the schema
SCHEMA_LOCK = 0x6D61746C6F6F70  # "matloop"


class SchemaError(DatabaseUnavailable):
    """The database's schema is not one this matloop can use: written by a newer matloop,
    of an unknown version, or an upgrade that failed (and changed nothing)."""


def ensure_schema(engine: Engine, shown: str, create: bool) -> str | None:
    """Bring the database to the head revision; what was done (for the log), or None
    when it was there already. ``shown`` is the URL as messages show it; without
    ``create`` a database without matloop's tables is refused, not created."""
    with engine.connect() as connection:
        try:
            found: str | None = revision(connection, shown)
        except SchemaError:
            # read half before and half after another process's upgrade committed (the
            # table list, then meta): look again under the lock, where it is settled
            found = UNSETTLED
    if found == HEAD:
        return None
    if found != UNSETTLED:
        _check_creatable(found, shown, create)
    with engine.begin() as connection:
        _lock(connection)
        found = revision(connection, shown)  # again: another process may have done it
        if found == HEAD:
            return None
        _check_creatable(found, shown, create)
        try:
            done = _migrate(connection, found)
        except DBAPIError as exc:
            reason = " ".join(str(exc.orig).split())
            what = "create the tables of" if found is None else "upgrade"
            raise SchemaError(f"cannot {what} database {shown} (nothing was changed): "
                              f"{reason}") from None
    log.info("%s: %s", shown, done)
    return done


def revision(connection: Connection, shown: str) -> str | None:
    """The database's revision: an Alembic revision, ``LEGACY`` for a database from
    before Alembic, or None when it has no matloop tables."""
    names = set(inspect(connection).get_table_names())
    if "alembic_version" in names:
        found = connection.execute(text("SELECT version_num FROM alembic_version")
                                   ).scalars().all()
        if len(found) != 1:
            raise SchemaError(f"{shown} has {len(found)} schema revisions "
                              f"({', '.join(found) or 'none'}) instead of one; it was not "
                              "made by matloop, or was changed by hand")
        return str(found[0])
    if "meta" not in names:
        return None
    version = connection.execute(select(col(Meta.value)).where(col(Meta.key) == "schema_version")
                                 ).scalar_one_or_none()
    if version == "1":
        return LEGACY
    raise SchemaError(f"{shown} has schema version {version!r} but no schema revision; it "
                      "was not made by matloop, or by a newer one (upgrade matloop)")


def _check_creatable(found: str | None, shown: str, create: bool) -> None:
    if found is None and not create:
        raise StoreError(f"{shown}: not a matloop database")
    _check_known(found, shown)


def _check_known(found: str | None, shown: str) -> None:
    if found not in (None, LEGACY, *REVISIONS):
        raise SchemaError(f"{shown} was written by a newer matloop (revision {found}; "
                          f"this one knows revisions up to {HEAD}); upgrade matloop")


def _lock(connection: Connection) -> None:
    """Take the database's schema lock until the transaction ends."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def _migrate(connection: Connection, found: str | None) -> str:
    """Create (``found`` None) or upgrade the schema in the caller's transaction."""
    from alembic import command

    config = alembic_config(connection)
    if found is None:
        SQLModel.metadata.create_all(connection)
        command.stamp(config, HEAD)
        done = f"created at schema revision {HEAD}"
    else:
        if found == LEGACY:
            command.stamp(config, BASELINE)
        command.upgrade(config, HEAD)
        done = f"upgraded from schema {found} to revision {HEAD}"
    _write_schema_version(connection)
    return done


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for matloop's migrations, to run on ``connection`` (which
    ``migrations/env.py`` takes from ``config.attributes``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _write_schema_version(connection: Connection) -> None:
    """``meta.schema_version`` = the head revision's number."""
    value = str(SCHEMA_VERSION)
    changed = connection.execute(update(Meta).where(col(Meta.key) == "schema_version")
                                 .values(value=value))
    if changed.rowcount == 0:
        connection.execute(insert(Meta).values(key="schema_version", value=value))
