"""Results imported once are refused the second time, by what they hold: the same rows
re-saved with other line endings, as .xlsx, in another order, with other columns or
blank rows, or given as a DataFrame; and of imports of one file at the same moment (real
``matloop import`` processes, on SQLite and PostgreSQL) one stores it, the others are
refused. A different file that measures a candidate again is a replicate."""

from __future__ import annotations

import csv
import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matloop.campaigns import load
from matloop.cli.main import app
from matloop.errors import DataError
from matloop.lab.cells import number
from matloop.loop.session import Session

from .conftest import INPUTS, RESULT, fill, read_rows, write_rows
from .conftest import dump as dump_database

runner = CliRunner()
PREDICTED = ("cycle", "predicted_conductivity_S_per_cm [S/cm]",
             "std_conductivity_S_per_cm [S/cm]", "success_probability")


@pytest.fixture
def imported(lab_campaign, tmp_path: Path
             ) -> tuple[Path, Path, list[str], list[dict[str, str]]]:
    """A campaign whose first batch (6 candidates) was measured (all ok) and imported
    from ``results.csv``: the campaign, that file, its header and rows."""
    campaign = lab_campaign()
    (batch,) = Session(load(campaign)).propose_file().paths
    header, rows = read_rows(batch)
    fill(rows)
    results = write_csv(tmp_path / "results.csv", header, rows, "\n")
    done = runner.invoke(app, ["import", str(campaign), str(results)])
    assert done.exit_code == 0, done.output
    assert "imported 6 results (6 filled; 0 failed)" in done.output
    return campaign, results, header, rows


def dump(campaign: Path) -> list[tuple]:
    return dump_database(load(campaign).database_url)


def message(path: Path | str) -> str:
    return (f"{path}: these results were imported before (same contents); nothing was "
            "imported")


def import_refused(campaign: Path, path: Path) -> None:
    """``matloop import`` of ``path``: refused in one line (exit 2), nothing changed."""
    before = dump(campaign)
    done = runner.invoke(app, ["import", str(campaign), str(path)])
    assert done.exit_code == 2, done.output
    assert done.output.splitlines() == [f"error: {message(path)}"]
    assert dump(campaign) == before


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]], ending: str,
              bom: str = "") -> Path:
    """The rows as CSV with line ``ending`` (``"\\r\\n"`` as Excel on Windows saves, and a
    byte order mark ``bom``)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(bom)
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator=ending)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    """The rows as a workbook: numbers as numbers (``1`` for ``1.0``, as Excel keeps
    them), text as text."""
    from openpyxl import Workbook

    def cell(text: str) -> float | int | str:
        value = number(text) if text else None
        if value is None:
            return text
        return int(value) if value == int(value) else value

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append([cell(row[h]) for h in header])
    book.save(path)
    return path


def test_the_same_file_resaved_with_crlf_line_endings_is_refused(imported, tmp_path) -> None:
    campaign, results, header, rows = imported
    crlf = write_csv(tmp_path / "results-windows.csv", header, rows, "\r\n", "\ufeff")
    assert b"\r\n" in crlf.read_bytes() and b"\r\n" not in results.read_bytes()
    import_refused(campaign, crlf)


def test_the_same_rows_saved_as_xlsx_are_refused(imported, tmp_path) -> None:
    campaign, _, header, rows = imported
    import_refused(campaign, write_xlsx(tmp_path / "results.xlsx", header, rows))


def test_the_same_results_in_another_order_and_layout_are_refused(imported,
                                                                   tmp_path) -> None:
    """Rows shuffled, rows not measured yet and empty lines added, the prediction columns
    dropped, the columns reordered and the numbers written otherwise: the same results."""
    campaign, _, header, rows = imported
    shuffled = [dict(row) for row in rows]
    random.Random(3).shuffle(shuffled)
    for row in shuffled:
        row[RESULT] = f"{float(row[RESULT]):.10e}"  # 11 digits: the same values
    pending = {**dict.fromkeys(header, ""), **dict(zip(INPUTS, ("15", "0", "0", "85", "0"),
                                                       strict=True))}
    columns = ["note", "status", RESULT, *INPUTS, "candidate_id"]
    lines = [",".join(columns)] + [",".join(row[c] for c in columns)
                                   for row in [*shuffled[:3], pending, *shuffled[3:]]]
    other = tmp_path / "results-sorted.csv"
    other.write_text("\n".join([*lines[:3], ",,,,,,,,", *lines[3:]]) + "\n\n")
    assert not set(PREDICTED) & set(columns)
    import_refused(campaign, other)


def test_the_same_results_as_a_dataframe_are_refused(imported) -> None:
    import pandas as pd

    campaign, _, header, rows = imported
    frame = pd.DataFrame([{h: row[h] for h in header} for row in rows])
    frame[RESULT] = frame[RESULT].astype(float)
    before = dump(campaign)
    with Session(load(campaign)) as session, pytest.raises(DataError) as refused:
        session.add_results(frame)
    assert str(refused.value) == message("<DataFrame>")
    assert dump(campaign) == before


def test_a_different_file_that_measures_a_candidate_again_is_a_replicate(imported,
                                                                          tmp_path) -> None:
    """Not the same results: one row of the batch, even with the very value it had, is a
    replicate; imported again, that file is refused."""
    campaign, _, header, rows = imported
    again = tmp_path / "again.csv"
    write_rows(again, header, [rows[2]])
    done = runner.invoke(app, ["import", str(campaign), str(again)])
    assert done.exit_code == 0, done.output
    assert "imported 1 results (1 replicate; 0 failed)" in done.output
    import_refused(campaign, again)
    other = tmp_path / "other.csv"
    write_rows(other, header, [{**rows[2], RESULT: repr(float(rows[2][RESULT]) * 1.1)}])
    done = runner.invoke(app, ["import", str(campaign), str(other)])
    assert "imported 1 results (1 replicate; 0 failed)" in done.output
    assert Session(load(campaign)).status()["evaluations"]["succeeded"] == 8


IMPORTER = """
import sys

import matloop.lab.sheets, matloop.loop.imports, matloop.spaces.build  # loaded before "go"
from matloop.cli.main import main

print("ready", flush=True)
sys.stdin.readline()  # go: every process imports at the same moment
sys.argv = ["matloop", "import", *sys.argv[1:]]
main()
"""


@pytest.mark.slow  # six processes per case, about 15 s each
@pytest.mark.parametrize("kind", ["batch", "replicates"])
def test_imports_of_one_file_at_the_same_moment_store_it_once(
        lab_campaign, tmp_path: Path, kind: str,
        start_together: Callable[..., list[subprocess.Popen[str]]]) -> None:
    """Six ``matloop import`` processes of one file at once — the batch's results
    (filling its awaiting evaluations), or a second measurement of every candidate after
    them (replicates, where nothing else stops a second copy): one imports it, five exit
    2 with the one line a second import gives, and the results are stored once."""
    campaign = lab_campaign()
    (batch,) = Session(load(campaign)).propose_file().paths
    header, rows = read_rows(batch)
    fill(rows)
    results = tmp_path / f"{kind}.csv"
    if kind == "replicates":
        write_rows(tmp_path / "first.csv", header, rows)
        done = runner.invoke(app, ["import", str(campaign), str(tmp_path / "first.csv")])
        assert done.exit_code == 0, done.output
        rows = [{**row, RESULT: repr(float(row[RESULT]) * 1.1)} for row in rows]
    write_rows(results, header, rows)
    runs = start_together(IMPORTER, [str(campaign), str(results)], 6)
    said = [run.communicate(timeout=300) for run in runs]
    codes = [run.returncode for run in runs]
    assert sorted(codes) == [0, 2, 2, 2, 2, 2], said
    out, _ = said[codes.index(0)]
    assert out.splitlines()[-1].startswith(
        f"imported 6 results (6 {'filled' if kind == 'batch' else 'replicate'}; 0 failed)")
    for (_, err), code in zip(said, codes, strict=True):
        if code == 2:
            assert err.splitlines() == [f"error: {message(results)}"], said
    status = Session(load(campaign)).status()["evaluations"]
    assert status["succeeded"] == (6 if kind == "batch" else 12), status
    assert status.get("awaiting", 0) == 0


def test_results_imported_before_the_upgrade_are_still_refused(imported, tmp_path) -> None:
    """A database imported into by matloop before schema revision 0003 (no
    ``imported_sheet``; the provenance holds the digest of the file's cells): opened, it
    is upgraded and its import recorded from the provenance, so the file re-saved is
    refused, and the store refuses that digest as it writes."""
    from alembic import command
    from sqlalchemy import create_engine, inspect, text

    from matloop.lab.importer import cells_digest
    from matloop.lab.sheets import read_sheet
    from matloop.store import Store
    from matloop.store.migrate import alembic_config

    campaign, results, header, rows = imported
    sheet = read_sheet(results)
    old = cells_digest(sheet.header, sheet.rows)
    url = load(campaign).database_url
    engine = create_engine(url)
    with engine.begin() as connection:  # the database as revision 0002 left it
        command.downgrade(alembic_config(connection), "0002")
        connection.execute(text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
        for evaluation_id, provenance in connection.execute(text(
                "SELECT id, provenance FROM evaluation WHERE provenance LIKE '%sha256%'")):
            record = json.loads(provenance)
            record["import"]["sha256"] = old
            connection.execute(text("UPDATE evaluation SET provenance = :p WHERE id = :i"),
                               {"p": json.dumps(record), "i": evaluation_id})
    with engine.connect() as connection:
        assert "imported_sheet" not in inspect(connection).get_table_names()
    engine.dispose()
    store = Store(url)  # upgraded
    campaign_id = store.campaign_id("lab-p3ht")
    assert store.imported_files(campaign_id) == {old}
    with pytest.raises(DataError, match="imported before"):
        store.import_results(campaign_id, [], old, str(results))
    store.close()
    import_refused(campaign, write_csv(tmp_path / "again.csv", header, rows, "\r\n"))


def test_the_digest_ignores_the_last_bits_of_a_value_but_not_its_digits() -> None:
    """15.56 parsed from one spelling and 15.559999999999999 from another (or after a unit
    conversion) are the same result; 738.6629 is not 738.6628862."""
    from matloop.lab.importer import content_digest
    from matloop.lab.results import Result

    def digest(*values: float) -> str:
        return content_digest([Result(k + 2, f"c{k}", f"c{k}", k, {"y": v}, False, "")
                               for k, v in enumerate(values)])

    assert digest(15.56, 738.6628862) == digest(15.559999999999999, 738.6628862)
    assert digest(15.56, 738.6628862) != digest(15.56, 738.6629)
    assert digest(15.56) != digest(15.56, 15.56)  # a replicate row counts
