"""The SevenNet calculator: quiet construction, energies on the DFT scale, elastic moduli
against the Materials Project, provenance and the campaign schema.

Skipped where sevenn is not installed (``pip install -e ".[sevennet]"``). The pretrained
weights ship inside the package; nothing is downloaded.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from tests.oracles.stable_example import run_stable_example

pytest.importorskip("sevenn")

from ase.build import bulk
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from matloop.campaigns.schema import Campaign
from matloop.oracles.calculators import calculator_provenance, make_calculator
from matloop.oracles.recipes import elastic, energy

ROOT = Path(__file__).resolve().parents[2]
STRUCTURES_CSV = ROOT / "examples" / "data" / "mp_binary_structures_le4.csv"
CU_PBE_A = 3.63  # Å, fcc Cu in PBE (Materials Project mp-30)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    from matloop.surrogates.feasibility import one_thread

    with one_thread():
        yield


def test_making_the_calculator_prints_nothing(tmp_path: Path,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    """sevenn warns on stderr that no tensor-product accelerator is installed, once per
    worker; matloop keeps that off the user's terminal."""
    make_calculator("sevennet", {}, tmp_path)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == "", printed


def test_energy_of_copper_is_on_the_dft_scale(tmp_path: Path) -> None:
    atoms = bulk("Cu", "fcc", a=CU_PBE_A)
    atoms.calc = make_calculator("sevennet", {}, tmp_path)
    result = energy(atoms, None, tmp_path)
    # 7net-0 is fitted to Materials Project PBE energies (MPtrj): Cu (mp-30) is about
    # -4.10 eV/atom there (measured here: -4.10); EMT's Cu is near 0.
    assert result.values["energy_per_atom"] == pytest.approx(-4.10, abs=0.1)


def test_another_shipped_model_is_a_different_potential(tmp_path: Path) -> None:
    atoms = bulk("Cu", "fcc", a=CU_PBE_A)
    energies = []
    for model in ("7net-0", "7net-l3i5"):
        atoms.calc = make_calculator("sevennet", {"model": model}, tmp_path / model)
        energies.append(atoms.get_potential_energy())
    assert energies[0] != energies[1]
    assert energies[1] == pytest.approx(-4.10, abs=0.15)


def test_provenance_names_the_sevenn_package_and_version() -> None:
    provenance = calculator_provenance("sevennet", {"model": "7net-0"})
    assert provenance["package"] == "sevenn"
    assert provenance["version"] == metadata.version("sevenn")
    assert provenance["parameters"] == {"model": "7net-0"}


def test_a_campaign_file_may_name_it() -> None:
    campaign = Campaign.model_validate({
        "campaign": {"name": "s"},
        "space": {"kind": "compositions", "elements": ["Cu", "Au"], "step": 0.5},
        "targets": [{"property": "bulk_modulus", "unit": "GPa", "goal": "maximize"}],
        "oracle": {"kind": "ase", "calculator": "sevennet", "recipe": "eos",
                   "parameters": {"model": "7net-l3i5"}}})
    assert campaign.oracle.calculator == "sevennet"


@pytest.mark.slow
def test_elastic_moduli_of_naf_are_near_the_materials_project(tmp_path: Path) -> None:
    with STRUCTURES_CSV.open(newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["mp_id"] == "mp-682")  # NaF
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_str(row["structure"], fmt="json"))
    atoms.calc = make_calculator("sevennet", {}, tmp_path)
    result = elastic(atoms, {"fmax": 0.05}, tmp_path)
    k_dft, g_dft = float(row["bulk_modulus_vrh_GPa"]), float(row["shear_modulus_vrh_GPa"])
    # Band ±30 %, as for CHGNet: a wrong stress unit or sign is far outside.
    assert result.values["bulk_modulus"] == pytest.approx(k_dft, rel=0.30)
    assert result.values["shear_modulus"] == pytest.approx(g_dft, rel=0.30)
    assert result.details["mechanically_stable"] is True


def test_a_worker_reuses_its_calculator_but_threads_do_not_share_one(tmp_path: Path) -> None:
    """Building SevenNet costs seconds, so one thread's evaluations share a calculator;
    a Dask worker's threads (a timed-out call goes on in its own) get their own."""
    from concurrent.futures import ThreadPoolExecutor

    first = make_calculator("sevennet", {}, tmp_path / "a")
    atoms = bulk("Cu", "fcc", a=CU_PBE_A)
    atoms.calc = first
    atoms.get_potential_energy()
    again = make_calculator("sevennet", {}, tmp_path / "b")
    assert again is first and again.results == {}  # reset: nothing of the last structure
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(make_calculator, "sevennet", {}, tmp_path / "c").result()
    assert other is not first


@pytest.mark.slow
def test_the_stable_superhard_example_runs_with_sevennet(tmp_path: Path) -> None:
    """examples/superhard-chgnet.toml with SevenNet as the calculator: its own
    hull, its own references (``stable_example``)."""
    run_stable_example(tmp_path, "sevennet")
