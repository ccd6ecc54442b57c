"""A lab campaign over categorical inputs (solvent, base) and a temperature: batches
name each option, results come back by option (from Python and from files), an unknown
option is refused whole, and outside candidates must use known options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import matloop
from matloop.campaigns import load
from matloop.cli.main import app
from matloop.store import Store

from .conftest import dump, read_rows, write_rows

runner = CliRunner()
SOLVENTS = ("water", "DMF", "DMSO", "ethanol")
BASES = ("K2CO3", "Et3N", "Cs2CO3")
RESULT = "yield [%]"


def reaction_yield(T: float, solvent: str, base: str) -> dict[str, float]:
    """A made-up yield (%): best in DMSO with Cs2CO3, warmer is better."""
    return {"yield": 10.0 * SOLVENTS.index(solvent) + 5.0 * BASES.index(base) + T / 10}


def pool() -> pd.DataFrame:
    """Every solvent x base x T in 20, 40, 60, except water with Et3N: 33 rows."""
    rows = [(T, s, b) for s in SOLVENTS for b in BASES for T in (20, 40, 60)
            if (s, b) != ("water", "Et3N")]
    return pd.DataFrame(rows, columns=["T", "solvent", "base"])


def config(database: str | None = None) -> dict[str, Any]:
    campaign = {"name": "coupling", "seed": 1, **({"database": database} if database else {})}
    return {"campaign": campaign,
            "space": {"kind": "table", "inputs": ["T"], "categorical": ["solvent", "base"]},
            "targets": [{"property": "yield", "unit": "%", "goal": "maximize"}],
            "oracle": {"kind": "lab"},
            "loop": {"initial": 4, "batch_size": 2, "budget": 12}}


def measure(batch: pd.DataFrame) -> pd.DataFrame:
    filled = batch.copy()
    filled[RESULT] = [reaction_yield(**row)["yield"]
                      for row in batch[["T", "solvent", "base"]].to_dict("records")]
    filled["status"] = "ok"
    return filled


def test_a_session_proposes_options_and_takes_results_by_option(tmp_path: Path) -> None:
    campaign = matloop.Campaign.from_dict(config(), pool=pool(), base_dir=tmp_path)
    with campaign.session(db=tmp_path / "coupling.db") as session:
        batch = session.propose(4)
        assert list(batch.columns[:5]) == ["candidate_id", "candidate", "T", "solvent",
                                           "base"]
        assert set(batch["solvent"]) <= set(SOLVENTS) and set(batch["base"]) <= set(BASES)
        assert batch["T"].dtype.kind == "f"
        first = batch.iloc[0]
        assert first["candidate"] == (f"T={first['T']:g}, solvent={first['solvent']}, "
                                      f"base={first['base']}")
        by_description = measure(batch).drop(columns=["candidate_id"])  # matched by options
        report = session.add_results(by_description)
        assert report.kinds["filled"] == 4
        assert session.status()["evaluations"]["succeeded"] == 4
        # the whole batch is in: no longer "awaiting lab results"
        assert session.status()["stop_reason"] == "lab results in: ready to propose the " \
            "next batch"

        second = session.propose()  # a model batch over the one-hot features
        assert len(second) == 2 and second["predicted_yield [%]"].notna().all()
        result = session.run(budget=10, oracle=reaction_yield)  # the oracle gets strings
        assert result.counts["succeeded"] == 10
        evaluations = session.evaluations()
        assert evaluations["candidate"].str.contains("solvent=").all()
        for _, row in evaluations.iterrows():  # one column per input, options as text
            assert f"solvent={row['solvent']}" in row["candidate"]
        best = evaluations.loc[evaluations["yield"].idxmax(), "candidate"]
        assert "solvent=" in best and "base=" in best
        assert session.rank(top=3)["candidate"].str.contains("base=").all()


def test_an_unknown_option_names_row_and_column_and_stores_nothing(tmp_path: Path) -> None:
    campaign = matloop.Campaign.from_dict(config(), pool=pool(), base_dir=tmp_path)
    with campaign.session(db=tmp_path / "coupling.db") as session:
        batch = measure(session.propose(4))
        batch.loc[2, "solvent"] = "toluene"
        for allow_new in (False, True):
            with pytest.raises(matloop.DataError) as raised:
                session.add_results(batch, allow_new=allow_new)
            (problem,) = raised.value.problems
            assert "row 4" in problem and "column 'solvent'" in problem
            assert "'toluene'" in problem and "'DMSO'" in problem  # the options are listed
        assert session.status()["evaluations"] == {"succeeded": 0, "failed": 0,
                                                   "pending": 0, "awaiting": 4}


def test_a_new_combination_of_known_options_joins_the_pool(tmp_path: Path) -> None:
    db = tmp_path / "coupling.db"
    campaign = matloop.Campaign.from_dict(config(), pool=pool(), base_dir=tmp_path)
    with campaign.session(db=db) as session:
        batch = measure(session.propose(4))
        new = {**batch.iloc[0].to_dict(), "candidate_id": None, "T": 50.0,
               "solvent": "water", "base": "Et3N", RESULT: 12.5}
        frame = pd.concat([batch, pd.DataFrame([new])], ignore_index=True)
        with pytest.raises(matloop.DataError, match="not a candidate of this campaign"):
            session.add_results(frame)
        report = session.add_results(frame, allow_new=True)
        assert report.kinds == {"filled": 4, "replicate": 0, "unsolicited": 0, "new": 1}
    store = Store(f"sqlite:///{db}", create=False)
    (outside,) = store.external_candidates(store.campaign_id("coupling"))
    assert outside.values == {"T": 50.0, "solvent": "water", "base": "Et3N"}
    assert outside.key == "T=50.0, solvent='water', base='Et3N'"
    with matloop.Campaign.from_dict(config(), pool=pool(), base_dir=tmp_path).session(
            db=db) as reopened:
        assert len(reopened.pool) == 34
        assert reopened.pool.key(33) == outside.key
        assert reopened.pool.candidate(33).label == "T=50, solvent=water, base=Et3N"
        assert reopened.space.features.shape[0] == 34
        assert len(reopened.propose()) == 2  # a model batch over the extended pool


CAMPAIGN = """
[campaign]
name = "coupling"
seed = 1

[space]
kind = "table"
path = "reactions.csv"
inputs = ["T"]
categorical = ["solvent", "base"]

[[targets]]
property = "yield"
unit = "%"
goal = "maximize"

[oracle]
kind = "lab"

[loop]
initial = 4
batch_size = 2
budget = 12
"""


def invoke(*args: str, ok: bool = True) -> str:
    done = runner.invoke(app, list(args))
    assert (done.exit_code == 0) == ok, done.output
    return done.output


def test_batch_files_round_trip_by_option(tmp_path: Path) -> None:
    pool().to_csv(tmp_path / "reactions.csv", index=False)
    campaign = tmp_path / "coupling.toml"
    campaign.write_text(CAMPAIGN)
    invoke("propose", str(campaign))
    batch = tmp_path / "coupling-batch-0.csv"
    header, rows = read_rows(batch)
    assert header[:5] == ["candidate_id", "candidate", "T", "solvent", "base"]
    assert {row["solvent"] for row in rows} <= set(SOLVENTS)
    for row in rows:
        row[RESULT] = repr(reaction_yield(float(row["T"]), row["solvent"], row["base"])
                           ["yield"])
        row["status"] = "ok"

    bad = [dict(row) for row in rows]
    bad[1]["base"] = "NaOH"
    write_rows(tmp_path / "bad.csv", header, bad)
    before = dump(load(campaign).database_url)
    output = invoke("import", str(campaign), str(tmp_path / "bad.csv"), ok=False)
    assert "row 3" in output and "'base'" in output and "NaOH" in output
    assert dump(load(campaign).database_url) == before

    rows[0]["candidate_id"] = ""  # this one by its options alone
    write_rows(tmp_path / "results.csv", header, rows)
    assert "imported 4 results (4 filled; 0 failed)" in invoke(
        "import", str(campaign), str(tmp_path / "results.csv"))
    store = Store(load(campaign).database_url, create=False)
    labels = {e.candidate for e in store.evaluations(store.campaign_id("coupling"))}
    assert labels == {row["candidate"] for row in rows}
    assert all("solvent=" in label for label in labels)
    status = invoke("status", str(campaign))
    assert "solvent=" in status
