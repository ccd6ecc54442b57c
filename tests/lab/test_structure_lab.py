"""A lab (or an outside DFT group) measuring structures: batch files name each structure,
carry it as a CIF, and come back by candidate id or by the structure's name."""

from __future__ import annotations

import shutil
from pathlib import Path

from pymatgen.core import Structure
from typer.testing import CliRunner

from matloop.campaigns import load
from matloop.cli.main import app
from matloop.spaces.build import build_pool
from matloop.store import Store

from .conftest import read_rows, write_rows

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

CAMPAIGN = """
[campaign]
name = "hard-alloys"
seed = 0

[space]
kind = "substitution"
prototypes = ["prototypes/fcc.cif", "prototypes/L12.cif"]
substitutions = { Cu = ["Al", "Cu", "Ni"], Au = ["Al", "Cu", "Ni"] }

[[targets]]
property = "hardness"
unit = "GPa"
goal = "maximize"

[oracle]
kind = "lab"

[loop]
initial = 3
batch_size = 3
budget = 9
"""
RESULT = "hardness [GPa]"


def write_campaign(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "data" / "prototypes", tmp_path / "prototypes")
    path = tmp_path / "hard-alloys.toml"
    path.write_text(CAMPAIGN)
    return path


def invoke(*args: str, ok: bool = True) -> str:
    done = runner.invoke(app, list(args))
    assert (done.exit_code == 0) == ok, done.output
    return done.output


def test_structure_batches_round_trip_by_id_or_by_name(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path)
    invoke("propose", str(campaign))
    batch = tmp_path / "hard-alloys-batch-0.csv"
    header, rows = read_rows(batch)
    assert header[:4] == ["candidate_id", "candidate", "structure", "cycle"]
    loaded = load(campaign)
    pool = build_pool(loaded.space)
    keys = {pool.key(i): i for i in range(len(pool))}
    for row in rows:  # the CIF beside the batch is the pool's structure
        cif = Structure.from_file(tmp_path / "hard-alloys-batch-0-structures"
                                  / f"{row['candidate_id']}.cif")
        assert cif.matches(pool.structures[keys[row["structure"]]])
        assert row["structure"] in row["candidate"]

    rows[0].update({RESULT: "5.5", "status": "ok"})
    rows[1].update({"candidate_id": "", RESULT: "7.25", "status": "ok"})  # by name only
    rows[2].update({"status": "failed", "note": "cracked on polishing"})
    results = tmp_path / "results-0.csv"
    write_rows(results, header, rows)
    assert "imported 3 results (3 filled; 1 failed)" in invoke("import", str(campaign),
                                                                str(results))
    store = Store(loaded.database_url, create=False)
    measured = {e.key: (e.status, e.values) for e in
                store.evaluations(store.campaign_id("hard-alloys"))}
    assert measured == {rows[0]["structure"]: ("succeeded", {"hardness": 5.5}),
                        rows[1]["structure"]: ("succeeded", {"hardness": 7.25}),
                        rows[2]["structure"]: ("failed", {})}

    invoke("propose", str(campaign))  # a model cycle: predictions for each structure
    _, model_rows = read_rows(tmp_path / "hard-alloys-batch-1.csv")
    assert len(model_rows) == 3
    assert all(float(r["predicted_hardness [GPa]"]) > 0 for r in model_rows)
    assert {r["structure"] for r in model_rows}.isdisjoint(measured)


def test_an_unknown_structure_name_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path)
    invoke("propose", str(campaign))
    header, rows = read_rows(tmp_path / "hard-alloys-batch-0.csv")
    rows[0].update({"candidate_id": "", "structure": "L12:Cu=Zr,Au=Ni", RESULT: "6",
                    "status": "ok"})
    results = tmp_path / "results.csv"
    write_rows(results, header, rows[:1])
    output = invoke("import", str(campaign), str(results), "--allow-new", ok=False)
    assert "row 2" in output and "structure" in output and "L12:Cu=Zr,Au=Ni" in output
    assert "not a structure of this campaign's pool" in output
    loaded = load(campaign)
    store = Store(loaded.database_url, create=False)
    assert store.counts(store.campaign_id("hard-alloys"))["succeeded"] == 0
