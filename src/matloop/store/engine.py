"""Database URLs and engines: showing a URL without its password, the file behind an
SQLite URL, and an engine with SQLite's pragmas (WAL, a busy timeout, foreign keys).

Every way a database cannot be opened at all becomes one ``DatabaseUnavailable`` with a
clear message: a malformed URL, a missing driver, an unknown kind of database.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import create_engine

from matloop.errors import StoreError


class DatabaseUnavailable(StoreError):
    """The database cannot be opened at all: a malformed URL, a missing driver, a server
    that does not answer, a database that does not exist or a refused login. (Readers
    that treat "no campaign yet" as empty must not treat this so.)"""


SECRET_PARAMETERS = re.compile(r"([?&](?:password|passwd|pass|sslpassword|secret|token)=)"
                               r"[^&]*", re.IGNORECASE)


def safe_url(url: str) -> str:
    """``url`` as it may be shown: the password of its user part (everything between
    the first ``:`` and the last ``@`` of the authority, so a stray ``@`` hides nothing)
    and any password-like query parameter replaced by ``***``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        user, _, host = authority.rpartition("@")
        name, colon, _ = user.partition(":")
        authority = f"{name}{colon and ':***'}@{host}"
    return SECRET_PARAMETERS.sub(r"\1***", f"{scheme}://{authority}{slash}{tail}")


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for other databases and ``:memory:``."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if path in ("", ":memory:") else Path(path)


def unavailable(shown: str, exc: DBAPIError) -> DatabaseUnavailable:
    """The error for a database that refused us (``exc``): server down, no such database,
    refused login; ``shown`` is the URL without its password."""
    reason = " ".join(str(exc.orig).split())  # libpq's messages span lines
    return DatabaseUnavailable(f"cannot open database {shown}: {reason}")


def make_engine(url: str, shown: str) -> Engine:
    """An engine for ``url``; ``DatabaseUnavailable`` for a malformed URL or a missing
    driver (``shown`` is the URL as messages show it)."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            connect_args: dict[str, Any] = {}
            if parsed.get_driver_name() in ("psycopg", "psycopg2") and \
                    "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = 10  # an unreachable host fails in 10 s
            return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        engine = create_engine(url, connect_args={"timeout": 30,
                                                  "check_same_thread": False})
    except ImportError as exc:
        hint = ""
        if exc.name == "psycopg2":
            hint = "; use postgresql+psycopg://... (psycopg 3: pip install 'matloop[postgres]')"
        elif exc.name == "psycopg":
            hint = " (pip install 'matloop[postgres]')"
        raise DatabaseUnavailable(f"cannot open database {shown}: its driver {exc.name!r} "
                                  f"is not installed{hint}") from None
    except NoSuchModuleError:
        hint = "; for PostgreSQL use postgresql+psycopg://" if "postgres" in url else ""
        raise DatabaseUnavailable(f"{shown}: unknown kind of database "
                                  f"{url.split(':')[0]!r}{hint}") from None
    except ArgumentError:
        raise DatabaseUnavailable(f"{shown} is not a database URL (e.g. "
                                  "sqlite:///path/to/file.db or "
                                  "postgresql+psycopg://user@host/db)") from None
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL (readers do not block the writer), NORMAL sync, and foreign keys enforced."""
    cursor = connection.cursor()
    # switching a new file to WAL needs it alone, and SQLite answers "locked" at once
    # (no busy timeout) when another process opens it at the same moment: retry
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
