"""Structure campaigns end to end: real EMT recipes, the store, scratch folders, resume."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from matloop.campaigns import load
from matloop.features.structure import StructureFeaturizer
from matloop.loop.session import run
from matloop.oracles.recipes import FINAL_NAME, LOG_NAME
from matloop.spaces.build import FEATURES_FILE
from matloop.store import Store

ROOT = Path(__file__).resolve().parents[2]
MATLOOP = [sys.executable, "-m", "matloop.cli.main"]


def campaign_file(folder: Path, name: str, recipe: str, budget: int, initial: int,
                  extra: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(f"""
        [campaign]
        name = "{name}"

        [space]
        kind = "structures"
        path = "structures"

        [[targets]]
        property = "bulk_modulus"
        unit = "GPa"
        goal = "maximize"

        [oracle]
        kind = "ase"
        calculator = "emt"
        recipe = "{recipe}"
        {extra}

        [loop]
        initial = {initial}
        budget = {budget}
    """), encoding="utf-8")
    return path


def rows(path: Path) -> list[tuple[str, str | None, dict]]:
    """(status, reason, provenance) of every evaluation, oldest first."""
    campaign = load(path)
    database = campaign.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        found = connection.execute(
            "select status, reason, provenance from evaluation order by id").fetchall()
    return [(s, r, json.loads(p or "{}")) for s, r, p in found]


@pytest.mark.slow
def test_structure_campaign_runs_records_and_resumes(
        tmp_path: Path, fcc_cifs: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fcc_cifs()
    path = campaign_file(tmp_path, "st", "eos", budget=4, initial=3)
    result = run(load(path))
    assert result.stop_reason == "budget"
    assert result.counts["succeeded"] == 4
    campaign = load(path)
    store = Store(campaign.database_url, create=False)
    evaluations = store.evaluations(store.campaign_id("st"))
    assert len({e.key for e in evaluations}) == 4
    assert "Cu_conventional" not in {e.key for e in evaluations}  # the duplicate
    assert all(100 < e.values["bulk_modulus"] < 300 or e.key in ("Al", "Ag", "Cu3Au")
               for e in evaluations)
    assert evaluations[0].units["bulk_modulus"] == "GPa"
    for status, _, provenance in rows(path):
        assert status == "succeeded"
        assert provenance["calculator"] == "emt" and provenance["recipe"] == "eos"
        assert provenance["version"] and provenance["steps"] > 0
        assert "final_structure" in provenance
        folder = Path(provenance["scratch"])
        assert folder.parent.parent == campaign.scratch_dir
        assert (folder / LOG_NAME).exists() and (folder / FINAL_NAME).exists()
    cache = campaign.scratch_dir / FEATURES_FILE
    stamp = cache.stat().st_mtime_ns

    def fail(self: object, structures: object) -> None:
        raise AssertionError("features computed again on resume")

    monkeypatch.setattr(StructureFeaturizer, "transform", fail)
    resumed = run(load(path).with_overrides(budget=5))
    assert resumed.counts["succeeded"] == 5
    assert cache.stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_a_recipe_that_runs_out_of_steps_is_recorded_as_not_converged(
        tmp_path: Path, fcc_cifs: Callable[..., Path]) -> None:
    fcc_cifs(("Cu", "Ni"))
    path = campaign_file(tmp_path, "short", "relax", budget=2, initial=2,
                         extra="max_steps = 1")
    text = path.read_text().replace('property = "bulk_modulus"\nunit = "GPa"',
                                    'property = "energy_per_atom"\nunit = "eV/atom"')
    path.write_text(text.replace('goal = "maximize"', 'goal = "minimize"'))
    result = run(load(path))
    assert result.counts["failed"] == 2
    found = rows(path)
    assert [(status, reason) for status, reason, _ in found] == [("failed", "not_converged")] * 2
    assert all((Path(p["scratch"]) / LOG_NAME).exists() for _, _, p in found)


@pytest.mark.slow
def test_the_example_runs_with_the_cli(tmp_path: Path) -> None:
    folder = tmp_path / "examples"
    (folder / "data").mkdir(parents=True)
    import shutil

    shutil.copytree(ROOT / "examples" / "data" / "prototypes", folder / "data" / "prototypes")
    example = folder / "structures-emt.toml"
    example.write_text((ROOT / "examples" / "structures-emt.toml").read_text())
    done = subprocess.run([*MATLOOP, "run", str(example), "--budget", "6", "-q"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    status = subprocess.run([*MATLOOP, "status", str(example)], capture_output=True,
                            text=True, timeout=300, check=False)
    assert status.returncode == 0, status.stderr
    assert (folder / "structures-emt.scratch" / FEATURES_FILE).exists()
    found = rows(example)
    assert len(found) == 6 and all(s == "succeeded" for s, _, _ in found)
    assert all(p["recipe"] == "elastic" for _, _, p in found)


@pytest.mark.slow
def test_formation_energy_references_are_shared_by_parallel_workers(
        tmp_path: Path, fcc_cifs: Callable[..., Path]) -> None:
    from matloop.oracles.ase import REFERENCES_FILE

    fcc_cifs(("Cu", "Au", "Ni"))
    path = campaign_file(tmp_path, "form", "formation_energy", budget=4, initial=4,
                         extra="fmax = 0.02")
    text = path.read_text().replace('property = "bulk_modulus"\nunit = "GPa"',
                                    'property = "formation_energy_per_atom"\nunit = "eV/atom"')
    text = text.replace('goal = "maximize"', 'goal = "minimize"')
    path.write_text(text + "\n[executor]\nworkers = 2\n")
    result = run(load(path))
    assert result.counts["succeeded"] == 4
    scratch = load(path).scratch_dir
    cache = json.loads((scratch / REFERENCES_FILE).read_text())
    (digest,) = [k for k in cache if k != "settings"]
    assert set(cache[digest]) <= {"Au", "Cu", "Ni"} and "Cu" in cache[digest]
    assert not list(scratch.glob("*.tmp"))
    for _, _, provenance in rows(path):
        references = provenance["details"]["references_per_atom"]
        assert all(references[el] == pytest.approx(cache[digest][el]) for el in references)
    values = {e.key: e.values["formation_energy_per_atom"]
              for e in Store(load(path).database_url, create=False).evaluations(1)}
    for element in ("Cu", "Au", "Ni"):  # a pure element is its own reference
        if element in values:
            assert values[element] == pytest.approx(0.0, abs=2e-3)
