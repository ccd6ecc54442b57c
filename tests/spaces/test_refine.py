"""Continuous refinement of a box space's picks (``loop.refine``, ``spaces.region``).

The region in features reproduces the pool's own features and constraints; a refined
pick is feasible, new, better by the acquisition than the drawn pick it started from,
keeps the pick's integers and options, is stored with its values and rebuilt when the
campaign resumes; a lab batch carries refined candidates out and back in; and on a
response whose optimum lies between the drawn candidates the refined loop gets closer
to it than the loop that only picks drawn candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.spaces.test_box import LAB, MIXTURE, answer_batch, write

import matloop
from matloop.spaces.build import build_pool
from matloop.spaces.region import Region


def region_of(path: Path) -> Region:
    campaign = matloop.Campaign.from_file(path)
    with campaign.session() as session:
        return Region.of(campaign.space, session.space)  # type: ignore[arg-type]


def test_the_region_reproduces_the_pools_features_and_constraints(tmp_path: Path) -> None:
    text = MIXTURE.replace('T = {low = 300, high = 900, resolution = 10}',
                           'T = {low = 300, high = 900, resolution = 10}\n'
                           'hours = {low = 0.01, high = 100, log = true}')
    region = region_of(write(tmp_path, text))
    pool, features = region.featurised.pool, region.featurised.features
    names = region.featurised.names
    assert {names[j] for j in region.free} == {*"abcdef", "T", "log10(hours)"}  # not n
    for row in (0, 17, 123):
        values, at = region.candidate(features[row], row)
        assert np.array_equal(values, pool.values[row])  # drawn values are already rounded
        assert np.allclose(at, features[row])
    inequalities, equalities = region.linear()
    for columns, a, rhs in equalities:  # a + ... + f = 1
        assert np.abs(features[:, columns] @ np.array(a) - rhs).max() <= 3.1e-4
    for columns, a, rhs in inequalities:  # Σ a·x >= rhs, up to rounding
        assert (features[:, columns] @ np.array(a) - rhs).min() >= -2e-4
    assert not region.admits(pool.values[5])  # already a candidate
    moved = pool.values[5].copy()
    moved[0] += 0.3  # breaks a + ... + f = 1
    assert not region.admits(moved)


def test_refined_picks_are_feasible_new_and_keep_their_integers_and_options(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, MIXTURE.replace("budget = 8", "budget = 12"))
    with matloop.Campaign.from_file(path).session() as session:
        drawn = len(session.pool)
        session.run()
        rows = session.evaluations()
        pool = session.pool
    refined = list(range(drawn, len(pool)))
    assert refined, "no pick was refined"
    v = pool.values[refined]
    assert np.abs(v[:, :6].sum(axis=1) - 1).max() <= 6 * 0.5e-4 + 1e-12
    assert v[:, 0].max() <= 0.45 and (2 * v[:, 1] + v[:, 2]).max() <= 0.8 + 1.5e-4
    assert set(v[:, 6] % 10) == {0.0} and set(v[:, 7]) <= {1.0, 2.0, 3.0, 4.0}
    assert len({pool.key(i) for i in range(len(pool))}) == len(pool)  # all new
    assert len(rows) == 12 and rows["candidate"].is_unique
    assert {pool.candidate(i).label for i in refined} <= set(rows["candidate"])


def test_a_resumed_campaign_rebuilds_its_refined_candidates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, MIXTURE.replace("budget = 8", "budget = 10"))
    with matloop.Campaign.from_file(path).session() as session:
        session.run()
        grown = len(session.pool)
        first = session.evaluations()
    with matloop.Campaign.from_file(path).session() as session:
        assert len(session.pool) == grown  # the refined candidates, read back
        session.run(budget=14)
        again = session.evaluations()
    assert grown > 3000 - 100 and len(again) == 14
    assert list(again["candidate"][:10]) == list(first["candidate"])
    assert again["candidate"].is_unique


def test_without_refinement_every_pick_is_a_drawn_candidate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, MIXTURE.replace('kind = "box"', 'kind = "box"\nrefine = false'))
    with matloop.Campaign.from_file(path).session() as session:
        drawn = len(session.pool)
        session.run()
        assert len(session.pool) == drawn


def test_a_lab_batch_carries_refined_candidates_out_and_back(tmp_path: Path) -> None:
    path = write(tmp_path, LAB.replace("budget = 6", "budget = 15"))
    for _ in range(5):
        answer_batch(path, lambda row: -(float(row["a"]) - 0.3) ** 2
                     - (float(row["T"]) - 600) ** 2 / 1e5)
    campaign = matloop.Campaign.from_file(path)
    with campaign.session() as session:
        done = session.evaluations()
        outside = [session.pool.candidate(i).label
                   for i in range(len(build_pool(campaign.space)), len(session.pool))]
    assert (done["status"] == "succeeded").sum() == 15
    assert outside and set(outside) <= set(done["candidate"])  # refined, measured, read back


ONE_D = '''[campaign]
name = "peak"

[space]
kind = "box"
samples = 12
refine = {refine}

[space.parameters]
x = {{low = 0, high = 1}}

[[targets]]
property = "y"
goal = "maximize"

[oracle]
kind = "python"
function = "peakfun:peak"

[loop]
initial = 4
budget = 10
'''


def test_refinement_finds_an_optimum_between_the_drawn_candidates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """12 drawn points on [0, 1] and a smooth peak at 0.6180: the drawn candidates lie
    up to ~0.04 from it; refined picks land within 0.01."""
    (tmp_path / "peakfun.py").write_text(
        "def peak(x):\n    return {'y': -(x - 0.618034) ** 2}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    best = {}
    for refine in ("true", "false"):
        path = tmp_path / f"peak-{refine}.toml"
        path.write_text(ONE_D.format(refine=refine).replace('"peak"', f'"peak-{refine}"'))
        with matloop.Campaign.from_file(path).session() as session:
            drawn = session.pool.values[:, 0]
            session.run()
            best[refine] = session.evaluations()["x"].astype(float).to_numpy()
    gap = np.abs(drawn - 0.618034).min()
    assert gap > 0.01
    assert np.abs(best["false"] - 0.618034).min() >= gap - 1e-12
    assert np.abs(best["true"] - 0.618034).min() < 0.01
