"""Multi-fidelity campaigns run by the loop (``[[fidelities]]``): a cheap source that tracks
the target is bought once the evidence shows it pays, every evaluation is recorded with
its source, targets, hits and the budget count at the campaign's own oracle only, a
useless source is no longer measured, a killed run resumes each evaluation at its own
source, and status and export show every source."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matloop.errors import ConfigError
from matloop.store import EVERY_FIDELITY, Proposal, Store
from matloop.store.records import TARGET

CHEAP_OFFSET = 100.0  # the cheap source reads 100 higher: a leak into the target shows


def surface(x: float, y: float) -> float:
    return float(np.exp(-((x - 0.7) ** 2 + (y - 0.3) ** 2) / 0.08) + 0.3 * x)


def write_tables(folder: Path, cheap: str) -> None:
    """``pool.csv`` (x, y on a 15 x 15 grid, the target value ``score``) and
    ``cheap.csv``: the same rows, ``score`` from the cheap source — ``tracks``: a
    biased, scaled copy of the target; ``noise``: unrelated random values."""
    rng = np.random.default_rng(7)
    grid = [(i / 14, j / 14) for i in range(15) for j in range(15)]
    with (folder / "pool.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "y", "score"])
        writer.writerows([(x, y, surface(x, y)) for x, y in grid])
    with (folder / "cheap.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "y", "score"])
        for x, y in grid:
            value = 0.8 * surface(x, y) + 0.02 * rng.normal() if cheap == "tracks" \
                else rng.uniform()
            writer.writerow([x, y, CHEAP_OFFSET + value])


def config(name: str = "mf", budget: int = 14, cheap_cost: float = 1.0, **loop: Any
           ) -> dict[str, Any]:
    return {
        "campaign": {"name": name, "seed": 3},
        "space": {"kind": "table", "path": "pool.csv", "inputs": ["x", "y"]},
        "targets": [{"property": "score", "goal": "maximize"}],
        "oracle": {"kind": "table", "cost": 100.0},
        "fidelities": [{"name": "cheap", "cost": cheap_cost,
                        "oracle": {"kind": "table", "path": "cheap.csv"}}],
        "loop": {"initial": 4, "batch_size": 2, "budget": budget, **loop},
    }


def make(tmp_path: Path, cheap: str, **changes: Any) -> Any:
    import matloop

    write_tables(tmp_path, cheap)
    return matloop.Campaign.from_dict(config(**changes), base_dir=tmp_path)


def test_a_source_that_tracks_the_target_is_bought_and_never_counts_as_the_target(
        tmp_path: Path) -> None:
    campaign = make(tmp_path, "tracks")
    with campaign.session() as session:
        result = session.run()
        status = session.status()
        table = session.evaluations()
        page = session.report(tmp_path / "report")
    store = Store(campaign.database_url, create=False)
    cid = store.campaign_id("mf")
    target = store.evaluations(cid)
    cheap = store.evaluations(cid, "cheap")
    # the budget counts the campaign's own oracle; the cheap source came on top
    assert result.counts["succeeded"] == 14 == len(target)
    assert all(e.fidelity is None for e in target)
    assert all(e.fidelity == "cheap" for e in cheap)
    assert all(e.values["score"] > CHEAP_OFFSET - 1 for e in cheap)
    # probes of the initial design, then cost-aware cycles that bought more cheaply
    assert len(cheap) > 14
    strategies = [c.strategy for c in store.cycles(cid)]
    assert strategies[0] == "initial"
    assert any("multi-fidelity (cheap)" in s for s in strategies), strategies
    # the target's standing never saw a cheap value
    assert status["best"]["score"] < CHEAP_OFFSET - 1
    assert status["best"]["score"] == max(e.values["score"] for e in target)
    sources = {s["name"]: s for s in status["fidelities"]["sources"]}
    assert sources["target"]["evaluations"]["succeeded"] == 14
    assert sources["cheap"]["evaluations"]["succeeded"] == len(cheap)
    assert sources["cheap"]["verdict"] == {"score": "pays"}
    assert sources["cheap"]["rank_correlation"]["score"] > 0.9
    assert sources["cheap"]["model_correlation"]["score"] > 0.5
    assert status["fidelities"]["spent"] == pytest.approx(14 * 100.0 + len(cheap) * 1.0)
    # the export has every evaluation, with its source
    assert list(table["fidelity"]).count("target") == 14
    assert list(table["fidelity"]).count("cheap") == len(cheap)
    assert len(store.evaluations(cid, EVERY_FIDELITY)) == len(table)
    # the report has a section on the sources, with the paired values drawn
    assert "<h2>Sources</h2>" in page.read_text()
    assert (tmp_path / "report" / "source-cheap-score.png").stat().st_size > 1000
    store.engine.dispose()


@pytest.mark.slow
def test_a_useless_source_is_no_longer_measured(tmp_path: Path) -> None:
    """Paired measurements that show no relation (here 120 pairs of noise, whose upper
    confidence bound is below the break-even correlation √(25/100)): the next cycles
    measure at the target only."""
    campaign = make(tmp_path, "noise", budget=126, initial=120, cheap_cost=25.0)
    with campaign.session() as session:
        session.run(budget=120)
        store = Store(campaign.database_url, create=False)
        cid = store.campaign_id("mf")
        assert len(store.evaluations(cid, "cheap")) == 120  # the initial design, probed
        assert session.status()["fidelities"]["sources"][1]["verdict"] == \
            {"score": "useless"}
        session.run(budget=126)
    assert len(store.evaluations(cid)) == 126
    assert len(store.evaluations(cid, "cheap")) == 120
    store.engine.dispose()


@pytest.mark.slow
def test_failures_of_a_cheap_source_are_data_and_the_campaign_goes_on(tmp_path: Path
                                                                      ) -> None:
    """A cheap source that raises for half the space (x > 0.5): each failure is recorded
    at that source with its reason, the run reaches its budget at the target, and status
    counts the failures per source."""
    import matloop

    write_tables(tmp_path, "tracks")
    (tmp_path / "flaky.py").write_text(
        "def score(x, y):\n"
        "    if x > 0.5:\n"
        "        raise RuntimeError('the potential does not cover this region')\n"
        "    return {'score': 0.8 * x + y}\n")
    settings = config(budget=10)
    settings["fidelities"][0]["oracle"] = {"kind": "python", "function": "flaky:score"}
    with matloop.Campaign.from_dict(settings, base_dir=tmp_path).session() as session:
        result = session.run()
        status = session.status()
    assert result.stop_reason == "budget" and result.counts["succeeded"] == 10
    store = Store(f"sqlite:///{tmp_path / 'mf.db'}", create=False)
    cid = store.campaign_id("mf")
    cheap = store.evaluations(cid, "cheap")
    failed = [e for e in cheap if e.status == "failed"]
    assert failed and all(e.reason == "error" and "does not cover" in (e.error or "")
                          for e in failed)
    assert all(e.status == "succeeded" for e in cheap if e not in failed)
    source = status["fidelities"]["sources"][1]
    assert source["evaluations"]["failed"] == len(failed)
    assert status["failures"] == {}  # the campaign's own failures: none
    store.engine.dispose()


@pytest.mark.slow
def test_a_killed_run_resumes_each_evaluation_at_its_own_source(tmp_path: Path) -> None:
    campaign = make(tmp_path, "tracks", budget=6)
    with campaign.session() as session:
        session.run(budget=4)  # the initial design and its probes
    store = Store(campaign.database_url)
    cid = store.campaign_id("mf")
    pool = campaign.session().pool
    row = next(i for i in range(len(pool)) if i not in store.evaluated_rows(cid, "cheap"))
    (left,) = store.propose(cid, store.next_cycle(cid),
                            [Proposal(row, pool.key(row), pool.candidate(row).label,
                                      "cheap")])
    store.mark_running(left.evaluation_id, 1)  # then the run was killed
    (again,) = store.requeue_in_flight(cid)
    assert (again.evaluation_id, again.fidelity, again.attempt) == \
        (left.evaluation_id, "cheap", 2)
    store.engine.dispose()
    with campaign.session() as session:
        session.run()
    store = Store(campaign.database_url, create=False)
    (done,) = [e for e in store.evaluations(cid, "cheap")
               if e.evaluation_id == left.evaluation_id]
    x, y = pool.candidate(row).inputs["x"], pool.candidate(row).inputs["y"]
    assert done.status == "succeeded"
    assert done.values["score"] == pytest.approx(CHEAP_OFFSET + 0.8 * surface(x, y),
                                                 abs=0.1)
    assert len(store.evaluations(cid, TARGET)) == 6
    store.engine.dispose()


@pytest.mark.slow
def test_a_cost_budget_stops_the_campaign(tmp_path: Path) -> None:
    campaign = make(tmp_path, "tracks", budget=40, cost_budget=700.0)
    with campaign.session() as session:
        result = session.run()
        spent = session.status()["fidelities"]["spent"]
    assert result.stop_reason == "cost budget"
    assert 700.0 <= spent < 700.0 + 2 * 100 + 20 * 1  # at most one cycle beyond


@pytest.mark.slow
def test_costs_may_change_between_runs_but_not_the_sources(tmp_path: Path) -> None:
    import matloop

    campaign = make(tmp_path, "tracks", budget=4)
    with campaign.session() as session:
        session.run()
    cheaper = config(budget=6)
    cheaper["fidelities"][0]["cost"] = 0.5
    cheaper["oracle"]["cost"] = 50.0
    with matloop.Campaign.from_dict(cheaper, base_dir=tmp_path).session() as session:
        session.run()
    moved = config(budget=8)
    moved["fidelities"][0]["oracle"]["path"] = "pool.csv"
    with pytest.raises(Exception, match="fidelities"), \
            matloop.Campaign.from_dict(moved, base_dir=tmp_path).session() as session:
        session.run()


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["fidelities"].append(dict(c["fidelities"][0])),
     "each needs its own name"),
    (lambda c: c["fidelities"][0].update(properties=["gap"]),
     r"fidelities.0.properties: \['gap'\] are not target properties"),
    (lambda c: c["fidelities"][0].update(oracle={"kind": "lab"}),
     r"a lab source needs a lab as the campaign's own \[oracle\]"),
    (lambda c: c["oracle"].pop("cost"), "give every source a cost"),
    (lambda c: (c["oracle"].update(kind="lab"), c["oracle"].pop("cost"),
                c["fidelities"][0].pop("cost")),
     r"with a lab as the \[oracle\], give every source a cost"),
    (lambda c: c["loop"].update(mode="async", batch_size=1),
     'runs in mode = "batch"'),
    (lambda c: c["loop"].update(acquisition="ucb"), "acquisition"),
    (lambda c: c["fidelities"][0].update(name="no spaces"), "fidelities.0.name"),
])
def test_bad_fidelities_name_the_field(tmp_path: Path, change: Any, message: str) -> None:
    import matloop

    write_tables(tmp_path, "tracks")
    bad = config()
    change(bad)
    with pytest.raises(ConfigError, match=message):
        matloop.Campaign.from_dict(bad, base_dir=tmp_path)


def test_a_source_with_a_missing_file_is_refused_before_anything_runs(tmp_path: Path
                                                                       ) -> None:
    campaign = make(tmp_path, "tracks")
    (tmp_path / "cheap.csv").unlink()
    with campaign.session() as session, pytest.raises(ConfigError,
                                                      match=r"fidelities.0 \(cheap\)"):
        session.run()
    assert not (tmp_path / "mf.db").exists()


def lab_session(tmp_path: Path, budget: int = 10) -> Any:
    """The two-source campaign with the lab as its own oracle (the pool's ``score`` is
    what the lab would measure)."""
    import matloop

    write_tables(tmp_path, "tracks")
    lab = config("mf-lab", budget=budget)
    lab["oracle"] = {"kind": "lab", "cost": 100.0}
    return matloop.Campaign.from_dict(lab, base_dir=tmp_path).session()


def measure_in_the_lab(batch: Any) -> Any:
    """Play the lab: the batch sheet with each candidate's ``score`` filled in."""
    filled = batch.copy()
    filled["score"] = [surface(x, y) for x, y in zip(batch["x"], batch["y"], strict=True)]
    filled["status"] = "ok"
    return filled


def test_a_lab_campaign_measures_its_cheaper_source_while_it_proposes(tmp_path: Path
                                                                      ) -> None:
    sizes = []
    with lab_session(tmp_path) as session:
        for _ in range(4):
            batch = session.propose()
            assert session.propose().equals(batch)  # awaiting: the same batch again
            session.add_results(measure_in_the_lab(batch))
            sizes.append(len(batch))
        status = session.status()
        store, cid = session._open(write=False)
        target = store.evaluations(cid)
        cheap = store.evaluations(cid, "cheap")
        strategies = [c.strategy for c in store.cycles(cid)]
    # the lab measured what was proposed to it, the source what the loop gave it
    # (a cost-aware cycle spends two lab evaluations' cost, on one and cheaper ones)
    assert sizes[0] == 4 and min(sizes) >= 1 and len(target) == sum(sizes) <= 10
    assert all(e.status == "succeeded" and e.values["score"] < CHEAP_OFFSET - 1
               for e in target)
    assert len(cheap) > len(target) and all(e.status == "succeeded" for e in cheap)
    assert all(e.values["score"] > CHEAP_OFFSET - 1 for e in cheap)
    assert len({e.key for e in cheap}) == len(cheap)  # none measured twice
    # the initial design was probed; once the source paid, the cycles were cost-aware
    assert strategies[0] == "initial"
    assert any("multi-fidelity (cheap)" in s for s in strategies), strategies
    assert status["best"]["score"] == max(e.values["score"] for e in target)
    sources = {s["name"]: s for s in status["fidelities"]["sources"]}
    assert sources["cheap"]["verdict"] == {"score": "pays"}
    assert status["stop_reason"] == "lab results in: ready to propose the next batch"


def test_cheaper_measurements_a_stopped_propose_left_are_made_by_the_next(tmp_path: Path
                                                                        ) -> None:
    with lab_session(tmp_path) as session:
        batch = session.propose()
        store, cid = session._open(write=True)
        measured = store.evaluated_rows(cid, EVERY_FIDELITY)
        row = next(i for i in range(len(session.pool)) if i not in measured)
        pool = session.pool
        left = store.propose(cid, 0, [Proposal(row, pool.key(row),
                                               pool.candidate(row).label, "cheap")])
        store.mark_running(left[0].evaluation_id, 1)  # as a killed propose leaves it
        assert session.propose().equals(batch)  # the batch still awaits
        finished = {e.key: e for e in store.evaluations(cid, "cheap")}
    assert finished[pool.key(row)].status == "succeeded"
    assert finished[pool.key(row)].values["score"] > CHEAP_OFFSET - 1


@pytest.mark.slow
def test_a_quicker_lab_measurement_is_a_source_whose_batches_await_results_too(
        tmp_path: Path) -> None:
    import matloop
    from matloop.errors import DataError

    write_tables(tmp_path, "tracks")
    both = config("two-labs", budget=8)
    both["oracle"] = {"kind": "lab", "cost": 100.0}
    both["fidelities"][0]["oracle"] = {"kind": "lab"}  # a quick screening assay
    fidelities = []
    with matloop.Campaign.from_dict(both, base_dir=tmp_path).session() as session:
        for _ in range(4):
            batch = session.propose()
            fidelities += list(batch["fidelity"])
            filled = measure_in_the_lab(batch)
            screen = filled["fidelity"] == "cheap"
            filled.loc[screen, "score"] = CHEAP_OFFSET + 0.8 * filled.loc[screen, "score"]
            if _ == 0:  # a source the campaign does not have: named by row and column
                wrong = filled.copy()
                wrong.loc[0, "fidelity"] = "xrd"
                with pytest.raises(DataError, match=r"row 2, column 'fidelity': 'xrd'"):
                    session.add_results(wrong)
            report = session.add_results(filled)
            assert report.kinds["filled"] == len(batch) and report.still_awaiting == 0
        status = session.status()
        store, cid = session._open(write=False)
        target = store.evaluations(cid)
        cheap = store.evaluations(cid, "cheap")
        with pytest.raises(ConfigError, match="cheap is a lab"):
            session.run(oracle=lambda x, y: {"score": surface(x, y)})
    # the initial design went to both labs; each result landed at its own source
    assert fidelities[:8].count("target") == 4 and fidelities[:8].count("cheap") == 4
    # then, the assay paying, cost-aware batches: mostly screening, a few confirmations
    assert fidelities.count("cheap") > 4 * fidelities.count("target")
    assert all(e.values["score"] < CHEAP_OFFSET - 1 for e in target)
    assert cheap and all(e.values["score"] > CHEAP_OFFSET - 1 for e in cheap)
    assert status["evaluations"]["succeeded"] == len(target) <= 8
    sources = {s["name"]: s for s in status["fidelities"]["sources"]}
    assert sources["cheap"]["evaluations"]["succeeded"] == len(cheap)


def test_a_lab_source_probes_the_picks_of_model_cycles_before_it_pays(tmp_path: Path
                                                                      ) -> None:
    import matloop

    write_tables(tmp_path, "tracks")
    both = config("two-labs-undecided", budget=8)
    both["oracle"] = {"kind": "lab", "cost": 100.0}
    both["fidelities"][0]["oracle"] = {"kind": "lab"}
    with matloop.Campaign.from_dict(both, base_dir=tmp_path).session() as session:
        first = measure_in_the_lab(session.propose())
        first.loc[first["fidelity"] == "cheap", "score"] = CHEAP_OFFSET  # says nothing yet
        session.add_results(first)
        batch = session.propose()  # a model cycle: each target pick probed at the assay
        verdict = session.status()["fidelities"]["sources"][1]["verdict"]
    assert verdict == {"score": "undecided"}
    target = batch[batch["fidelity"] == "target"]
    probes = batch[batch["fidelity"] == "cheap"]
    assert len(target) == 2 and sorted(probes["candidate_id"]) == sorted(
        target["candidate_id"])
    assert target["predicted_score"].notna().all()
    assert list(probes["predicted_score"]) == list(
        target.set_index("candidate_id").loc[probes["candidate_id"], "predicted_score"])
