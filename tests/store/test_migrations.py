"""Schema migrations (Alembic), on SQLite and PostgreSQL: a version-1 database (from
matloop before Alembic) is upgraded when opened — for writing or reading —, reads as it
did and refuses its imports again; a new database is made at the head; the revisions, the
tables and the schema before Alembic agree; a database from a newer matloop, or one of an
unknown version, is a clear error for every command; a failed upgrade changes nothing;
processes opening a database at once migrate it once; and Alembic is loaded only when a
database needs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from matloop.errors import CampaignLocked, DataError, StoreError
from matloop.protocols import Outcome
from matloop.store import DatabaseUnavailable, Proposal, SchemaError, Store
from matloop.store.migrate import HEAD, MIGRATIONS, REVISIONS, alembic_config
from matloop.store.tables import SCHEMA_VERSION


def query(url: str, sql: str) -> list[tuple]:
    """The rows of one SQL query on ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def execute(url: str, *sql: str) -> None:
    """Run statements on ``url`` in one transaction."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in sql:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def schema(url: str) -> dict[str, Any]:
    """Tables, columns (name, type, nullable), keys, unique constraints and indexes of
    ``url``'s database, comparable between two databases of the same kind."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"])
                        for c in found.get_columns(table)],
            "primary key": found.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted((tuple(k["constrained_columns"]), k["referred_table"],
                                    tuple(k["referred_columns"]))
                                   for k in found.get_foreign_keys(table)),
            "unique": sorted(tuple(u["column_names"])
                             for u in found.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in found.get_indexes(table)
                              if not i.get("duplicates_constraint"))}
            for table in sorted(found.get_table_names())}
    finally:
        engine.dispose()


def upgrade_with_alembic(url: str, target: str) -> None:
    """Run the revisions from nothing up to ``target`` (as Alembic alone would)."""
    from alembic import command

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), target)
    finally:
        engine.dispose()


def revision_of(url: str) -> list[tuple]:
    return query(url, "SELECT version_num FROM alembic_version")


def schema_version_of(url: str) -> list[tuple]:
    return query(url, "SELECT value FROM meta WHERE key = 'schema_version'")


@pytest.mark.parametrize("create", [True, False], ids=["write", "read"])
def test_a_version_1_database_is_upgraded_and_reads_as_before(
        v1_database: str, create: bool, read_all: Callable, expected_v1: dict) -> None:
    """Opened to write (``run``, ``import``) or to read (``status``, ``export``): the
    database is upgraded to the head, every row reads as matloop before Alembic read it,
    and the campaign goes on (new rows after the old ones, the old run's lock kept)."""
    assert query(v1_database, "SELECT count(*) FROM evaluation") == [(10,)]
    store = Store(v1_database, create=create)
    assert revision_of(v1_database) == [(HEAD,)]
    assert schema_version_of(v1_database) == [(str(SCHEMA_VERSION),)]
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("evaluation")}
    assert "ix_evaluation_campaign_id_status" in indexes
    assert "ix_evaluation_campaign_id" not in indexes
    for name in ("barrel", "lab"):
        assert read_all(store, name) == expected_v1[name], name
    # revision 0003 recorded the lab's import (four evaluations' provenance) once, as
    # imported when the first of them finished; a second import of it is refused
    digest = "9f2c" + "0" * 60
    assert query(v1_database, "SELECT id, campaign_id, sha256, path FROM imported_sheet") \
        == [(1, 2, digest, "results/batch0.csv")]
    assert query(v1_database, "SELECT count(*) FROM imported_sheet JOIN evaluation ON "
                              "evaluation.id = 6 AND imported_at = finished_at") == [(1,)]
    with pytest.raises(DataError, match=r"^results/batch0\.csv: these results were "
                                        "imported before"):
        store.import_results(2, [], digest, "results/batch0.csv")

    cid = store.campaign_id("barrel", expected_v1["barrel"]["config"], fixed=("space",))
    with pytest.raises(CampaignLocked, match="node-7"), store.lock(cid):
        pass  # the killed run's lock is still there (on another host: not taken over)
    (requeued,) = store.requeue_in_flight(cid)
    assert (requeued.key, requeued.attempt) == ("n=8|theta=0|r=2.5|t=2.1", 2)
    store.record(requeued.evaluation_id, Outcome.success({"toughness": 3.5}))
    (new,) = store.propose(cid, store.next_cycle(cid), [Proposal(7, "k7", "K7")])
    assert new.evaluation_id == 11  # after the old rows (PostgreSQL: its counters moved on)
    store.record(new.evaluation_id, Outcome.success({"toughness": 0.5}))
    assert store.counts(cid) == {"proposed": 0, "running": 0, "succeeded": 5, "failed": 1}
    assert store.training_data(cid, ["toughness"])[0] == [0, 7, 41, 120]
    store.engine.dispose()


def test_new_and_upgraded_databases_have_the_same_schema(
        new_database: Callable[..., str], v1_database: str) -> None:
    """A new database (the tables as tables.py declares them), a version-1 database
    upgraded, and the revisions run from nothing: one schema. Fails when tables.py and
    the revisions disagree (a table changed without a revision, or the other way)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    new = new_database("new")
    Store(new).engine.dispose()
    Store(v1_database).engine.dispose()
    from_nothing = new_database("from-nothing")
    upgrade_with_alembic(from_nothing, "head")
    assert schema(v1_database) == schema(new)
    assert schema(from_nothing) == schema(new)
    engine = create_engine(v1_database)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection),
                                       SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_the_baseline_revision_is_the_schema_before_alembic(
        new_database: Callable[..., str], v1_database: str) -> None:
    """Revision 0001 run on an empty database makes exactly the schema of matloop before
    Alembic (the captured schema_v1.*.sql); on SQLite, even the same CREATE statements."""
    baseline = new_database("baseline")
    upgrade_with_alembic(baseline, "0001")
    assert revision_of(baseline) == [("0001",)]
    made = schema(baseline)
    del made["alembic_version"]
    assert made == schema(v1_database)
    if v1_database.startswith("sqlite"):
        ddl = ("SELECT type, name, sql FROM sqlite_master WHERE name != 'alembic_version' "
               "AND name NOT LIKE 'sqlite_autoindex_alembic%' ORDER BY type, name")
        assert query(baseline, ddl) == query(v1_database, ddl)


def test_the_revisions_are_the_ones_matloop_knows() -> None:
    """``REVISIONS`` (read without Alembic on every opening) lists the revision files in
    order, one line of history, and ``SCHEMA_VERSION`` is the head's number."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    history = [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]
    assert tuple(history) == REVISIONS
    assert script.get_heads() == [HEAD]
    assert int(HEAD) == SCHEMA_VERSION


def test_a_new_database_is_made_at_the_head(database_url: str) -> None:
    store = Store(database_url)
    assert revision_of(database_url) == [(HEAD,)]
    assert schema_version_of(database_url) == [(str(SCHEMA_VERSION),)]
    cid = store.campaign_id("c", {"space": 1})
    (item,) = store.propose(cid, 0, [Proposal(0, "a", "A")])
    assert store.record(item.evaluation_id, Outcome.success({"p": 1.0}))
    store.engine.dispose()
    again = Store(database_url, create=False)  # at the head: nothing to do
    assert again.counts(again.campaign_id("c"))["succeeded"] == 1
    assert revision_of(database_url) == [(HEAD,)]


@pytest.mark.parametrize("create", [True, False], ids=["write", "read"])
def test_a_database_from_a_newer_matloop_is_refused(database_url: str, create: bool) -> None:
    Store(database_url).engine.dispose()
    execute(database_url, "UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(SchemaError) as raised:
        Store(database_url, create=create)
    message = str(raised.value)
    assert "was written by a newer matloop (revision 0099" in message, message
    assert message.endswith("; upgrade matloop")
    assert isinstance(raised.value, DatabaseUnavailable)  # not "no campaign yet"
    assert revision_of(database_url) == [("0099",)]  # untouched


def test_an_unknown_schema_version_is_refused(database_url: str) -> None:
    """A database with a meta table but neither version 1 nor an Alembic revision."""
    execute(database_url, "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
            "INSERT INTO meta (key, value) VALUES ('schema_version', '7')")
    for create in (True, False):
        with pytest.raises(SchemaError, match="has schema version '7' but no schema "
                                              "revision"):
            Store(database_url, create=create)
    assert list(schema(database_url)) == ["meta"]  # nothing made


def test_a_failed_upgrade_changes_nothing(v1_database: str) -> None:
    """The upgrade is one transaction: when its last step fails, the stamp and the steps
    before are undone, and the next opening upgrades from version 1 again."""
    execute(v1_database,  # takes the name revision 0002 creates
            "CREATE INDEX ix_evaluation_campaign_id_status ON evaluation (cycle)")
    before = schema(v1_database)
    with pytest.raises(SchemaError, match=r"cannot upgrade database .* \(nothing was "
                                          r"changed\): .*ix_evaluation_campaign_id_status"):
        Store(v1_database)
    assert schema(v1_database) == before  # no alembic_version, the old indexes
    assert schema_version_of(v1_database) == [("1",)]
    execute(v1_database, "DROP INDEX ix_evaluation_campaign_id_status")
    Store(v1_database, create=False).engine.dispose()
    assert revision_of(v1_database) == [(HEAD,)]


def test_every_command_checks_the_version(crossed_barrel, tmp_path: Path) -> None:
    """status, export, report, predict, import and run all open the database through
    ``Store``: on a database from a newer matloop each fails in one clear line."""
    from typer.testing import CliRunner

    from matloop.cli.main import app

    url = f"sqlite:///{tmp_path / 'newer.db'}"
    Store(url).engine.dispose()
    execute(url, "UPDATE alembic_version SET version_num = '0099'")
    path = crossed_barrel(budget=4, initial=4, database=url)
    results = tmp_path / "results.csv"
    results.write_text("n,theta,r,t,toughness [J],status,note\n6.0,0.0,1.5,0.7,1.1,ok,\n")
    commands = [["status", str(path)], ["export", str(path), "--out", str(tmp_path / "x.csv")],
                ["report", str(path), "--quiet"], ["predict", str(path)],
                ["import", str(path), str(results)], ["run", str(path)]]
    for command in commands:
        done = CliRunner().invoke(app, command)
        assert done.exit_code == StoreError.exit_code, (command, done.output)
        assert done.output.startswith("error: "), (command, done.output)
        assert "written by a newer matloop (revision 0099" in done.output, done.output
        assert "Traceback" not in done.output
    assert revision_of(url) == [("0099",)]


OPENER = """
import logging, sys

from matloop.store import Store

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
print("ready", flush=True)
sys.stdin.readline()  # go: every process opens the database at the same moment
store = Store(sys.argv[1])
print(sorted(store.counts(store.campaign_id("barrel")).items())
      if sys.argv[2] == "v1" else "opened", flush=True)
"""


@pytest.mark.parametrize("kind", ["new", "v1"])
def test_processes_opening_a_database_at_once_migrate_it_once(
        new_database: Callable[..., str], make_v1: Callable[[str], None], kind: str,
        start_together: Callable[..., list[subprocess.Popen[str]]]) -> None:
    """Three processes open a new (or a version-1) database at the same moment: one
    creates (upgrades) it, the others wait for it and find it done; none fails."""
    url = new_database("race")
    if kind == "v1":
        make_v1(url)
    runs = start_together(OPENER, [url, kind], 3)
    said = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], said
    migrated = [line for _, err in said for line in err.splitlines()
                if line.startswith("matloop.store.migrate: ")]
    done = "created at schema revision" if kind == "new" else "upgraded from schema"
    assert len(migrated) == 1 and done in migrated[0], said
    expected = "opened" if kind == "new" else str(sorted(
        {"proposed": 0, "running": 1, "succeeded": 3, "failed": 1}.items()))
    assert [out.strip() for out, _ in said] == [expected] * 3
    assert revision_of(url) == [(HEAD,)]


LIGHT = """
import sys

import matloop, matloop.cli.main, matloop.store
from matloop.store import Store

assert "alembic" not in sys.modules, "imported with the package"
Store(sys.argv[1], create=False).engine.dispose()  # at the head: nothing to do
assert "alembic" not in sys.modules, "imported to open a database at the head"
Store(sys.argv[2]).engine.dispose()  # a new database: made with Alembic
assert "alembic" in sys.modules
"""


def test_alembic_is_loaded_only_to_make_or_upgrade_a_database(tmp_path: Path) -> None:
    current = f"sqlite:///{tmp_path / 'current.db'}"
    Store(current).engine.dispose()
    done = subprocess.run([sys.executable, "-c", LIGHT, current,
                           f"sqlite:///{tmp_path / 'new.db'}"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr



def test_a_schema_read_during_another_processs_upgrade_is_read_again_under_the_lock(
        v1_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the lock, the table list and ``meta`` are two reads: between them another
    process may commit its upgrade, and the two halves disagree. That is not an error: the
    revision is read again once the lock is held."""
    from matloop.store import migrate

    read = migrate.revision
    calls = []

    def torn_first(connection: Any, shown: str) -> str | None:
        calls.append(shown)
        if len(calls) == 1:
            raise SchemaError(f"{shown} has schema version '2' but no schema revision")
        return read(connection, shown)

    monkeypatch.setattr(migrate, "revision", torn_first)
    Store(v1_database, create=False)
    assert len(calls) == 2 and revision_of(v1_database) == [(HEAD,)]
