"""The ASE EMT equation-of-state oracle, with real EMT calculations (no mocks)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from ase.units import GPa

from matloop.campaigns.schema import AseOracle
from matloop.errors import EvaluationFailure
from matloop.oracles.ase_emt import AseEosOracle, _atom_counts
from matloop.protocols import Candidate, Oracle

EXPECTED_PROPERTIES = (
    "energy_per_atom",
    "formation_energy_per_atom",
    "volume_per_atom",
    "bulk_modulus",
)


def candidate(composition: dict[str, float], label: str = "") -> Candidate:
    key = " ".join(f"{el}{x:g}" for el, x in composition.items())
    return Candidate(key=key, label=label or key, composition=composition)


CU = Candidate(key="Cu1", label="Cu", composition={"Cu": 1.0})
AU = Candidate(key="Au1", label="Au", composition={"Au": 1.0})
CU_AU = Candidate(key="Cu0.5 Au0.5", label="CuAu", composition={"Cu": 0.5, "Au": 0.5})


@pytest.fixture(scope="module")
def oracle() -> AseEosOracle:
    return AseEosOracle()


def emt_bulk_modulus_gpa(element: str, a: float) -> float:
    """Bulk modulus of the pure fcc element with EMT, independently of the oracle."""
    atoms = bulk(element, "fcc", a=a)
    atoms.calc = EMT()
    cell = atoms.cell.copy()
    volumes, energies = [], []
    for scale in np.linspace(0.95, 1.05, 7):
        atoms.set_cell(cell * scale, scale_atoms=True)
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    _, _, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    return float(b / GPa)


def test_properties_and_units_match(oracle: AseEosOracle) -> None:
    assert isinstance(oracle, Oracle)
    assert AseEosOracle.properties == EXPECTED_PROPERTIES
    outcome = oracle.evaluate(CU_AU)
    assert outcome.ok, outcome.error
    assert tuple(outcome.values) == EXPECTED_PROPERTIES
    assert set(outcome.units) == set(EXPECTED_PROPERTIES)
    assert outcome.units["bulk_modulus"] == "GPa"
    assert outcome.units["energy_per_atom"] == "eV/atom"
    assert outcome.units["formation_energy_per_atom"] == "eV/atom"
    assert outcome.units["volume_per_atom"] == "Å^3/atom"


def test_cu_bulk_modulus_matches_independent_emt_eos(oracle: AseEosOracle) -> None:
    outcome = oracle.evaluate(CU)
    assert outcome.ok, outcome.error
    reference = emt_bulk_modulus_gpa("Cu", a=3.6)
    assert 125.0 < reference < 145.0  # ASE's EMT Cu: about 134 GPa
    assert outcome.values["bulk_modulus"] == pytest.approx(reference, abs=1.0)
    # fcc Cu near a = 3.59 Å: about 11.6 Å^3 per atom
    assert outcome.values["volume_per_atom"] == pytest.approx(11.57, abs=0.1)


@pytest.mark.parametrize("element", ["Cu", "Au", "Pt", "Al"])
def test_pure_element_has_zero_formation_energy(oracle: AseEosOracle, element: str) -> None:
    outcome = oracle.evaluate(candidate({element: 1.0}))
    assert outcome.ok, outcome.error
    assert abs(outcome.values["formation_energy_per_atom"]) < 1e-3
    assert outcome.provenance["formula"] == f"{element}32"
    assert outcome.provenance["n_atoms"] == 32


def test_cu_au_alloy(oracle: AseEosOracle) -> None:
    cu, au, alloy = (oracle.evaluate(c) for c in (CU, AU, CU_AU))
    assert cu.ok and au.ok and alloy.ok, (cu.error, au.error, alloy.error)
    assert all(math.isfinite(v) for v in alloy.values.values())
    assert alloy.values["formation_energy_per_atom"] < 0.05  # negative or small
    v_cu, v_au = cu.values["volume_per_atom"], au.values["volume_per_atom"]
    assert v_cu < alloy.values["volume_per_atom"] < v_au
    assert alloy.values["bulk_modulus"] > 0
    provenance = alloy.provenance
    assert provenance["formula"] == "Au16Cu16"
    assert provenance["counts"] == {"Au": 16, "Cu": 16}
    assert provenance["n_atoms"] == 32
    assert provenance["calculator"] == "emt"
    assert provenance["recipe"] == "eos"
    assert provenance["ase_version"]
    assert provenance["relax_steps"] > 0
    assert provenance["eos_fit"]["v0_per_atom"] == alloy.values["volume_per_atom"]
    assert provenance["eos_fit"]["rms_residual_ev_per_atom"] < 5e-3
    assert json.loads(json.dumps(provenance)) == provenance  # plain values, storable


def test_same_candidate_gives_identical_values(oracle: AseEosOracle) -> None:
    first = oracle.evaluate(CU_AU)
    second = oracle.evaluate(CU_AU)
    fresh = AseEosOracle().evaluate(CU_AU)
    assert first.ok
    assert first.values == second.values == fresh.values
    assert first.provenance == second.provenance


def test_seed_changes_the_arrangement() -> None:
    values = {seed: AseEosOracle(seed=seed).evaluate(CU_AU).values for seed in (0, 1)}
    assert values[0]["energy_per_atom"] != values[1]["energy_per_atom"]


def test_ternary_without_relaxation() -> None:
    outcome = AseEosOracle(relax=False).evaluate(
        candidate({"Cu": 1 / 3, "Ni": 1 / 3, "Pd": 1 / 3}))
    assert outcome.ok, outcome.error
    assert outcome.provenance["counts"] == {"Cu": 11, "Ni": 11, "Pd": 10}
    assert outcome.provenance["relax_steps"] == 0
    assert all(math.isfinite(v) for v in outcome.values.values())


@pytest.mark.parametrize("element", ["Fe", "Mo"])
def test_unsupported_element_is_invalid(oracle: AseEosOracle, element: str) -> None:
    outcome = oracle.evaluate(candidate({"Cu": 0.5, element: 0.5}))
    assert not outcome.ok
    assert outcome.reason == "invalid"
    assert outcome.error is not None
    assert element in outcome.error
    assert "Cu" in outcome.error and "Pt" in outcome.error
    assert outcome.values == {}


@pytest.mark.parametrize("composition", [{"Xx": 1.0}, {"Cu": -0.5, "Au": 1.5}, {"Cu": 0.0}])
def test_bad_compositions_are_invalid(oracle: AseEosOracle,
                                      composition: dict[str, float]) -> None:
    outcome = oracle.evaluate(Candidate(key="bad", label="bad", composition=composition))
    assert not outcome.ok
    assert outcome.reason == "invalid"


def test_candidate_without_composition_is_invalid(oracle: AseEosOracle) -> None:
    outcome = oracle.evaluate(Candidate(key="x=1", label="x=1", inputs={"x": 1.0}))
    assert not outcome.ok
    assert outcome.reason == "invalid"


def test_more_elements_than_sites_is_invalid() -> None:
    five = candidate({"Cu": 0.2, "Au": 0.2, "Ag": 0.2, "Pd": 0.2, "Pt": 0.2})
    outcome = AseEosOracle(supercell=1).evaluate(five)
    assert not outcome.ok
    assert outcome.reason == "invalid"
    assert "supercell" in (outcome.error or "")


def test_unbracketed_minimum_is_not_converged() -> None:
    # Al starts at 4.05 Å; EMT's minimum is about 2 % smaller, outside ±1 % strain.
    outcome = AseEosOracle(strain=0.01).evaluate(candidate({"Al": 1.0}))
    assert not outcome.ok
    assert outcome.reason == "not_converged"
    assert "outside" in (outcome.error or "")


def test_relaxation_out_of_steps_is_not_converged() -> None:
    outcome = AseEosOracle(max_steps=1).evaluate(CU_AU)
    assert not outcome.ok
    assert outcome.reason == "not_converged"
    assert "max_steps=1" in (outcome.error or "")


def test_pickles_and_still_evaluates(oracle: AseEosOracle) -> None:
    clone = pickle.loads(pickle.dumps(oracle))
    assert clone == oracle
    outcome = clone.evaluate(CU_AU)
    assert outcome.ok, outcome.error
    assert outcome.values == oracle.evaluate(CU_AU).values


def test_from_config_copies_the_section() -> None:
    section = AseOracle(kind="ase", supercell=1, relax=False, fmax=0.02, max_steps=50,
                        strain=0.04, points=9)
    built = AseEosOracle.from_config(section, seed=7)
    assert built == AseEosOracle(calculator="emt", supercell=1, relax=False, fmax=0.02,
                                 max_steps=50, strain=0.04, points=9, seed=7)
    outcome = built.evaluate(CU_AU)
    assert outcome.ok, outcome.error
    assert outcome.provenance["n_atoms"] == 4


@pytest.mark.parametrize("settings", [{"calculator": "lj"}, {"supercell": 0}, {"points": 3},
                                      {"strain": 0.0}, {"fmax": -1.0}, {"max_steps": 0}])
def test_bad_settings_are_rejected(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AseEosOracle(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fractions", "n_sites", "expected"), [
    ({"Au": 0.5, "Cu": 0.5}, 32, {"Au": 16, "Cu": 16}),
    ({"Au": 0.01, "Cu": 0.99}, 32, {"Au": 1, "Cu": 31}),
    ({"Au": 0.001, "Cu": 0.999}, 32, {"Au": 1, "Cu": 31}),
    ({"Cu": 1 / 3, "Ni": 1 / 3, "Pd": 1 / 3}, 32, {"Cu": 11, "Ni": 11, "Pd": 10}),
    ({"Ag": 0.3, "Al": 0.2, "Pt": 0.5}, 32, {"Ag": 10, "Al": 6, "Pt": 16}),
    ({"Ag": 0.02, "Au": 0.02, "Cu": 0.96}, 4, {"Ag": 1, "Au": 1, "Cu": 2}),
])
def test_atom_counts_by_largest_remainder(fractions: dict[str, float], n_sites: int,
                                          expected: dict[str, int]) -> None:
    assert _atom_counts(fractions, n_sites) == expected


def test_atom_counts_reject_too_many_elements() -> None:
    with pytest.raises(EvaluationFailure):
        _atom_counts({"Ag": 0.25, "Au": 0.25, "Cu": 0.25, "Pd": 0.125, "Pt": 0.125}, 4)
