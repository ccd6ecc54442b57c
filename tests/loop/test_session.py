"""The library as a notebook uses it: a campaign from a DataFrame, propose, add results,
run with a Python function, rank, status, evaluations, report — then the same database
reopened in a new process, which continues where the first left off."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import matloop
from matloop.testing import FakeOracle

ROOT = Path(__file__).resolve().parents[2]


def strength(x: float, y: float) -> dict[str, float]:
    """A smooth 2-D landscape with its maximum at (0.7, 0.3); MPa."""
    return {"strength": 100.0 - 80.0 * ((x - 0.7) ** 2 + (y - 0.3) ** 2)}


def pool() -> pd.DataFrame:
    grid = np.round(np.linspace(0.0, 1.0, 11), 2)
    x, y = np.meshgrid(grid, grid, indexing="ij")
    return pd.DataFrame({"x": x.ravel(), "y": y.ravel(), "batch": "A"})


def config(budget: int = 14) -> dict:
    return {"campaign": {"name": "notebook", "seed": 3},
            "space": {"kind": "table", "inputs": ["x", "y"]},
            "targets": [{"property": "strength", "unit": "MPa", "goal": "maximize"}],
            "oracle": {"kind": "lab"},
            "loop": {"budget": budget, "initial": 4, "batch_size": 2}}


def measure(batch: pd.DataFrame) -> pd.DataFrame:
    """What the lab does with a proposed batch: fill in the result column."""
    filled = batch.copy()
    filled["strength [MPa]"] = [strength(x, y)["strength"]
                                for x, y in zip(batch["x"], batch["y"], strict=True)]
    filled["status"] = "ok"
    return filled


@pytest.mark.slow
def test_a_notebook_session_end_to_end_and_resumed_in_a_new_process(tmp_path: Path) -> None:
    db = tmp_path / "notebook.db"
    campaign = matloop.Campaign.from_dict(config(), pool=pool(), base_dir=tmp_path)
    with campaign.session(db=db) as session:
        batch = session.propose(4)
        assert list(batch.columns[:4]) == ["candidate_id", "candidate", "x", "y"]
        assert len(batch) == 4 and batch["strength [MPa]"].isna().all()
        assert session.status()["evaluations"]["awaiting"] == 4
        assert session.propose(4).equals(batch)  # still awaiting: the same batch again

        report = session.add_results(measure(batch))
        assert report.stored == 4 and report.kinds["filled"] == 4
        status = session.status()
        assert status["evaluations"] == {"succeeded": 4, "failed": 0, "pending": 0,
                                         "awaiting": 0}

        second = session.propose()  # a model batch: predictions for every pick
        assert len(second) == 2 and second["predicted_strength [MPa]"].notna().all()
        assert (second["std_strength [MPa]"] > 0).all()

        result = session.run(budget=10, oracle=strength)  # evaluates the awaiting two too
        assert result.stop_reason == "budget"
        assert result.counts["succeeded"] == 10 and result.counts.get("awaiting", 0) == 0
        assert result.best == pytest.approx(session.status()["best"]["strength"])

        ranking = session.rank(top=5)
        assert len(ranking) == 5 and list(ranking["rank"]) == [1, 2, 3, 4, 5]
        assert {"candidate", "predicted_strength [MPa]", "std_strength [MPa]"} <= \
            set(ranking.columns)
        measured = set(session.evaluations()["candidate"])
        assert not measured & set(ranking["candidate"])  # only unmeasured candidates

        evaluations = session.evaluations()
        assert len(evaluations) == 10 and (evaluations["status"] == "succeeded").all()
        assert list(evaluations.columns[:6]) == ["candidate_id", "candidate", "x", "y",
                                                 "status", "strength"]
        page = session.report(tmp_path / "report")
        assert page.name == "report.html" and page.stat().st_size > 10_000
        first_status = session.status()

    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import matloop
        from test_session import config, pool, strength
        campaign = matloop.Campaign.from_dict(config(budget=16), pool=pool(),
                                              base_dir={str(tmp_path)!r})
        with campaign.session(db={str(db)!r}) as session:
            before = session.status()
            result = session.run(oracle=strength)
            print(json.dumps({{"before": before["evaluations"], "stop": result.stop_reason,
                              "after": session.status()["evaluations"],
                              "keys": list(session.evaluations()["candidate_id"])}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    resumed = json.loads(done.stdout.strip().splitlines()[-1])
    assert resumed["before"] == first_status["evaluations"]
    assert resumed["stop"] == "budget"
    assert resumed["after"]["succeeded"] == 16
    assert len(set(resumed["keys"])) == 16  # none evaluated twice


def test_add_results_checks_every_row_and_stores_nothing_on_a_problem(tmp_path: Path) -> None:
    campaign = matloop.Campaign.from_dict(config(), pool=pool(), base_dir=tmp_path)
    with campaign.session() as session:
        batch = measure(session.propose(4))
        batch["strength [MPa]"] = batch["strength [MPa]"].astype(object)
        batch.loc[1, "strength [MPa]"] = "strong"
        batch.loc[3, "status"] = "maybe"
        with pytest.raises(matloop.DataError) as raised:
            session.add_results(batch)
        problems = raised.value.problems
        assert len(problems) == 2
        assert "row 3" in problems[0] and "'strength [MPa]'" in problems[0]
        assert "row 5" in problems[1] and "'status'" in problems[1]
        assert session.status()["evaluations"]["awaiting"] == 4
        assert session.status()["evaluations"]["succeeded"] == 0


def test_a_pool_frame_and_a_path_are_exclusive_and_one_is_needed(tmp_path: Path) -> None:
    with pytest.raises(matloop.ConfigError, match="space"):
        matloop.Campaign.from_dict(config(), base_dir=tmp_path)
    both = config()
    both["space"]["path"] = "pool.csv"
    with pytest.raises(matloop.ConfigError, match="not both"):
        matloop.Campaign.from_dict(both, pool=pool(), base_dir=tmp_path)


def test_status_of_a_campaign_never_run_raises_and_creates_nothing(tmp_path: Path) -> None:
    campaign = matloop.Campaign.from_dict(config(), pool=pool(), base_dir=tmp_path)
    with pytest.raises(matloop.StoreError):
        campaign.session().status()
    assert not (tmp_path / "notebook.db").exists()


def test_run_with_a_fake_oracle_records_its_failures(tmp_path: Path) -> None:
    cfg = config(budget=12)
    cfg["targets"] = [{"property": "y", "goal": "maximize"}]
    campaign = matloop.Campaign.from_dict(cfg, pool=pool(), base_dir=tmp_path)
    with campaign.session() as session:
        result = session.run(oracle=FakeOracle(("y",), fail_every=4))
        failures = session.evaluations().query("status == 'failed'")
    assert result.counts["succeeded"] + result.counts["failed"] == 12
    assert len(failures) == result.counts["failed"] > 0
    assert (failures["reason"] == "infeasible").all()
    assert failures["error"].str.startswith("fake failure").all()


def test_a_campaign_from_a_dict_is_the_campaign_of_the_same_file(
        make_campaign, crossed_barrel, crossed_barrel_config, crossed_barrel_pool,
        python_campaign, toy_config, toy_pool, lab_p3ht_config, p3ht_pool) -> None:
    """``from_dict`` and ``from_file`` give the same campaign and pool — and the dicts the
    tests build campaigns from (conftest.py) are the campaigns of the files they stand for:
    the fixtures' files and examples/lab-p3ht.toml."""

    def same(path: Path, built: matloop.Campaign) -> None:
        read = matloop.Campaign.from_file(path)
        expected, got = read.model_dump(mode="json"), built.model_dump(mode="json")
        expected["space"].pop("path")
        got["space"].pop("path")
        assert got == expected
        pools = [matloop.Session(c).pool for c in (read, built)]
        assert [p.key(i) for p in pools for i in range(len(p))] == \
            [pools[0].key(i) for i in range(len(pools[0]))] * 2

    settings = {"budget": 9, "initial": 3, "batch_size": 2, "workers": 2, "seed": 5}
    same(crossed_barrel(**settings), make_campaign(crossed_barrel_config(**settings)))
    same(crossed_barrel(**settings, acquisition="ucb"),
         make_campaign(crossed_barrel_config(**settings, acquisition="ucb", pool=True),
                       pool=crossed_barrel_pool))
    same(python_campaign(**settings), make_campaign(toy_config(**settings), pool=toy_pool))
    same(ROOT / "examples" / "lab-p3ht.toml", make_campaign(lab_p3ht_config(),
                                                            pool=p3ht_pool))


def test_help_of_the_package_names_the_api() -> None:
    assert "Session" in (matloop.__doc__ or "") and "Campaign" in matloop.__all__
    assert matloop.Session.__doc__ and matloop.Campaign.from_dict.__doc__
    with pytest.raises(AttributeError):
        matloop.NoSuchThing  # noqa: B018


@pytest.mark.parametrize("db", ["sqlite:///:memory:", "sqlite://", ":memory:"])
def test_an_in_memory_database_is_refused(make_campaign, crossed_barrel_config,
                                          db: str) -> None:
    from matloop.errors import ConfigError

    campaign = make_campaign(crossed_barrel_config())
    with pytest.raises(ConfigError, match="in memory and would keep nothing"):
        campaign.session(db)


def test_bad_output_paths_are_one_line_errors(make_campaign, crossed_barrel_config,
                                              tmp_path: Path) -> None:
    from matloop.errors import ConfigError

    campaign = make_campaign(crossed_barrel_config(budget=5, initial=5))
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    with campaign.session() as session:
        session.run()
        with pytest.raises(ConfigError, match="is a folder; give the path of a CSV"):
            session.export(tmp_path)
        with pytest.raises(ConfigError, match=r"cannot write .*a-file/x\.csv"):
            session.export(a_file / "x.csv")
        with pytest.raises(ConfigError, match="is a file; the report is a folder"):
            session.report(a_file)
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize("outlier", [1e90, -1e90])
def test_one_huge_but_allowed_value_never_blocks_the_model(tmp_path: Path,
                                                          outlier: float) -> None:
    """Item 1 of issue 27: one measured value of 1e90 (below the 1e100 limit) must not
    make every later fit fail; each cycle after the initial design stays model-based."""
    cfg = config(budget=10)
    cfg["targets"] = [{"property": "y", "goal": "maximize"}]
    cfg["loop"]["initial"] = 4
    campaign = matloop.Campaign.from_dict(cfg, pool=pool(), base_dir=tmp_path)
    calls = []

    def measure(**inputs: float) -> dict[str, float]:
        calls.append(inputs)
        return {"y": outlier if len(calls) == 2 else sum(inputs.values())}

    with campaign.session() as session:
        result = session.run(oracle=measure)
        store, campaign_id = session._open(write=False)
        strategies = [c.strategy for c in store.cycles(campaign_id)]
    assert result.counts["succeeded"] == 10
    assert all("model failed" not in s for s in strategies), strategies
    assert sum(not s.startswith("random") for s in strategies) >= 1, strategies
