"""Lab campaigns beyond the round trip: --more, --batch, XLSX, prior data, --allow-new,
imports beside a running campaign, and awaiting evaluations that are never re-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matloop.campaigns import load
from matloop.cli.main import app
from matloop.loop.session import Session
from matloop.store import Store

from .conftest import INPUTS, PROPERTY, RESULT, fill, known_answers, read_rows, write_rows

runner = CliRunner()


def store_of(campaign: Path) -> tuple[Store, int]:
    store = Store(load(campaign).database_url, create=False)
    return store, store.campaign_id("lab-p3ht")


def test_more_proposes_a_second_batch_and_batch_sets_its_size(lab_campaign) -> None:
    campaign = lab_campaign()
    first = Session(load(campaign)).propose_file(batch=3)
    assert first.new and first.count == 3
    # still awaiting: no duplicate
    assert Session(load(campaign)).propose_file(batch=3).new is False
    second = Session(load(campaign)).propose_file(batch=2, more=True)
    assert second.new and second.count == 2
    assert second.paths == [campaign.parent / "lab-p3ht-batch-1.csv"]
    store, cid = store_of(campaign)
    assert store.counts(cid)["awaiting"] == 5
    keys = [row.key for row in store.awaiting(cid)]
    assert len(set(keys)) == 5  # never the same candidate twice
    relisted = Session(load(campaign)).propose_file()  # re-writes each awaiting batch's file
    assert not relisted.new and relisted.count == 5 and len(relisted.paths) == 2


def test_awaiting_evaluations_count_as_in_flight_but_are_never_rerun(lab_campaign) -> None:
    campaign = lab_campaign()
    Session(load(campaign)).propose_file()
    store, cid = store_of(campaign)
    assert store.requeue_in_flight(cid) == []
    assert store.counts(cid)["awaiting"] == 6
    summary = json.loads(runner.invoke(app, ["status", str(campaign), "--json"]).output)
    assert summary["evaluations"]["awaiting"] == 6
    assert summary["stop_reason"] == "awaiting lab results"


def test_propose_needs_a_lab_campaign(crossed_barrel) -> None:
    done = runner.invoke(app, ["propose", str(crossed_barrel())])
    assert done.exit_code == 2 and "propose needs [oracle] kind = \"lab\"" in done.output


def test_xlsx_out_and_back(lab_campaign) -> None:
    from openpyxl import load_workbook

    campaign = lab_campaign()
    done = runner.invoke(app, ["propose", str(campaign), "--xlsx"])
    assert done.exit_code == 0, done.output
    workbook_path = campaign.parent / "lab-p3ht-batch-0.xlsx"
    assert str(workbook_path) in done.output
    book = load_workbook(workbook_path)
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    answers = known_answers()
    result, status, note = (header.index(RESULT) + 1, header.index("status") + 1,
                            header.index("note") + 1)
    for row in range(2, sheet.max_row + 1):
        inputs = tuple(float(sheet.cell(row, header.index(n) + 1).value) for n in INPUTS)
        sheet.cell(row, result).value = answers[inputs]
        sheet.cell(row, status).value = "ok"
    sheet.cell(2, result).value = None
    sheet.cell(2, status).value = "failed"
    sheet.cell(2, note).value = "precursor ran out"
    book.save(workbook_path)
    done = runner.invoke(app, ["import", str(campaign), str(workbook_path)])
    assert done.exit_code == 0, done.output
    store, cid = store_of(campaign)
    assert store.counts(cid) == {"proposed": 0, "running": 0, "succeeded": 5, "failed": 1}
    assert [e.error for e in store.evaluations(cid) if e.status == "failed"] == [
        "precursor ran out"]


def prior_file(path: Path, rows: int) -> Path:
    """A file of earlier measurements: inputs and results only (no ids, no status)."""
    answers = list(known_answers().items())[10:10 + rows]
    header = [*INPUTS, RESULT]
    write_rows(path, header, [{**{n: repr(v) for n, v in zip(INPUTS, inputs, strict=True)},
                               RESULT: repr(value)} for inputs, value in answers])
    return path


def test_prior_data_seeds_the_first_batch(lab_campaign, tmp_path) -> None:
    prior_file(tmp_path / "measured.csv", 6)
    campaign = lab_campaign({'# prior = "data/measured-before.csv"':
                             'prior = "measured.csv"'})
    proposed = Session(load(campaign)).propose_file()
    store, cid = store_of(campaign)
    assert store.counts(cid)["succeeded"] == 6
    assert {e.cycle for e in store.evaluations(cid) if e.status == "succeeded"} == {-1}
    assert proposed.count == 4  # the initial design is covered: a model batch
    _, rows = read_rows(proposed.paths[0])
    assert all(float(r[f"std_{PROPERTY} [S/cm]"]) > 0 for r in rows)
    assert store.cycles(cid)[0].strategy == "logei"
    Session(load(campaign)).propose_file(more=True)  # imported once only
    assert store.counts(cid)["succeeded"] == 6


def test_import_before_the_first_run_creates_the_campaign(lab_campaign, tmp_path) -> None:
    campaign = lab_campaign()
    done = runner.invoke(app, ["import", str(campaign),
                               str(prior_file(tmp_path / "earlier.csv", 3))])
    assert done.exit_code == 0, done.output
    assert "imported 3 results (3 unsolicited; 0 failed)" in done.output
    proposed = Session(load(campaign)).propose_file()
    assert proposed.count == 3  # the rest of the initial design (initial = 6)


def test_allow_new_adds_measured_candidates_from_outside_the_pool(lab_campaign,
                                                                  tmp_path) -> None:
    campaign = lab_campaign()
    (batch,) = Session(load(campaign)).propose_file().paths
    header, rows = read_rows(batch)
    fill(rows)
    outside = {**dict.fromkeys(header, ""),
               **dict(zip(INPUTS, ["12.5", "0", "0", "0", "87.5"], strict=True)),
               RESULT: "321.0", "status": "ok", "note": "made by a visitor"}
    path = tmp_path / "with-new.csv"
    write_rows(path, header, [*rows, outside])
    assert runner.invoke(app, ["import", str(campaign), str(path)]).exit_code == 2
    done = runner.invoke(app, ["import", str(campaign), str(path), "--allow-new"])
    assert done.exit_code == 0, done.output
    assert "a new candidate from outside the pool" in done.output
    store, cid = store_of(campaign)
    external = store.external_candidates(cid)
    assert [(c.pool_index, c.kind) for c in external] == [(178, "inputs")]
    assert external[0].values == {"p3ht_pct": 12.5, "d1_pct": 0.0, "d2_pct": 0.0,
                              "d6_pct": 0.0, "d8_pct": 87.5}
    prepared = Session(load(campaign)).space  # rebuilt with the pool: row 178, featurised
    assert len(prepared.pool) == 179 and prepared.features.shape[0] == 179
    assert prepared.pool.key(178) == external[0].key
    indices, values = store.training_data(cid, [PROPERTY])
    assert 178 in indices and values[indices.index(178)] == [321.0]
    second = Session(load(campaign)).propose_file()  # a model batch over the extended pool
    assert second.new and second.count == 4
    again = tmp_path / "again.csv"
    write_rows(again, header, [{**outside, RESULT: "300.0"}])
    done = runner.invoke(app, ["import", str(campaign), str(again)])  # now a known one
    assert done.exit_code == 0, done.output
    assert store.replicates(cid, [PROPERTY])[
        "p3ht_pct=12.5, d1_pct=0, d2_pct=0, d6_pct=0, d8_pct=87.5"][PROPERTY].n == 2


def test_import_does_not_wait_for_a_running_campaign(lab_campaign) -> None:
    """The importer takes no run lock: it imports while a run holds the campaign."""
    campaign = lab_campaign()
    (batch,) = Session(load(campaign)).propose_file().paths
    header, rows = read_rows(batch)
    fill(rows)
    write_rows(batch, header, rows)
    store, cid = store_of(campaign)
    with store.lock(cid):
        report = Session(load(campaign)).import_file(batch)
    assert report.kinds["filled"] == 6
    assert store.counts(cid)["succeeded"] == 6


def test_a_result_for_an_evaluation_filled_meanwhile_is_refused_whole(lab_campaign,
                                                                      monkeypatch) -> None:
    """Two imports of the same batch at once: the second finds its evaluation no longer
    awaiting when it writes, and stores nothing."""
    from matloop.errors import StoreError

    campaign = lab_campaign()
    (batch,) = Session(load(campaign)).propose_file().paths
    header, rows = read_rows(batch)
    fill(rows)
    write_rows(batch, header, rows)
    other = batch.with_name("copy.csv")
    write_rows(other, header, [*rows, {**rows[0]}])
    from matloop.loop import imports

    early = Session(load(campaign))
    stale = imports.known_of(early.campaign, early._open(write=False), early.pool)
    Session(load(campaign)).import_file(batch)
    store, cid = store_of(campaign)
    before = store.evaluations(cid)
    monkeypatch.setattr(imports, "known_of", lambda *_: stale)
    with pytest.raises(StoreError, match="no longer awaiting results"):
        Session(load(campaign)).import_file(other)
    assert store.evaluations(cid) == before


def test_a_composition_space_is_matched_by_formula_as_the_pool_keys_it(tmp_path) -> None:
    """Formulas are compared as normalised compositions: ``NiCu3`` is ``Cu0.75Ni0.25``."""
    path = tmp_path / "alloys.toml"
    path.write_text(
        '[campaign]\nname = "alloys"\n\n[space]\nkind = "compositions"\n'
        'elements = ["Cu", "Ni", "Pd"]\nstep = 0.25\n\n[[targets]]\n'
        'property = "hardness"\nunit = "GPa"\nabove = 2.0\n\n[oracle]\nkind = "lab"\n\n'
        '[loop]\ninitial = 3\nbudget = 10\n')
    proposed = Session(load(path)).propose_file()
    header, rows = read_rows(proposed.paths[0])
    assert header[:3] == ["candidate_id", "candidate", "formula"]
    assert "hit_probability" in header and "hardness [GPa]" in header
    from pymatgen.core import Composition

    extra = {**dict.fromkeys(header, ""), "formula": "NiCu3", "hardness [GPa]": "1.25"}
    for i, row in enumerate(rows):  # name each sample by a doubled formula, no id
        row["formula"] = (Composition(row["formula"]) * 2).formula.replace(" ", "")
        row["candidate_id"] = ""
        row["hardness [GPa]"] = str(1.0 + i)
    write_rows(proposed.paths[0], header, [*rows, extra])
    report = Session(load(path)).import_file(proposed.paths[0])
    assert report.kinds["filled"] == 3
    assert report.kinds["unsolicited"] + report.kinds["replicate"] == 1
    store = Store(load(path).database_url, create=False)
    cid = store.campaign_id("alloys")
    keys = {e.key for e in store.evaluations(cid)}
    assert "Cu0.75 Ni0.25" in keys and store.counts(cid)["succeeded"] == 4


def test_prior_data_seeds_a_computational_campaign_too(crossed_barrel, tmp_path) -> None:
    """``[campaign] prior`` works with any oracle; prior rows count toward the budget."""
    from matloop.loop.session import Session

    campaign = crossed_barrel(budget=6, initial=4)
    measured = tmp_path / "measured.csv"
    measured.write_text("n,theta,r,t,toughness [J],note\n"
                        "6,0,1.5,0.7,1.5,from the 2019 batch\n"
                        "6,0,1.7,0.7,20.25,\n"
                        "8,100,1.5,0.7,,\n")  # a blank row: nothing measured
    text = campaign.read_text().replace('seed = 0', 'seed = 0\nprior = "measured.csv"')
    campaign.write_text(text)
    with Session(load(campaign)) as session:
        result = session.run()
    store = Store(load(campaign).database_url, create=False)
    cid = store.campaign_id("cb")
    assert result.counts["succeeded"] + result.counts["failed"] == 6
    prior = [e for e in store.evaluations(cid) if e.cycle == -1]
    assert sorted(e.values["toughness"] for e in prior) == [1.5, 20.25]
    assert [c.strategy for c in store.cycles(cid)][:2] == ["initial", "logei"]


def test_propose_never_overwrites_a_batch_file_the_lab_has_filled_in(lab_campaign) -> None:
    campaign = lab_campaign()
    (batch,) = Session(load(campaign)).propose_file().paths
    header, rows = read_rows(batch)
    rows[0]["note"] = "sample 1 in the furnace"
    write_rows(batch, header, rows)
    content = batch.read_bytes()
    again = Session(load(campaign)).propose_file()
    assert again.paths == [] and again.kept == [batch]
    assert batch.read_bytes() == content
    done = runner.invoke(app, ["propose", str(campaign)])
    assert f"kept {batch}: it has results filled in (not overwritten)" in done.output


def test_status_says_the_results_are_in_once_the_whole_batch_is(lab_campaign) -> None:
    campaign = lab_campaign()
    with Session(load(campaign)) as session:
        batch = session.propose()
        batch["conductivity_S_per_cm [S/cm]"] = 1.0
        session.add_results(batch.drop(columns=[c for c in batch.columns
                                                if c.startswith(("predicted_", "std_"))]))
    table = runner.invoke(app, ["status", str(campaign)])
    assert table.exit_code == 0, table.output
    assert "lab results in: ready to propose the next batch" in table.output
    assert "awaiting lab results" not in table.output
