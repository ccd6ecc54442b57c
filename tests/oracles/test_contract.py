"""Every registered oracle honours the Oracle contract, built from a real campaign."""

from __future__ import annotations

import json
import math
import pickle
import shutil
import textwrap
from pathlib import Path

import pytest

from matloop.campaigns import load
from matloop.loop.build import ORACLES, RECORDED_ORACLES, build_oracle
from matloop.loop.evaluate import evaluate
from matloop.protocols import Candidate, Outcome
from matloop.spaces.build import build_pool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# oracle kind -> the campaigns that build it (each oracle kind, each way it is built)
CASES = {"table": ("crossed-barrel",), "python": ("toy",),
         "ase": ("emt-alloys", "structures-emt")}


def example_copy(name: str, folder: Path) -> Path:
    """A copy of ``examples/<name>.toml`` (and its prototypes) in ``folder``, so that its
    scratch folder goes there."""
    shutil.copytree(EXAMPLES / "data" / "prototypes", folder / "data" / "prototypes",
                    dirs_exist_ok=True)
    shutil.copy(EXAMPLES / f"{name}.toml", folder / f"{name}.toml")
    return folder / f"{name}.toml"


@pytest.fixture(params=[(kind, name) for kind in sorted(CASES) for name in CASES[kind]],
                ids=lambda case: "-".join(case))
def campaign_file(request: pytest.FixtureRequest, tmp_path: Path, crossed_barrel,
                  python_campaign) -> Path:
    kind, name = request.param
    if kind == "table":
        return crossed_barrel()
    if kind == "python":
        return python_campaign()
    return example_copy(name, tmp_path)


def test_every_registered_oracle_is_covered() -> None:
    assert set(CASES) == set(ORACLES)
    assert not set(ORACLES) & set(RECORDED_ORACLES)


def test_oracle_is_picklable_and_evaluates_a_pool_candidate(campaign_file: Path) -> None:
    campaign = load(campaign_file)
    oracle = pickle.loads(pickle.dumps(build_oracle(campaign)))
    candidate = build_pool(campaign.space).candidate(0)
    outcome = evaluate(oracle, candidate, campaign.properties)
    assert isinstance(outcome, Outcome)
    assert outcome.ok, outcome.error
    assert set(campaign.properties) <= set(outcome.values) == set(oracle.properties)
    assert all(math.isfinite(v) for v in outcome.values.values())
    assert outcome.duration_s > 0
    assert json.loads(json.dumps(outcome.provenance)) == outcome.provenance  # storable
    again = evaluate(pickle.loads(pickle.dumps(oracle)), candidate, campaign.properties)
    assert again.values == pytest.approx(outcome.values, rel=1e-9)


def test_table_lookup_of_unknown_candidate_fails(crossed_barrel) -> None:
    oracle = build_oracle(load(crossed_barrel()))
    outcome = oracle.evaluate(Candidate(key="n=1.0", label="n=1", inputs={"n": 1.0}))
    assert not outcome.ok and outcome.reason == "invalid"


def test_table_missing_value_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("x,p\n1,2.5\n2,\n")
    path = tmp_path / "t.toml"
    path.write_text(textwrap.dedent("""
        [campaign]
        name = "t"
        [space]
        kind = "table"
        path = "t.csv"
        inputs = ["x"]
        [[targets]]
        property = "p"
        goal = "minimize"
        [oracle]
        kind = "table"
        [loop]
        initial = 1
        budget = 2
    """))
    campaign = load(path)
    pool, oracle = build_pool(campaign.space), build_oracle(campaign)
    assert oracle.evaluate(pool.candidate(0)).values == {"p": 2.5}
    missing = oracle.evaluate(pool.candidate(1))
    assert not missing.ok and missing.reason == "invalid" and "no value of p" in missing.error


def test_table_oracle_of_a_dataframe_pool(tmp_path: Path) -> None:
    import pandas as pd

    from matloop.api import Campaign

    frame = pd.DataFrame({"x": [1.0, 2.0, 2.0, 3.0], "p": [2.5, 1.0, 3.0, None]})
    campaign = Campaign.from_dict({
        "campaign": {"name": "df"},
        "space": {"kind": "table", "inputs": ["x"]},
        "targets": [{"property": "p", "goal": "minimize"}],
        "oracle": {"kind": "table"},
        "loop": {"initial": 1, "budget": 2},
    }, pool=frame, base_dir=tmp_path)
    oracle = pickle.loads(pickle.dumps(build_oracle(campaign)))
    pool = build_pool(campaign.space)
    values = {pool.candidate(i).key: oracle.evaluate(pool.candidate(i)) for i in range(len(pool))}
    assert [v.values for v in values.values() if v.ok] == [{"p": 2.5}, {"p": 2.0}]  # averaged
    (missing,) = [v for v in values.values() if not v.ok]
    assert missing.reason == "invalid" and "DataFrame" in (missing.error or "")


def test_python_oracle_failures_become_outcomes(python_campaign) -> None:
    campaign = load(python_campaign())
    oracle = build_oracle(campaign)
    raised = evaluate(oracle, Candidate("k", "k", inputs={"x": 0.9, "y": 0.1}), ["score"])
    assert not raised.ok and raised.reason == "error"
    assert "RuntimeError: synthesis failed" in (raised.error or "")
    assert "Traceback" in (raised.error or "")
    nan = evaluate(oracle, Candidate("k", "k", inputs={"x": 0.1, "y": 1.0}), ["score"])
    assert not nan.ok and nan.reason == "invalid" and "not finite" in (nan.error or "")


def test_python_oracle_with_missing_function_is_a_config_error(python_campaign) -> None:
    from matloop.errors import ConfigError

    path = python_campaign()
    path.write_text(path.read_text().replace("toy:score", "toy:nothing"))
    with pytest.raises(ConfigError, match="no callable 'nothing'"):
        build_oracle(load(path))


def test_evaluation_failure_carries_its_reason(tmp_path: Path, python_campaign) -> None:
    path = python_campaign()
    (path.parent / "toy.py").write_text(textwrap.dedent("""
        from matloop.errors import Infeasible

        def score(x, y):
            raise Infeasible("did not form")
    """))
    oracle = build_oracle(load(path))
    outcome = evaluate(oracle, Candidate("k", "k", inputs={"x": 0.1, "y": 0.1}), ["score"])
    assert (outcome.ok, outcome.reason, outcome.error) == (False, "infeasible", "did not form")


def test_a_target_unit_must_match_the_oracle(tmp_path: Path) -> None:
    from matloop.errors import ConfigError

    text = (EXAMPLES / "emt-alloys.toml").read_text()
    path = tmp_path / "emt.toml"
    path.write_text(text.replace('unit = "eV/atom"', 'unit = "kJ/mol"'))
    with pytest.raises(ConfigError, match=r"targets.0.unit: .*'eV/atom', not 'kJ/mol'"):
        build_oracle(load(path))
    path.write_text(text.replace('unit = "eV/atom"', 'unit = "eV / atom"'))
    assert build_oracle(load(path)).properties
