"""Every kind of bad results file is refused with a clear message and no change at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from matloop.campaigns import load
from matloop.cli.main import app
from matloop.loop.session import Session

from .conftest import INPUTS, RESULT, fill, read_rows, write_rows
from .conftest import dump as dump_database

runner = CliRunner()


@pytest.fixture
def awaiting(lab_campaign) -> tuple[Path, Path, list[str], list[dict[str, str]]]:
    """A campaign whose first batch (6 candidates) awaits results, the batch file, and
    its rows filled in by the lab (all ok)."""
    campaign = lab_campaign()
    (batch,) = Session(load(campaign)).propose_file().paths
    header, rows = read_rows(batch)
    fill(rows)
    return campaign, batch, header, rows


def dump(campaign: Path) -> list[tuple]:
    """Every row of every table (the database's whole content, SQLite or PostgreSQL)."""
    return dump_database(load(campaign).database_url)


def refused(campaign: Path, results: Path, *options: str) -> list[str]:
    """Import ``results``; assert it failed in lines without a traceback and changed
    nothing; the error lines."""
    before = dump(campaign)
    done = runner.invoke(app, ["import", str(campaign), str(results), *options])
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output
    assert isinstance(done.exception, SystemExit)  # a clean exit, not a crash
    assert dump(campaign) == before
    return done.output.strip().splitlines()


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    write_rows(path, header, rows)
    return path


def test_every_problem_is_listed_with_row_column_value_and_why(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    rows[0]["candidate_id"] = "999"               # unknown id
    rows[1][RESULT] = "12,5 S/cm"                 # not a number
    rows[2][RESULT] = "nan"                       # NaN in an ok row
    rows[3][RESULT] = ""                          # ok without a value
    rows[4]["status"] = "done"                    # unknown status
    lines = refused(campaign, write(tmp_path / "bad.csv", header, rows))
    assert lines[0] == f"error: {tmp_path / 'bad.csv'}: 5 problems; nothing was imported:"
    assert lines[1:] == [
        "  row 2, column 'candidate_id': '999': unknown candidate id (not a candidate of "
        "this campaign)",
        f"  row 3, column '{RESULT}': '12,5 S/cm': is not a number",
        f"  row 4, column '{RESULT}': 'nan': is not a finite number (a failed sample is "
        "status 'failed')",
        f"  row 5, column '{RESULT}': '': the row is ok but has no values",
        "  row 6, column 'status': 'done': status must be 'ok', 'failed' or empty (not "
        "measured yet)",
    ]


def test_one_bad_row_rejects_the_whole_file(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    rows[5][RESULT] = "abc"
    lines = refused(campaign, write(tmp_path / "one-bad.csv", header, rows))
    assert "1 problem; nothing was imported" in lines[0]
    assert lines[1] == f"  row 7, column '{RESULT}': 'abc': is not a number"


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity"])
def test_non_finite_values_are_refused(awaiting, tmp_path, value: str) -> None:
    campaign, _, header, rows = awaiting
    rows[0][RESULT] = value
    lines = refused(campaign, write(tmp_path / "nan.csv", header, rows))
    assert f"row 2, column '{RESULT}': '{value}': is not a finite number" in lines[1]


def test_an_ok_row_without_values_is_refused(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    rows[2][RESULT] = ""
    rows[2]["status"] = "ok"
    lines = refused(campaign, write(tmp_path / "empty.csv", header, rows))
    assert lines[1] == f"  row 4, column '{RESULT}': '': the row is ok but has no values"


def test_a_unit_other_than_the_targets_is_refused(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    header = [h.replace("[S/cm]", "[S/m]") if h == RESULT else h for h in header]
    rows = [{(k.replace("[S/cm]", "[S/m]") if k == RESULT else k): v for k, v in r.items()}
            for r in rows]
    lines = refused(campaign, write(tmp_path / "unit.csv", header, rows))
    assert lines[1] == ("  row 1, column 'conductivity_S_per_cm [S/m]': the unit 'S/m' is "
                        "not the campaign's unit 'S/cm' for conductivity_S_per_cm; convert "
                        f"the values and write '{RESULT}'")


def test_a_result_header_without_the_unit_is_refused(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    bare = RESULT.split(" [")[0]
    header = [bare if h == RESULT else h for h in header]
    rows = [{(bare if k == RESULT else k): v for k, v in r.items()} for r in rows]
    lines = refused(campaign, write(tmp_path / "bare.csv", header, rows))
    assert f"write the unit: '{RESULT}'" in lines[1]


def test_missing_required_columns_are_refused(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    no_result = [h for h in header if h != RESULT]
    lines = refused(campaign, write(tmp_path / "no-result.csv", no_result,
                                    [{k: r[k] for k in no_result} for r in rows]))
    assert lines[1] == f"  missing required column '{RESULT}'"
    anonymous = [h for h in header if h not in ("candidate_id", INPUTS[2])]
    lines = refused(campaign, write(tmp_path / "anonymous.csv", anonymous,
                                    [{k: r[k] for k in anonymous} for r in rows]))
    assert lines[1] == "  missing required column(s): 'candidate_id' or 'd2_pct'"


def test_duplicate_rows_that_contradict_each_other_are_refused(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    contradiction = {**rows[0], RESULT: "", "status": "failed", "note": "did not form"}
    lines = refused(campaign, write(tmp_path / "dup.csv", header, [*rows, contradiction]))
    assert lines[1].startswith("  row 8, column 'status': 'failed': contradicts row 2 for ")


def test_a_failed_row_with_a_value_is_refused(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    rows[0]["status"] = "failed"
    lines = refused(campaign, write(tmp_path / "failed.csv", header, rows))
    assert "row 2, column 'status': 'failed': a failed row must not have values" in lines[1]


def test_ids_and_descriptions_must_agree(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    rows[0]["candidate_id"] = rows[1]["candidate_id"]
    lines = refused(campaign, write(tmp_path / "swap.csv", header, rows))
    assert lines[1].startswith(f"  row 2, column 'candidate_id': '{rows[1]['candidate_id']}'"
                               ": candidate ")
    assert "but the row describes" in lines[1]


def test_a_candidate_outside_the_pool_needs_allow_new(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    inputs = ["12.3456", "0", "0", "0", "87.6544"]
    outside = {**dict.fromkeys(header, ""), **dict(zip(INPUTS, inputs, strict=True)),
               RESULT: "1.5", "status": "ok"}
    lines = refused(campaign, write(tmp_path / "new.csv", header, [*rows, outside]))
    assert lines[1] == ("  row 8: 'p3ht_pct=12.3456, d1_pct=0, d2_pct=0, d6_pct=0, "
                        "d8_pct=87.6544' is not a candidate of this campaign's pool (allow "
                        "new candidates to add measured ones from outside it)")
    assert lines[-1] == ("(import with --allow-new to add measured candidates from outside "
                         "the pool)")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("results.txt", "a,b\n1,2\n", "results files are .csv or .xlsx (got .txt)"),
    ("results.csv", "", "the file is empty"),
    ("results.csv", "\n\n", "the file is empty"),
    ("results.csv", "candidate_id,status\n", "the file has a header but no rows"),
    ("results.xlsx", "not a workbook", "not a readable .xlsx workbook"),
    ("missing.csv", None, "no such file"),
])
def test_files_that_are_not_results_are_refused(awaiting, tmp_path, name, content,
                                                message) -> None:
    campaign = awaiting[0]
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    lines = refused(campaign, path)
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")
    assert message in lines[0]


def test_binary_csv_is_refused(awaiting, tmp_path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    lines = refused(awaiting[0], path)
    assert "cannot read it as CSV text" in lines[0]


def test_importing_into_a_campaign_that_does_not_exist(awaiting, tmp_path) -> None:
    _, batch, _, _ = awaiting
    missing = tmp_path / "no-such-campaign.toml"
    done = runner.invoke(app, ["import", str(missing), str(batch)])
    assert done.exit_code == 2
    assert done.output.strip() == f"error: {missing}: no such campaign file"


def test_ids_from_another_database_are_unknown_and_nothing_is_created(awaiting,
                                                                      new_database) -> None:
    campaign, batch, header, rows = awaiting
    other = new_database("other")  # an SQLite file not made yet, or an empty database
    done = runner.invoke(app, ["import", str(campaign), str(write(batch, header, rows)),
                               "--db", other])
    assert done.exit_code == 2
    assert done.output.count("unknown candidate id") == 6
    assert dump_database(other) == []


def test_a_database_that_cannot_be_opened_is_named_and_nothing_is_checked(awaiting,
                                                                          tmp_path) -> None:
    """Not "unknown candidate id" six times: the import cannot read the campaign."""
    import socket

    campaign, batch, header, rows = awaiting
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://lab:s3cret@127.0.0.1:{port}/campaigns"
    before = dump(campaign)
    for dry_run in ([], ["--dry-run"]):
        done = runner.invoke(app, ["import", str(campaign), str(write(batch, header, rows)),
                                   "--db", url, *dry_run])
        assert done.exit_code == 4, done.output
        assert done.output.startswith("error: cannot open database postgresql+psycopg://"
                                      f"lab:***@127.0.0.1:{port}/campaigns: ")
        assert "s3cret" not in done.output and "Traceback" not in done.output
    assert dump(campaign) == before


def test_the_same_file_is_not_imported_twice(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    path = write(tmp_path / "round.csv", header, rows)
    done = runner.invoke(app, ["import", str(campaign), str(path)])
    assert done.exit_code == 0, done.output
    lines = refused(campaign, path)
    assert lines == [f"error: {path}: these results were imported before (same contents); "
                     "nothing was imported"]


def test_dry_run_shows_what_would_be_stored_and_writes_nothing(awaiting, tmp_path) -> None:
    campaign, _, header, rows = awaiting
    rows[1].update({RESULT: "", "status": "failed", "note": "cracked"})
    rows[5].update({RESULT: "", "status": ""})  # not measured yet: left awaiting
    path = write(tmp_path / "dry.csv", header, rows)
    before = dump(campaign)
    done = runner.invoke(app, ["import", str(campaign), str(path), "--dry-run"])
    assert done.exit_code == 0, done.output
    assert dump(campaign) == before
    lines = done.output.strip().splitlines()
    assert len(lines) == 6
    assert lines[1].startswith("row 3: ") and lines[1].endswith(
        ": failed (cracked) — fills its awaiting evaluation")
    assert lines[-1] == ("would import 5 results (5 filled; 1 failed); rows 7 left blank (not "
                         "measured yet); 1 evaluations still awaiting results. Dry run: "
                         "nothing was written.")


@pytest.mark.parametrize(("value", "why"), [
    ("3_25.42", "is not a number"), ("0x1A", "is not a number"), ("1,5", "is not a number"),
    ("1e200", "is beyond 1e+100 in size"), ("-1e101", "is beyond 1e+100 in size")])
def test_one_strict_number_rule(awaiting, tmp_path, value: str, why: str) -> None:
    campaign, _, header, rows = awaiting
    rows[0][RESULT] = value
    lines = refused(campaign, write(tmp_path / "strict.csv", header, rows))
    assert lines[1].startswith(f"  row 2, column '{RESULT}': '{value}': {why}")
