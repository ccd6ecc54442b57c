"""Databases as older matloops left them: ``v1_database`` is a version-1 database (the
schema before Alembic, with realistic rows), on SQLite and on PostgreSQL.

The files in ``data/`` were captured from matloop before Alembic: its schema
(``sqlite3 file.db .schema``; for PostgreSQL the statements its ``create_all`` issued),
rows it wrote through the public ``Store`` API (two campaigns: a run killed mid-cycle with
its lock left behind, and a lab campaign with an imported batch, a replicate and a
candidate from outside the pool), and what that code's read API returned for them
(``expected_v1.json``). Its tuples and table rows are written as the read models that
replaced them (``matloop.store.views``) give them — the same values under names: rows of
``finished`` and ``external_candidates`` as objects, a candidate's ``id`` as
``candidate_id``, a cycle's JSON columns parsed, and no ``campaign_id`` or cycle ``id``;
fields the read models gained since (an evaluation's ``proposed_at``, ``started_at`` and
``model``, and since revision 0004 its ``fidelity``, None for every row before it, as
for an awaiting row) hold what the same rows say."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
SERIAL = ("campaign", "candidate", "evaluation", "measurement", "cycle")  # tables with ids


def statements(path: Path) -> list[str]:
    """The SQL statements of ``path`` (one per ``;`` at a line end; ``--`` lines skipped)."""
    lines = [line for line in path.read_text().splitlines()
             if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";")]


def build_v1(url: str) -> None:
    """Make the empty database ``url`` a version-1 database with the captured rows."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    dialect = engine.dialect.name
    try:
        with engine.begin() as connection:
            if dialect == "postgresql":  # the captured times are UTC
                connection.exec_driver_sql("SET TIME ZONE 'UTC'")
            for statement in (statements(DATA / f"schema_v1.{dialect}.sql")
                              + statements(DATA / "rows_v1.sql")):
                connection.exec_driver_sql(statement.rstrip(";"))
            if dialect == "postgresql":  # the rows came with their ids: move the counters on
                for table in SERIAL:
                    connection.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))")
    finally:
        engine.dispose()


@pytest.fixture
def v1_database(new_database: Callable[..., str]) -> str:
    """The URL of a version-1 database made as matloop before Alembic made them."""
    url = new_database("v1")
    build_v1(url)
    return url


def plain(value: Any) -> Any:
    """``value`` as JSON data: times as UTC ISO strings (naive ones are UTC), sets sorted,
    read models (dataclasses) as dicts — so that SQLite's and PostgreSQL's answers
    compare, and compare with ``expected_v1.json``."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    return value


def snapshot(store: Any, name: str) -> dict[str, Any]:
    """Everything the read API says about campaign ``name``."""
    cid = store.campaign_id(name)
    props = ["toughness"]
    return plain({
        "campaign_id": cid, "config": store.config(cid), "stop_reason": store.stop_reason(cid),
        "counts": store.counts(cid), "evaluations": store.evaluations(cid),
        "tried_pool_indices": store.tried_pool_indices(cid),
        "training_data": store.training_data(cid, props),
        "observations": store.observations(cid, props), "finished": store.finished(cid),
        "next_cycle": store.next_cycle(cid),
        "latest_hyperparameters": store.latest_hyperparameters(cid),
        "cycles": store.cycles(cid), "awaiting": store.awaiting(cid),
        "candidates": store.candidates(cid),
        "external_candidates": store.external_candidates(cid),
        "imported_files": store.imported_files(cid),
        "replicates": store.replicates(cid, props)})


@pytest.fixture
def make_v1() -> Callable[[str], None]:
    """``make_v1(url)``: make an empty database a version-1 one (see ``build_v1``)."""
    return build_v1


@pytest.fixture
def read_all() -> Callable[[Any, str], dict[str, Any]]:
    """``read_all(store, name)``: everything the read API says about a campaign."""
    return snapshot


@pytest.fixture
def expected_v1() -> dict[str, Any]:
    """What matloop before Alembic read from the version-1 rows, by campaign name."""
    import json

    expected = json.loads((DATA / "expected_v1.json").read_text())
    for campaign in expected.values():
        for evaluation in campaign["evaluations"]:
            evaluation["fidelity"] = None  # revision 0004: the campaign's own oracle
        for row in campaign["awaiting"]:
            row["fidelity"] = None  # and its awaiting rows, by the read model since
    return expected
