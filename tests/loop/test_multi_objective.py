"""Two objectives end to end: Branin–Currin (both minimised) on a 30 x 30 grid.

The loop must reach nearly the pool's whole hypervolume and beat random search's 95th
percentile with the same budget and reference point; the reference point is fixed once
chosen (so hypervolumes stay comparable), survives a resume, and shows in status.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from matloop.campaigns import load
from matloop.campaigns.pareto import hypervolume, signed_reference
from matloop.campaigns.targets import TargetSet
from matloop.loop.session import Session, run
from matloop.store import Store

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]
BUDGET = 24


@pytest.fixture
def branin_currin(tmp_path: Path) -> Path:
    import torch
    from botorch.test_functions.multi_objective import BraninCurrin

    grid = np.linspace(0, 1, 30)
    X = np.array([(a, b) for a in grid for b in grid])
    Y = BraninCurrin()(torch.as_tensor(X)).numpy()
    with (tmp_path / "bc.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x1", "x2", "branin", "currin"])
        writer.writerows([*x, *y] for x, y in zip(X.tolist(), Y.tolist(), strict=True))
    path = tmp_path / "bc.toml"
    path.write_text(textwrap.dedent(f"""
        [campaign]
        name = "bc"
        seed = 1

        [space]
        kind = "table"
        path = "bc.csv"
        inputs = ["x1", "x2"]

        [[targets]]
        property = "branin"
        goal = "minimize"

        [[targets]]
        property = "currin"
        goal = "minimize"

        [oracle]
        kind = "table"

        [loop]
        initial = 6
        batch_size = 3
        budget = {BUDGET}
    """))
    return path


def pool_values(path: Path) -> np.ndarray:
    rows = list(csv.DictReader((path.parent / "bc.csv").open()))
    return np.array([[float(r["branin"]), float(r["currin"])] for r in rows])


def test_hypervolume_search_beats_random_and_nearly_fills_the_front(branin_currin) -> None:
    campaign = load(branin_currin)
    targets = TargetSet.from_targets(campaign.targets)
    result = run(campaign.with_overrides(budget=BUDGET // 2))
    assert result.stop_reason == "budget"
    first = Session(campaign).status()["reference_point"]
    result = run(campaign)  # resumed: the reference point chosen in the first run stays
    assert result.stop_reason == "budget" and result.counts["succeeded"] == BUDGET

    store = Store(campaign.database_url, create=False)
    cycles = store.cycles(store.campaign_id("bc"))
    assert [c.strategy for c in cycles][1:] == ["ehvi"] * (len(cycles) - 1)
    recorded = [c.best for c in cycles[1:]]
    assert all(r["reference"] == first for r in recorded)
    history = [r["hypervolume"] for r in recorded]
    assert history == sorted(history)  # measured hypervolume never shrinks

    summary = Session(campaign).status()
    reference = signed_reference(targets, summary["reference_point"])
    Y = pool_values(branin_currin)
    rng = np.random.default_rng(0)
    random_search = [hypervolume(targets, Y[rng.choice(len(Y), BUDGET, replace=False)],
                                 reference) for _ in range(200)]
    assert result.hypervolume == pytest.approx(summary["hypervolume"])
    assert result.hypervolume > np.percentile(random_search, 95)
    assert result.hypervolume > 0.97 * hypervolume(targets, Y, reference)
    assert summary["hits"] is None and 2 <= len(summary["pareto_candidates"]) <= BUDGET


@pytest.mark.slow
def test_status_and_predict_speak_multi_objective(branin_currin, tmp_path: Path) -> None:
    campaign = load(branin_currin).with_overrides(budget=12)
    run(campaign)
    ranking = Session(campaign).ranking(top=5)
    assert ranking.score_name == "acquisition (ehvi)"
    assert len(ranking.keys) == 5 and np.all(np.diff(ranking.score) <= 0)
    db = ["--db", campaign.database_url]
    status = subprocess.run([*MATLOOP, "status", str(branin_currin), *db], text=True,
                            capture_output=True, check=True).stdout
    assert "Pareto front" in status and "hypervolume" in status and "reference" in status
    out = tmp_path / "run.log"
    with out.open("w") as handle:
        subprocess.run([*MATLOOP, "run", str(branin_currin), *db, "--budget", "15"],
                       stdout=handle, stderr=subprocess.STDOUT, check=True)
    assert "hypervolume" in out.read_text()
