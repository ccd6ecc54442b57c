"""Three lab rounds on real data: the P3HT table plays the lab (propose -> fill -> import)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from matloop.campaigns import load
from matloop.cli.main import app
from matloop.store import Store

from .conftest import INPUTS, PROPERTY, RESULT, fill, known_answers, read_rows, write_rows

runner = CliRunner()


def matloop(*args: str) -> str:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def propose_round(campaign: Path, cycle: int) -> tuple[Path, list[str], list[dict[str, str]]]:
    output = matloop("propose", str(campaign))
    batch = campaign.parent / f"lab-p3ht-batch-{cycle}.csv"
    assert f"-> {batch}" in output and f"matloop import {campaign} {batch}" in output
    header, rows = read_rows(batch)
    return batch, header, rows


def test_three_lab_rounds_store_every_value_failure_and_replicate(lab_campaign) -> None:
    campaign = lab_campaign()
    answers = known_answers()
    expected_ok: list[tuple[tuple[float, ...], float]] = []  # (inputs, value) per ok row
    expected_failed: dict[tuple[float, ...], str] = {}
    inputs_by_id: dict[str, tuple[float, ...]] = {}

    def import_rows(batch: Path, header: list[str], rows: list[dict[str, str]]) -> str:
        write_rows(batch, header, rows)
        for row in rows:
            if row["candidate_id"] and not row[INPUTS[0]]:  # named by its id only
                inputs = inputs_by_id[row["candidate_id"]]
            else:
                inputs = tuple(float(row[n]) for n in INPUTS)
                inputs_by_id[row["candidate_id"]] = inputs
            if row["status"] == "failed":
                expected_failed[inputs] = row["note"]
            else:
                expected_ok.append((inputs, float(row[RESULT])))
        return matloop("import", str(campaign), str(batch))

    # round 1: the initial design; one film fails, one is measured twice
    batch, header, rows = propose_round(campaign, 0)
    assert header == ["candidate_id", "candidate", *INPUTS, "cycle",
                      f"predicted_{PROPERTY} [S/cm]", f"std_{PROPERTY} [S/cm]",
                      "success_probability", RESULT, "status", "note"]
    assert len(rows) == 6 and all(r[RESULT] == r["status"] == "" for r in rows)
    again = matloop("propose", str(campaign))  # no duplicate batch while one awaits
    assert again.startswith("still awaiting results: 6 candidates")
    fill(rows)
    rows[1].update({RESULT: "", "status": "failed", "note": "film cracked on drying"})
    repeat_a = {**rows[0], RESULT: repr(float(rows[0][RESULT]) * 1.1)}
    output = import_rows(batch, header, [*rows, repeat_a])
    assert "imported 7 results (6 filled, 1 replicate; 1 failed)" in output
    assert "0 evaluations still awaiting" in output

    # round 2: the model's batch (with predictions); a repeat named by its inputs only
    batch, header, rows = propose_round(campaign, 1)
    assert len(rows) == 4
    assert all(float(r[f"std_{PROPERTY} [S/cm]"]) > 0 for r in rows)
    assert all(0 <= float(r["success_probability"]) <= 1 for r in rows)  # failures learnt
    fill(rows)
    rows[3].update({RESULT: "", "status": "failed", "note": "no percolation"})
    first_round = read_rows(campaign.parent / "lab-p3ht-batch-0.csv")[1]
    b_row = first_round[2]
    b_inputs = {n: b_row[n] for n in INPUTS}
    repeat_b = {**dict.fromkeys(header, ""), **b_inputs, "status": "ok",
                RESULT: repr(answers[tuple(float(v) for v in b_inputs.values())] * 0.9)}
    output = import_rows(batch, header, [*rows, repeat_b])
    assert "imported 5 results (4 filled, 1 replicate; 1 failed)" in output

    # round 3: all ok, and candidate A a third time (by its id)
    batch, header, rows = propose_round(campaign, 2)
    assert len(rows) == 4
    fill(rows)
    repeat_a3 = {**dict.fromkeys(header, ""), "candidate_id": repeat_a["candidate_id"],
                 RESULT: repr(float(repeat_a[RESULT]) * 0.95)}
    output = import_rows(batch, header, [*rows, repeat_a3])
    assert "imported 5 results (4 filled, 1 replicate; 0 failed)" in output

    # every value landed, on the right candidate
    loaded = load(campaign)
    store = Store(loaded.database_url, create=False)
    cid = store.campaign_id("lab-p3ht")
    assert store.counts(cid) == {"proposed": 0, "running": 0, "succeeded": 15, "failed": 2}
    evaluations = store.evaluations(cid)
    inputs_of = {c.key: _inputs(c.label) for c in store.candidates(cid)}
    stored_ok = sorted((inputs_of[e.key], e.values[PROPERTY]) for e in evaluations
                       if e.status == "succeeded")
    assert stored_ok == sorted(expected_ok)
    stored_failed = {inputs_of[e.key]: (e.reason, e.error) for e in evaluations
                     if e.status == "failed"}
    assert stored_failed == {k: ("infeasible", note) for k, note in expected_failed.items()}
    assert all(e.values == {} for e in evaluations if e.status == "failed")

    # replicates: status --json shows mean, std and count; the models see every value
    status = json.loads(matloop("status", str(campaign), "--json"))
    assert status["evaluations"] == {"succeeded": 15, "failed": 2, "pending": 0,
                                     "awaiting": 0}
    replicates = status["replicates"]
    assert sorted(s[PROPERTY]["n"] for s in replicates.values()) == [2, 3]
    a_values = [v for k, v in expected_ok if k == _key(repeat_a)]
    a_spread = replicates[rows_label(store, cid, repeat_a["candidate_id"])][PROPERTY]
    assert a_spread["n"] == 3 and math.isclose(a_spread["mean"], sum(a_values) / 3)
    assert a_spread["std"] > 0
    indices, means = store.training_data(cid, [PROPERTY])
    assert len(indices) == 6 - 1 + 3 + 4  # distinct measured candidates
    assert any(math.isclose(m[0], a_spread["mean"]) for m in means)

    # the next round: `run` on a lab campaign proposes too (and stops)
    output = matloop("run", str(campaign))
    assert output.startswith("proposed 4 candidates")
    # the GP was fitted on each of the 15 values, not on the 12 candidates' means
    assert store.latest_hyperparameters(cid)["fitted_on"] == [15]
    assert json.loads(matloop("status", str(campaign), "--json"))["evaluations"][
        "awaiting"] == 4


def _inputs(label: str) -> tuple[float, ...]:
    parts = dict(part.split("=") for part in label.split(", "))
    return tuple(float(parts[n]) for n in INPUTS)


def _key(row: dict[str, str]) -> tuple[float, ...]:
    return tuple(float(row[n]) for n in INPUTS)


def rows_label(store: Store, cid: int, candidate_id: str) -> str:
    return next(c.label for c in store.candidates(cid)
                if c.candidate_id == int(candidate_id))
