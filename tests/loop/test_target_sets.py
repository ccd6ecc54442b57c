"""Target sets end to end: hits, stopping rules, status and the inverse-design ranking."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from matloop.campaigns import load
from matloop.loop.session import Session, run
from matloop.store import Store

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]
TOP5 = 34.47483147333333  # the crossed barrel's top-5 % toughness: 30 of 600 rows


RANGE_TARGETS = [{"property": "toughness", "unit": "J", "above": TOP5}]


def range_campaign(crossed_barrel, **loop) -> Path:
    path = crossed_barrel(**{"budget": 30, "initial": 6, "batch_size": 3, **loop},
                          acquisition="auto")
    text = path.read_text().replace('goal = "maximize"', f"above = {TOP5}")
    path.write_text(text)
    return path


def test_range_search_stops_after_k_hits_and_reports_them(make_campaign,
                                                          crossed_barrel_config) -> None:
    config = crossed_barrel_config(budget=30, initial=6, batch_size=3, acquisition="auto",
                                   targets=RANGE_TARGETS, loop={"stop_after_hits": 2})
    result = run(make_campaign(config))
    assert result.stop_reason.startswith("found") and result.hits >= 2
    assert result.counts["succeeded"] < 30
    summary = Session(make_campaign(config)).status()
    assert summary["hits"] == result.hits == len(summary["hit_candidates"])
    assert summary["stop_reason"] == result.stop_reason
    assert summary["targets"] == [f"toughness >= {TOP5:g} J"]
    store = Store(make_campaign(config).database_url, create=False)
    cycles = store.cycles(store.campaign_id("cb"))
    model_cycles = [c for c in cycles if c.strategy == "feasibility"]
    assert model_cycles, [c.strategy for c in cycles]
    predicted = model_cycles[-1].predicted or {}
    assert len(predicted["hit_probability"]) == model_cycles[-1].n_proposed
    assert all(0 <= p <= 1 for p in predicted["hit_probability"])


def test_patience_stops_a_campaign_that_no_longer_improves(make_campaign, toy_config,
                                                           toy_pool, tmp_path: Path) -> None:
    config = toy_config(budget=40, initial=4, loop={"patience": 2})
    (tmp_path / "toy.py").write_text("def score(x, y):\n    return {'score': 1.0}\n")
    result = run(make_campaign(config, pool=toy_pool))
    assert result.stop_reason == "no progress in 2 cycles (patience)"
    assert result.counts["succeeded"] == 4 + 3  # the initial design, then 3 model cycles


def test_predict_ranks_unmeasured_candidates_by_hit_probability(crossed_barrel,
                                                                tmp_path: Path) -> None:
    path = range_campaign(crossed_barrel, budget=12)
    run(load(path))
    ranking = Session(load(path)).ranking(top=None)
    assert ranking.n_measured == 12 and ranking.n_unmeasured == 600 - 12
    assert len(ranking.keys) == 588
    assert ranking.score_name == "hit_probability"
    assert all(ranking.score[i] >= ranking.score[i + 1] for i in range(587))
    store = Store(load(path).database_url, create=False)
    measured = set(store.tried_pool_indices(store.campaign_id("cb")))
    assert not measured & set(ranking.keys)

    out = tmp_path / "ranked.csv"
    done = subprocess.run([*MATLOOP, "predict", str(path), "--top", "5", "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "P(hit)" in done.stdout
    rows = list(csv.DictReader(out.open()))
    assert [r["candidate_key"] for r in rows] == ranking.keys[:5]
    assert list(rows[0]) == ["rank", "candidate_key", "candidate", "hit_probability",
                             "predicted_toughness [J]", "std_toughness [J]"]


def test_predict_without_ranges_ranks_by_the_acquisition(make_campaign,
                                                          crossed_barrel_config) -> None:
    config = crossed_barrel_config(budget=8, initial=4)
    run(make_campaign(config))
    ranking = Session(make_campaign(config)).ranking(top=3)
    assert ranking.score_name == "acquisition (logei)" and len(ranking.keys) == 3


def test_predict_before_any_data_is_a_clear_error(crossed_barrel) -> None:
    path = crossed_barrel()
    done = subprocess.run([*MATLOOP, "predict", str(path)], capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
