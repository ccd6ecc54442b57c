"""Shared fixtures: small real campaigns — built in code (``Campaign.from_dict``) or written
as campaign files into a temporary folder —, the databases they run on (SQLite files,
and PostgreSQL databases on a private server), and processes started at the same moment
(``start_together``)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pandas as pd

    import matloop

ROOT = Path(__file__).resolve().parents[1]
CROSSED_BARREL_CSV = ROOT / "examples" / "data" / "liang_crossed_barrel.csv"
P3HT_CSV = ROOT / "examples" / "data" / "liang_p3ht_cnt.csv"

CampaignWriter = Callable[..., Path]
ConfigMaker = Callable[..., dict[str, Any]]
CampaignMaker = Callable[..., "matloop.Campaign"]


# --- campaigns built in code ------------------------------------------------------------
#
# Where the campaign file is not the point of a test, the test builds its campaign as a
# notebook does: the file's sections as a dict, given to ``matloop.Campaign.from_dict``
# (``make_campaign``), with the candidate table as a path or as a DataFrame (``pool=``).
# To reopen a campaign (resume), build it again from the same dict: the database carries
# the state. The dicts below are the campaigns of the file-writing fixtures further down
# (tests/loop/test_session.py checks that both give the same campaign).


@pytest.fixture
def make_campaign(tmp_path: Path) -> CampaignMaker:
    """``make_campaign(config, pool=None)``: ``matloop.Campaign.from_dict(config,
    pool=pool, base_dir=tmp_path)`` — relative paths, python oracle modules, the default
    database ``<name>.db`` and the scratch folder all in ``tmp_path``."""
    import matloop

    def make(config: dict[str, Any], pool: pd.DataFrame | None = None) -> matloop.Campaign:
        return matloop.Campaign.from_dict(config, pool=pool, base_dir=tmp_path)

    return make


def with_sections(config: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """A copy of ``config`` with ``sections`` merged in: a dict's keys update that section
    (added if it is new), anything else (``targets``' list) replaces it."""
    merged = copy.deepcopy(config)
    for name, value in sections.items():
        if isinstance(value, dict):
            merged[name] = {**merged.get(name, {}), **copy.deepcopy(value)}
        else:
            merged[name] = copy.deepcopy(value)
    return merged


def _campaign_section(name: str, seed: int, database: str | None) -> dict[str, Any]:
    section: dict[str, Any] = {"name": name, "seed": seed}
    if database is not None:
        section["database"] = database
    return section


@pytest.fixture
def crossed_barrel_config() -> ConfigMaker:
    """``crossed_barrel_config(**settings, **sections)``: the crossed-barrel (table oracle)
    campaign of ``crossed_barrel`` as a dict. Its table is the example CSV (``path``), or
    with ``pool=True`` no path: give ``crossed_barrel_pool`` as the pool. ``sections``
    (``surrogate={...}``, ``loop={...}``, ``targets=[...]``) are merged in
    (``with_sections``)."""

    def config(name: str = "cb", budget: int = 12, initial: int = 4, batch_size: int = 1,
               workers: int = 1, acquisition: str = "logei", seed: int = 0,
               database: str | None = None, pool: bool = False,
               **sections: Any) -> dict[str, Any]:
        space: dict[str, Any] = {"kind": "table", "inputs": ["n", "theta", "r", "t"]}
        if not pool:
            space["path"] = str(CROSSED_BARREL_CSV)
        return with_sections({
            "campaign": _campaign_section(name, seed, database),
            "space": space,
            "targets": [{"property": "toughness", "unit": "J", "goal": "maximize"}],
            "oracle": {"kind": "table"},
            "executor": {"workers": workers},
            "loop": {"initial": initial, "batch_size": batch_size, "budget": budget,
                     "acquisition": acquisition},
        }, **sections)

    return config


@pytest.fixture
def crossed_barrel_pool() -> pd.DataFrame:
    """The crossed barrel's 600 rows (inputs and toughness) as a DataFrame."""
    import pandas as pd

    return pd.read_csv(CROSSED_BARREL_CSV)


def _toy_module(delay: float) -> str:
    return textwrap.dedent(f"""
        import math
        import time

        def score(x, y):
            time.sleep({delay})
            if x > 0.8:
                raise RuntimeError("synthesis failed")
            if y > 0.9:
                return {{"score": float("nan")}}
            return {{"score": -((x - 0.6) ** 2) - (y - 0.3) ** 2}}
    """)


@pytest.fixture
def toy_config(tmp_path: Path) -> ConfigMaker:
    """``toy_config(delay=0.0, **settings, **sections)``: the campaign of
    ``python_campaign`` as a dict, its pool given as a DataFrame (``toy_pool``). Writes
    the oracle's module ``toy.py`` into ``tmp_path`` (see ``python_campaign``)."""

    def config(name: str = "toy", budget: int = 10, initial: int = 4, batch_size: int = 1,
               workers: int = 1, delay: float = 0.0, seed: int = 0,
               database: str | None = None, **sections: Any) -> dict[str, Any]:
        (tmp_path / "toy.py").write_text(_toy_module(delay))
        return with_sections({
            "campaign": _campaign_section(name, seed, database),
            "space": {"kind": "table", "inputs": ["x", "y"]},
            "targets": [{"property": "score", "goal": "maximize"}],
            "oracle": {"kind": "python", "function": "toy:score"},
            "executor": {"workers": workers},
            "loop": {"initial": initial, "batch_size": batch_size, "budget": budget},
        }, **sections)

    return config


@pytest.fixture
def toy_pool() -> pd.DataFrame:
    """The toy campaign's 2-D grid, x and y in 0, 0.1, ..., 1: 121 rows."""
    import pandas as pd

    return pd.DataFrame([(x / 10, y / 10) for x in range(11) for y in range(11)],
                        columns=["x", "y"])


@pytest.fixture
def lab_p3ht_config() -> ConfigMaker:
    """``lab_p3ht_config(database=None, **sections)``: examples/lab-p3ht.toml as a dict (a
    lab campaign over conductive P3HT / nanotube films), its pool given as a DataFrame
    (``p3ht_pool``)."""

    def config(database: str | None = None, **sections: Any) -> dict[str, Any]:
        return with_sections({
            "campaign": _campaign_section("lab-p3ht", 0, database),
            "space": {"kind": "table",
                      "inputs": ["p3ht_pct", "d1_pct", "d2_pct", "d6_pct", "d8_pct"]},
            "targets": [{"property": "conductivity_S_per_cm", "unit": "S/cm",
                         "goal": "maximize"}],
            "oracle": {"kind": "lab"},
            "loop": {"initial": 6, "batch_size": 4, "budget": 40},
        }, **sections)

    return config


@pytest.fixture
def p3ht_pool() -> pd.DataFrame:
    """The 178 films of examples/data/liang_p3ht_cnt.csv (inputs and conductivity)."""
    import pandas as pd

    return pd.read_csv(P3HT_CSV)


# --- campaign files -----------------------------------------------------------------------


def _database_line(database: str | None) -> str:
    """``database = "..."`` for a campaign file's [campaign] section (or nothing)."""
    return "" if database is None else f"database = {json.dumps(database)}"


@pytest.fixture
def crossed_barrel(tmp_path: Path) -> CampaignWriter:
    """Write a crossed-barrel (table oracle) campaign file; returns its path."""

    def write(name: str = "cb", budget: int = 12, initial: int = 4, batch_size: int = 1,
              workers: int = 1, acquisition: str = "logei", seed: int = 0,
              database: str | None = None) -> Path:
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        shutil.copy(CROSSED_BARREL_CSV, data / "barrel.csv")
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(f"""
            [campaign]
            name = "{name}"
            seed = {seed}
            {_database_line(database)}

            [space]
            kind = "table"
            path = "data/barrel.csv"
            inputs = ["n", "theta", "r", "t"]

            [[targets]]
            property = "toughness"
            unit = "J"
            goal = "maximize"

            [oracle]
            kind = "table"

            [executor]
            workers = {workers}

            [loop]
            initial = {initial}
            batch_size = {batch_size}
            budget = {budget}
            acquisition = "{acquisition}"
        """))
        return path

    return write


@pytest.fixture
def python_campaign(tmp_path: Path) -> CampaignWriter:
    """A campaign over a 2-D grid evaluated by a user function in ``toy.py`` beside it.

    The function fails (raises) where ``x > 0.8``, returns NaN where ``y > 0.9`` and sleeps
    ``delay`` seconds per call.
    """

    def write(name: str = "toy", budget: int = 10, initial: int = 4, batch_size: int = 1,
              workers: int = 1, delay: float = 0.0, seed: int = 0,
              database: str | None = None) -> Path:
        grid = "\n".join(f"{x / 10},{y / 10}" for x in range(11) for y in range(11))
        (tmp_path / "grid.csv").write_text("x,y\n" + grid + "\n")
        (tmp_path / "toy.py").write_text(_toy_module(delay))
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(f"""
            [campaign]
            name = "{name}"
            seed = {seed}
            {_database_line(database)}

            [space]
            kind = "table"
            path = "grid.csv"
            inputs = ["x", "y"]

            [[targets]]
            property = "score"
            goal = "maximize"

            [oracle]
            kind = "python"
            function = "toy:score"

            [executor]
            workers = {workers}

            [loop]
            initial = {initial}
            batch_size = {batch_size}
            budget = {budget}
        """))
        return path

    return write


EMT_FCC_METALS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")


@pytest.fixture
def fcc_cifs(tmp_path: Path) -> Callable[..., Path]:
    """Write a folder of CIFs: one-atom fcc cells of EMT metals (lattice constants 3 %
    above ASE's, so relaxations have work to do), L1_2 Cu3Au, and ``Cu_conventional``, a
    4-atom copy of ``Cu`` (a duplicate); returns the folder."""

    def write(elements: tuple[str, ...] = EMT_FCC_METALS, folder: str = "structures") -> Path:
        import numpy as np
        from ase.data import atomic_numbers, reference_states
        from pymatgen.core import Lattice, Structure

        out = tmp_path / folder
        out.mkdir(exist_ok=True)

        def a(element: str) -> float:
            return 1.03 * float(reference_states[atomic_numbers[element]]["a"])

        half = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
        for element in elements:
            primitive = Lattice(a(element) * np.array(half))
            Structure(primitive, [element], [[0, 0, 0]]).to(filename=str(out / f"{element}.cif"))
        Structure(Lattice.cubic(a("Cu")), ["Cu"] * 4, [[0, 0, 0], *half]).to(
            filename=str(out / "Cu_conventional.cif"))
        Structure(Lattice.cubic(3.80), ["Au", "Cu", "Cu", "Cu"], [[0, 0, 0], *half]).to(
            filename=str(out / "Cu3Au.cif"))
        return out

    return write


# --- processes that act at the same moment -------------------------------------------


def _start_together(script: str, arguments: list[str], n: int) -> list[subprocess.Popen[str]]:
    """``n`` processes running ``python -c script *arguments``, each of which prints
    "ready" and then waits for a line on stdin: started, and told "go" only when all are
    ready, so that they act at the same moment."""
    runs = [subprocess.Popen([sys.executable, "-c", script, *arguments],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(n)]
    try:
        for run in runs:
            assert run.stdout is not None and run.stdout.readline() == "ready\n"
        for run in runs:
            assert run.stdin is not None
            run.stdin.write("go\n")
            run.stdin.flush()
    except BaseException:
        for run in runs:
            run.kill()
            run.communicate()
        raise
    return runs


@pytest.fixture
def start_together() -> Callable[[str, list[str], int], list[subprocess.Popen[str]]]:
    """``start_together(script, arguments, n)``: see ``_start_together``."""
    return _start_together


def _damage_table(db: Path, table: str = "evaluation") -> None:
    """Overwrite the cell pointers of ``table``'s root page in the SQLite file ``db`` (a
    leaf page: the table fits one page), as a bad sector or a stray write would: the file
    header and the page's own header stay intact, so the file opens, other tables read
    fine, and reading the table finds its cells out of range ("database disk image is
    malformed"). The file is checkpointed first, so its pages are all in the file."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        (root,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                                     (table,)).fetchone()
    connection.close()
    with db.open("r+b") as file:
        file.seek((root - 1) * page_size)
        assert file.read(1) == b"\x0d", "not a leaf table page: the table spans pages"
        file.seek((root - 1) * page_size + 8)  # the cell pointers follow the 8-byte header
        file.write(b"\xa5" * 16)


@pytest.fixture
def damage_table() -> Callable[..., None]:
    """``damage_table(db, table="evaluation")``: damage an SQLite file's table (see
    ``_damage_table``)."""
    return _damage_table


# --- databases: SQLite and PostgreSQL --------------------------------------------------
#
# ``database_url`` runs a test twice: on an SQLite file and on a fresh PostgreSQL database
# (the ``postgres`` mark). The PostgreSQL databases live on one private server per test
# session: initdb into a temporary folder, listening on 127.0.0.1 only (on a free port,
# its unix socket in that folder), stopped and deleted at the end. As root (CI) the server
# runs as the ``postgres`` system user, since initdb refuses root. MATLOOP_TEST_POSTGRES_URL
# (a SQLAlchemy URL of a role that may CREATE DATABASE) uses an existing server instead.
# Without either the PostgreSQL variants are skipped — except in CI (``CI`` set, or
# MATLOOP_REQUIRE_POSTGRES=1), where they fail: CI must not pass without running them.

POSTGRES_MISSING = "PostgreSQL not installed: apt-get install postgresql"
POSTGRES_ENV = "MATLOOP_TEST_POSTGRES_URL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: the variant of a test that runs on PostgreSQL (a private "
        f"server the tests start, or {POSTGRES_ENV})")


def _postgres_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("MATLOOP_REQUIRE_POSTGRES") == "1"


def _no_postgres(reason: str) -> None:
    if _postgres_required():
        pytest.fail(f"{reason} (PostgreSQL is required here: CI or "
                    "MATLOOP_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(reason)


def _postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: from PATH, else Debian's newest."""
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found and (Path(found).resolve().parent / "pg_ctl").exists():
            return Path(found).resolve().parent

    def major(folder: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in folder.parent.name.split(".") if p.isdigit())

    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
              if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    return max(debian, key=major) if debian else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A server the tests may create databases on (as ``url``'s role)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.url = make_url(url)

    def _admin(self) -> Any:  # a psycopg connection (psycopg is imported lazily)
        import psycopg

        u = self.url
        params = {"host": u.host, "port": u.port, "user": u.username,
                  "password": u.password, "dbname": u.database or "postgres",
                  **{k: v for k, v in u.query.items() if isinstance(v, str)}}
        return psycopg.connect(**{k: v for k, v in params.items() if v is not None},
                               autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL (password included)."""
        from psycopg import sql

        name = f"matloop_test_{uuid.uuid4().hex[:12]}"
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database`` (ending its open connections)."""
        from psycopg import sql
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        assert name and name.startswith("matloop_test_"), name
        with self._admin() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def _as_postgres_user(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` system user when we are root (initdb and the
    server refuse to run as root), else as is."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    import shlex

    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]


def _start_private_server(folder: Path, binaries: Path) -> tuple[str, list[str]]:
    """initdb + pg_ctl start in ``folder``; the admin URL and the stop command."""
    data, log = folder / "data", folder / "server.log"
    done = subprocess.run(
        _as_postgres_user([str(binaries / "initdb"), "-D", str(data), "-U", "matloop",
                           "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]),
        cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"initdb failed:\n{done.stdout}{done.stderr}", pytrace=False)
    stop = _as_postgres_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                              "stop"])
    for _ in range(3):  # the free port may be taken between the probe and the start
        port = _free_port()
        # a throwaway server: no fsync; a non-UTC time zone, so that the tests catch
        # times that depend on the server's zone
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
                   f"-c unix_socket_directories='{folder}' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200 -c TimeZone=America/New_York")
        started = subprocess.run(
            _as_postgres_user([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log),
                               "-w", "-t", "60", "-o", options, "start"]),
            cwd=folder, capture_output=True, text=True)
        if started.returncode == 0:
            return f"postgresql+psycopg://matloop@127.0.0.1:{port}/postgres", stop
    server_log = log.read_text() if log.exists() else ""
    pytest.fail(f"pg_ctl start failed:\n{started.stdout}{started.stderr}\n{server_log}",
                pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (see the notes above)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _no_postgres("psycopg is not installed: pip install -e '.[postgres]'")
    if os.environ.get(POSTGRES_ENV):
        yield PostgresServer(os.environ[POSTGRES_ENV])
        return
    binaries = _postgres_bin()
    if binaries is None:
        _no_postgres(POSTGRES_MISSING)
    assert binaries is not None
    folder = Path(tempfile.mkdtemp(prefix="matloop-pg-"))
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            _no_postgres(f"running as root needs the postgres system user; {POSTGRES_MISSING}")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    stop: list[str] = []
    try:
        url, stop = _start_private_server(folder, binaries)
        yield PostgresServer(url)
    finally:
        if stop:
            subprocess.run(stop, cwd=folder, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """A maker of fresh, empty databases of one kind (the test runs once per kind):
    ``new_database(name)`` is the URL of ``tmp_path/<name>.db`` or of a new PostgreSQL
    database (dropped after the test)."""
    if request.param == "sqlite":
        yield lambda name="c": f"sqlite:///{tmp_path / name}.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    made: list[str] = []

    def make(name: str = "c") -> str:
        made.append(server.create_database())
        return made[-1]

    yield make
    for url in made:
        server.drop_database(url)


@pytest.fixture
def database_url(new_database: Callable[..., str]) -> str:
    """A fresh, empty database: an SQLite file, then (a second run of the test) a new
    PostgreSQL database."""
    return new_database()
