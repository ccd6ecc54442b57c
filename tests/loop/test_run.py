"""Real campaigns end to end through the library and the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from matloop.campaigns import Campaign
from matloop.loop.progress import Progress
from matloop.loop.session import Session, run
from matloop.loop.summary import evaluation_table
from matloop.store import EvaluationRow, Store

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]
ROOT = Path(__file__).resolve().parents[2]


def proposals(campaign: Campaign) -> list[str]:
    store = Store(campaign.database_url, create=False)
    return [e.key for e in store.evaluations(store.campaign_id(campaign.campaign.name))]


def test_table_campaign_spends_its_budget_without_repeats(make_campaign,
                                                           crossed_barrel_config) -> None:
    config = crossed_barrel_config(budget=10, initial=4, batch_size=2, workers=2)
    result = run(make_campaign(config))
    assert result.stop_reason == "budget"
    assert result.counts["succeeded"] == 10
    keys = proposals(make_campaign(config))
    assert len(keys) == len(set(keys)) == 10
    summary = Session(make_campaign(config)).status()
    assert summary["evaluations"] == {"succeeded": 10, "failed": 0, "pending": 0}
    assert summary["best"]["toughness"] == pytest.approx(result.best)
    assert summary["last_cycle"]["strategy"] == "logei"
    assert summary["last_cycle"]["hyperparameters"]["lengthscales"]


def test_a_finished_campaign_resumes_only_with_a_larger_budget(
        make_campaign, crossed_barrel_config, database_url: str) -> None:
    config = crossed_barrel_config(budget=6, initial=4, database=database_url)
    run(make_campaign(config))
    assert len(proposals(make_campaign(config))) == 6
    run(make_campaign(config))
    assert len(proposals(make_campaign(config))) == 6
    run(make_campaign(config).with_overrides(budget=8))
    keys = proposals(make_campaign(config))
    assert len(keys) == len(set(keys)) == 8


def test_same_seed_same_proposals_other_seed_other(make_campaign, crossed_barrel_config,
                                                    tmp_path: Path) -> None:
    config = crossed_barrel_config(budget=7, initial=4)
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        run(make_campaign(config).with_overrides(seed=seed,
                                                 database=str(tmp_path / f"{name}.db")))
    sequences = {}
    for name in "abc":
        campaign = make_campaign(config).with_overrides(database=str(tmp_path / f"{name}.db"))
        store = Store(campaign.database_url, create=False)
        sequences[name] = [e.key for e in store.evaluations(store.campaign_id("cb"))]
    assert sequences["a"] == sequences["b"]
    assert sequences["a"] != sequences["c"]


@pytest.mark.slow
def test_failures_are_recorded_and_the_loop_goes_on(make_campaign, toy_config, toy_pool,
                                                     tmp_path: Path) -> None:
    config = toy_config(budget=25, initial=10, workers=2)
    result = run(make_campaign(config, pool=toy_pool))
    assert result.counts["succeeded"] + result.counts["failed"] == 25
    out = tmp_path / "all.csv"
    assert Session(make_campaign(config, pool=toy_pool)).export(out) == 25
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["candidate_id", "candidate", "x", "y", "status", "score",
                             "cycle", "attempt", "reason", "error", "duration_s",
                             "proposed_at", "started_at", "finished_at"]
    assert all(float(r["x"]) == float(r["candidate"].split(",")[0].split("=")[1])
               for r in rows)
    assert all(r["finished_at"].endswith("+00:00") for r in rows)
    times = [[datetime.fromisoformat(r[t]) for t in ("proposed_at", "started_at",
                                                     "finished_at")] for r in rows]
    assert all(proposed <= started <= finished for proposed, started, finished in times)
    assert {r["reason"] for r in rows if r["status"] == "failed"} <= {"error", "invalid"}
    failed = [r for r in rows if r["status"] == "failed"]
    for row in failed:
        x = float(row["candidate"].split(",")[0].split("=")[1])
        y = float(row["candidate"].split(",")[1].split("=")[1])
        assert (x > 0.8 and "synthesis failed" in row["error"]) or \
            (y > 0.9 and "not finite" in row["error"])
    ok = [r for r in rows if r["status"] == "succeeded"]
    assert all(r["score"] for r in ok) and not any(r["score"] for r in failed)
    assert max(float(r["score"]) for r in ok) > -0.05  # found the optimum's neighbourhood


@pytest.mark.slow
def test_cli_run_status_export(crossed_barrel, tmp_path: Path) -> None:
    path = crossed_barrel(budget=8, initial=4)
    done = subprocess.run([*MATLOOP, "run", str(path), "--seed", "3", "--budget", "7",
                           "--db", str(tmp_path / "x.db")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "stopped (budget)" in done.stdout
    assert not (tmp_path / "cb.db").exists()
    status = subprocess.run([*MATLOOP, "status", str(path), "--db", str(tmp_path / "x.db"),
                             "--json"], capture_output=True, text=True)
    summary = json.loads(status.stdout)
    assert summary["campaign"] == "cb" and summary["cycles"] == 4
    assert summary["budget"] == 7  # the run's --budget, not the file's
    assert summary["evaluations"] == {"succeeded": 7, "failed": 0, "pending": 0}
    assert set(summary["best"]) == {"toughness"}
    table = subprocess.run([*MATLOOP, "status", str(path), "--db", str(tmp_path / "x.db")],
                           capture_output=True, text=True)
    assert "best toughness" in table.stdout and "7 succeeded" in table.stdout
    out = tmp_path / "x.csv"
    exported = subprocess.run([*MATLOOP, "export", str(path), "--db", str(tmp_path / "x.db"),
                               "--out", str(out)], capture_output=True, text=True)
    assert exported.returncode == 0
    assert len(list(csv.DictReader(out.open()))) == 7


@pytest.mark.slow
def test_examples_run_with_small_budgets(tmp_path: Path) -> None:
    for name, budget in (("crossed-barrel", 8), ("emt-alloys", 10)):
        db = tmp_path / f"{name}.db"
        done = subprocess.run([*MATLOOP, "run", str(ROOT / "examples" / f"{name}.toml"),
                               "--budget", str(budget), "--db", str(db), "--quiet"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        summary = json.loads(subprocess.run(
            [*MATLOOP, "status", str(ROOT / "examples" / f"{name}.toml"), "--db", str(db),
             "--json"], capture_output=True, text=True).stdout)
        assert summary["evaluations"]["succeeded"] + summary["evaluations"]["failed"] == budget
        assert summary["best"]


def test_a_worker_that_dies_is_recorded_as_crashed_and_spares_the_others(
        make_campaign, toy_config, tmp_path: Path) -> None:
    config = toy_config(budget=6, initial=6, workers=2)
    (tmp_path / "toy.py").write_text(
        "import os\n\n"
        "def score(x, y):\n"
        "    if x == 0.5 and y == 0.5:\n"
        "        os._exit(3)\n"
        "    return {'score': x + y}\n")
    grid = pd.DataFrame([(x / 10, y / 10) for x in range(3, 6) for y in range(4, 6)],
                        columns=["x", "y"])
    result = run(make_campaign(config, pool=grid))
    assert result.counts == {"proposed": 0, "running": 0, "succeeded": 5, "failed": 1}
    campaign = make_campaign(config, pool=grid)
    store = Store(campaign.database_url, create=False)
    (crashed,) = [e for e in store.evaluations(store.campaign_id("toy"))
                  if e.status == "failed"]
    assert crashed.key == "x=0.5, y=0.5" and crashed.reason == "crashed"


def test_a_model_that_fails_numerically_gives_a_random_cycle(make_campaign,
                                                             crossed_barrel_config,
                                                             monkeypatch) -> None:
    from linear_operator.utils.errors import NotPSDError

    from matloop.loop.propose import Planner

    def failing(*args, **kwargs):
        raise NotPSDError("matrix not positive definite")

    monkeypatch.setattr(Planner, "model_based", failing)
    campaign = make_campaign(crossed_barrel_config(budget=6, initial=4))
    result = run(campaign)
    assert result.counts["succeeded"] == 6
    store = Store(campaign.database_url, create=False)
    strategies = [c.strategy for c in store.cycles(store.campaign_id("cb"))]
    assert strategies[0] == "initial"
    assert strategies[1].startswith("random (model failed: NotPSDError")


def test_export_names_the_calculator_only_when_one_computed(make_campaign, toy_config,
                                                            toy_pool) -> None:
    campaign = make_campaign(toy_config(budget=2, initial=2), pool=toy_pool)
    at = datetime(2026, 1, 2, 3, 4, 5)  # as SQLite gives it: no time zone, UTC
    row = EvaluationRow(1, 1, "x=0", "k", 0, "succeeded", 0, 1, None, None, 1.0, at,
                        {"score": 1.0}, {"score": None}, proposed_at=at, started_at=at)
    header, rows = evaluation_table(campaign, [row])
    assert "model" not in header
    assert rows[0][header.index("started_at")] == "2026-01-02T03:04:05+00:00"
    header, rows = evaluation_table(campaign, [row, replace(row, model="emt (ase 3.23.0)")])
    assert [r[header.index("model")] for r in rows] == [None, "emt (ase 3.23.0)"]


def test_a_run_reports_its_start_and_what_earlier_runs_finished(
        make_campaign, crossed_barrel_config) -> None:
    """The first event comes as the run starts, so a resumed run's progress starts at what
    was finished before it; every event of the run says how many that was (``earlier``)."""
    config = crossed_barrel_config(budget=5, initial=4, batch_size=2)
    first: list[Progress] = []
    run(make_campaign(config), on_progress=first.append)
    assert (first[0].finished, first[0].message) == (0, "run started")
    assert {e.earlier for e in first} == {0}
    resumed: list[Progress] = []
    run(make_campaign(config).with_overrides(budget=7), on_progress=resumed.append)
    assert (resumed[0].finished, resumed[0].earlier, resumed[0].budget) == (5, 5, 7)
    assert resumed[0].message == "run started: 5 evaluations finished before it"
    assert {e.earlier for e in resumed} == {5} and resumed[-1].finished == 7
