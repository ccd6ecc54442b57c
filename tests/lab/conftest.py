"""A lab campaign on the P3HT / nanotube films, and a lab played by the measured table."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
P3HT_CSV = ROOT / "examples" / "data" / "liang_p3ht_cnt.csv"
INPUTS = ("p3ht_pct", "d1_pct", "d2_pct", "d6_pct", "d8_pct")
PROPERTY = "conductivity_S_per_cm"
RESULT = f"{PROPERTY} [S/cm]"


@pytest.fixture
def lab_campaign(tmp_path: Path, database_url: str) -> Callable[..., Path]:
    """Write ``examples/lab-p3ht.toml`` (with its data) into ``tmp_path``, its database
    ``database_url`` (so every test that uses it runs on SQLite and on PostgreSQL);
    ``replace`` edits its text (``{old: new}``)."""

    def write(replace: dict[str, str] | None = None) -> Path:
        (tmp_path / "data").mkdir(exist_ok=True)
        shutil.copy(P3HT_CSV, tmp_path / "data" / "liang_p3ht_cnt.csv")
        text = (ROOT / "examples" / "lab-p3ht.toml").read_text()
        text = text.replace('name = "lab-p3ht"\n',
                            f'name = "lab-p3ht"\ndatabase = {json.dumps(database_url)}\n', 1)
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / "lab-p3ht.toml"
        path.write_text(text)
        return path

    return write


def known_answers() -> dict[tuple[float, ...], float]:
    """The table's conductivity (S/cm) by the five inputs."""
    with P3HT_CSV.open() as handle:
        return {tuple(float(row[n]) for n in INPUTS): float(row[PROPERTY])
                for row in csv.DictReader(handle)}


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def fill(rows: list[dict[str, str]]) -> None:
    """Play the lab: every row measured ok with the table's value."""
    answers = known_answers()
    for row in rows:
        row[RESULT] = repr(answers[tuple(float(row[n]) for n in INPUTS)])
        row["status"] = "ok"


def dump(url: str) -> list[tuple]:
    """The database's whole content: each table's name and rows (by primary key); empty
    when there is no database or no table yet. The same on SQLite and PostgreSQL."""
    from sqlalchemy import create_engine, inspect, select
    from sqlmodel import SQLModel

    import matloop.store.tables  # noqa: F401  (registers the tables)
    from matloop.store import sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.exists():
        return []
    engine = create_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        content: list[tuple] = [("tables", *sorted(names))]
        with engine.connect() as connection:
            for table in SQLModel.metadata.sorted_tables:
                if table.name in names:
                    rows = connection.execute(select(table).order_by(*table.primary_key))
                    content.append((table.name, *map(tuple, rows)))
        return content if names else []
    finally:
        engine.dispose()
