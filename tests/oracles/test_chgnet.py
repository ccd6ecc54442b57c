"""The CHGNet calculator: energies on the DFT scale, relaxation, elastic moduli against
the Materials Project, a campaign end to end and the superhard-chgnet examples.

Skipped where chgnet is not installed (``pip install -e ".[chgnet]"``). The pretrained
weights ship inside the package; nothing is downloaded.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.oracles.stable_example import run_stable_example

pytest.importorskip("chgnet")

from ase.build import bulk
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from matloop.campaigns import load
from matloop.loop.build import build_oracle
from matloop.oracles.calculators import make_calculator
from matloop.oracles.recipes import elastic, energy, relax

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "superhard-chgnet-mp.toml"
STRUCTURES_CSV = ROOT / "examples" / "data" / "mp_binary_structures_le4.csv"
MATLOOP = [sys.executable, "-m", "matloop.cli.main"]
CU_PBE_A = 3.63  # Å, fcc Cu lattice constant in PBE (Materials Project mp-30)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread, as in a campaign worker; two threads on a busy 2-core machine
    made single CHGNet evaluations up to 10 times slower."""
    from matloop.surrogates.feasibility import one_thread

    with one_thread():
        yield


def mp_rows() -> dict[str, dict[str, str]]:
    """The rows of the example's structure file by mp_id."""
    with STRUCTURES_CSV.open(newline="", encoding="utf-8") as handle:
        return {row["mp_id"]: row for row in csv.DictReader(handle)}


def chgnet(directory: Path) -> object:
    return make_calculator("chgnet", {}, directory)


def test_making_the_calculator_prints_nothing(tmp_path: Path,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    """CHGNet announces itself on stdout ("CHGNet v0.3.0 initialized ...", "CHGNet will
    run on cpu") once per worker; matloop keeps that off the user's terminal."""
    make_calculator("chgnet", {}, tmp_path)
    printed = capfd.readouterr()
    assert "CHGNet" not in printed.out and "CHGNet" not in printed.err, printed


def test_energy_of_copper_is_on_the_dft_scale(tmp_path: Path) -> None:
    atoms = bulk("Cu", "fcc", a=CU_PBE_A)
    atoms.calc = chgnet(tmp_path)
    result = energy(atoms, None, tmp_path)
    # CHGNet is fitted to Materials Project PBE energies: Cu (mp-30) is about -4.10 eV/atom
    # there (measured here: -4.08). EMT's Cu, by contrast, is near 0 eV/atom.
    assert result.values["energy_per_atom"] == pytest.approx(-4.10, abs=0.1)
    assert result.units["energy_per_atom"] == "eV/atom"


@pytest.mark.slow
def test_relax_recovers_the_copper_volume(tmp_path: Path) -> None:
    atoms = bulk("Cu", "fcc", a=CU_PBE_A * 1.03)  # 3 % linear strain, +9 % in volume
    start = atoms.get_volume() / len(atoms)
    atoms.calc = chgnet(tmp_path)
    strained = energy(atoms, None, tmp_path / "single").values["energy_per_atom"]
    result = relax(atoms, {"fmax": 0.01}, tmp_path)
    volume = result.values["volume_per_atom"]
    # PBE (MP) 11.96 Å^3/atom, experiment 11.8; CHGNet relaxes to 11.83 (from +9 % or -9 %)
    assert volume == pytest.approx(11.9, rel=0.03)
    assert volume / start - 1 < -0.07  # it moved most of the way back
    assert result.values["energy_per_atom"] < strained
    assert result.details["relax"]["converged"] is True
    lengths = result.atoms.cell.lengths()
    assert lengths.max() - lengths.min() < 1e-3  # still fcc


@pytest.mark.slow
def test_elastic_moduli_of_naf_are_near_the_materials_project(tmp_path: Path) -> None:
    row = mp_rows()["mp-682"]  # NaF, rock salt, 2 sites
    assert row["formula"] == "NaF"
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_str(row["structure"], fmt="json"))
    atoms.calc = chgnet(tmp_path)
    result = elastic(atoms, {"fmax": 0.05}, tmp_path)
    k_dft, g_dft = float(row["bulk_modulus_vrh_GPa"]), float(row["shear_modulus_vrh_GPa"])
    # Measured: K 47.1 GPa (MP 46.1), G 29.2 GPa (MP 30.2). Band ±30 %: CHGNet's moduli
    # scatter (benchmarks/chgnet_elastic.py: G MAE 28 GPa, mostly too soft), but on this
    # simple ionic crystal it agrees; a wrong stress unit or sign is far outside.
    assert result.values["bulk_modulus"] == pytest.approx(k_dft, rel=0.30)
    assert result.values["shear_modulus"] == pytest.approx(g_dft, rel=0.30)
    assert result.details["mechanically_stable"] is True
    assert result.units["shear_modulus"] == "GPa"


def structures_campaign(folder: Path, ids: list[str]) -> Path:
    """A campaign over the rows ``ids`` of the example's structure file, CHGNet elastic."""
    rows = mp_rows()
    with (folder / "structures.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[ids[0]]))
        writer.writeheader()
        writer.writerows(rows[i] for i in ids)
    path = folder / "chg.toml"
    path.write_text(textwrap.dedent("""
        [campaign]
        name = "chg"
        seed = 0

        [space]
        kind = "structures"
        path = "structures.csv"
        id = "mp_id"

        [[targets]]
        property = "bulk_modulus"
        unit = "GPa"
        goal = "maximize"

        [oracle]
        kind = "ase"
        calculator = "chgnet"
        recipe = "elastic"
        fmax = 0.05

        [loop]
        initial = 2
        budget = 3
    """), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_chgnet_campaign_records_values_and_provenance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from matloop.loop.session import run

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the spawned worker's torch threads
    path = structures_campaign(tmp_path, ["mp-682", "mp-1265", "mp-23193", "mp-22865"])
    result = run(load(path))
    assert result.stop_reason == "budget"
    assert result.counts["succeeded"] == 3
    database = load(path).database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        found = connection.execute(
            "select status, provenance from evaluation order by id").fetchall()
    assert len(found) == 3
    for status, text in found:
        assert status == "succeeded"
        provenance = json.loads(text)
        assert provenance["calculator"] == "chgnet" and provenance["package"] == "chgnet"
        assert provenance["version"] == metadata.version("chgnet")
        assert provenance["recipe"] == "elastic" and provenance["steps"] > 0
        assert Path(provenance["scratch"], "final.extxyz").exists()


def test_the_example_loads_with_its_data() -> None:
    from matloop.campaigns.schema import AseOracle

    campaign = load(EXAMPLE)
    assert campaign.space.kind == "structures"
    assert isinstance(campaign.oracle, AseOracle)
    assert (campaign.oracle.calculator, campaign.oracle.recipe) == ("chgnet", "elastic")
    assert [(t.property, t.unit, t.above, t.below) for t in campaign.targets] == [
        ("bulk_modulus", "GPa", 300, None), ("shear_modulus", "GPa", 150, None),
        ("e_above_hull", "eV/atom", None, 0.05)]
    oracle = build_oracle(campaign)  # checks that chgnet is importable
    assert set(oracle.properties) >= {"bulk_modulus", "shear_modulus", "e_above_hull"}
    rows = mp_rows()
    assert len(rows) == 1985 and all(int(r["n_sites"]) <= 4 for r in rows.values())
    hits = [r for r in rows.values() if float(r["bulk_modulus_vrh_GPa"]) >= 300
            and float(r["shear_modulus_vrh_GPa"]) >= 150]
    assert len(hits) == 47  # as the example's header says


@pytest.mark.slow
def test_the_example_validates_with_the_cli(tmp_path: Path) -> None:
    """``matloop validate`` on a copy (its feature cache goes beside the file)."""
    (tmp_path / "data").mkdir()
    for table in (STRUCTURES_CSV, STRUCTURES_CSV.with_name("mp_elements.csv")):
        (tmp_path / "data" / table.name).write_bytes(table.read_bytes())  # pool, hull
    example = tmp_path / EXAMPLE.name
    example.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([*MATLOOP, "validate", str(example)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert "1985 candidates (structures)" in done.stdout
    assert "oracle 'ase'" in done.stdout


def test_the_substitution_example_builds_its_132_candidates(tmp_path: Path) -> None:
    import shutil

    from matloop.spaces.build import build_pool

    example = ROOT / "examples" / "superhard-chgnet.toml"
    shutil.copytree(ROOT / "examples" / "data" / "prototypes", tmp_path / "data" / "prototypes")
    copy = tmp_path / example.name
    copy.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    campaign = load(copy)
    assert (campaign.oracle.calculator, campaign.oracle.recipe) == ("chgnet", "elastic")
    pool = build_pool(campaign.space, campaign.scratch_dir)
    assert len(pool) == 4 * 11 * 3
    formulas = {pool.structures[i].composition.reduced_formula for i in range(len(pool))}
    assert {"TiC", "WC", "TaB2", "ReB2", "OsN2"} <= formulas


@pytest.mark.slow
def test_the_stable_superhard_example_scores_hull_distances_at_chgnet_level(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/superhard-chgnet.toml at budget 6 (about 50 s here), then resumed
    to 8 (``stable_example``)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run_stable_example(tmp_path, "chgnet")
