"""The ASE oracle on composition candidates: decorated fcc supercells through the same
calculators and recipes as structures, with real EMT (and CHGNet) calculations."""

from __future__ import annotations

import json
import math
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from ase.units import GPa

from matloop.campaigns import load
from matloop.campaigns.schema import AseOracle as AseSection
from matloop.errors import ConfigError, EvaluationFailure
from matloop.loop.build import build_oracle
from matloop.oracles.ase import REFERENCES_FILE, AseOracle
from matloop.oracles.compositions import atom_counts, decorate, fcc_lattice_constant
from matloop.oracles.recipes import FINAL_NAME
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


def settings(**fields: Any) -> dict[str, Any]:
    """The recipe settings a compositions campaign's ``[oracle]`` section gives."""
    return AseSection(kind="ase", **fields).recipe_settings(compositions=True)


def emt(scratch: Path, recipe: str = "eos", supercell: int = 2, seed: int = 0,
        calculator: str = "emt", **fields: Any) -> AseOracle:
    return AseOracle(calculator=calculator, recipe=recipe, scratch=str(scratch),
                     settings=settings(recipe=recipe, **fields), supercell=supercell,
                     seed=seed)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> AseOracle:
    return emt(tmp_path_factory.mktemp("emt"))


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


# -- the same structures and numbers as the EMT EOS oracle this replaced -----------------

# Computed with the former oracles/ase_emt.py (AseEosOracle): its own EOS scan, fit,
# fcc references and calculator set-up. The new path agrees to the fit's tolerance.
OLD_VALUES = [
    ("Cu0.5 Au0.5", {"Cu": 0.5, "Au": 0.5}, 2, 0, {}, {
        "energy_per_atom": 0.011856345149926534,
        "formation_energy_per_atom": 0.015357877757286857,
        "volume_per_atom": 14.20601750553983, "bulk_modulus": 150.41325491736114}),
    ("Al0.7 Ni0.3", {"Al": 0.7, "Ni": 0.3}, 2, 0, {"relax": False}, {
        "energy_per_atom": 0.16219989359960188,
        "formation_energy_per_atom": 0.1695535947826595,
        "volume_per_atom": 14.367965820051536, "bulk_modulus": 51.22651004139998}),
    ("Cu0.3 Pd0.2 Pt0.5", {"Cu": 0.3, "Pd": 0.2, "Pt": 0.5}, 1, 7,
     {"points": 9, "strain": 0.04}, {
        "energy_per_atom": -0.06100869012960182,
        "formation_energy_per_atom": -0.059152293966271315,
        "volume_per_atom": 14.060356124128285, "bulk_modulus": 218.00288341758872}),
    ("Pt0.8 Al0.2", {"Pt": 0.8, "Al": 0.2}, 2, 0, {"fmax": 0.02}, {
        "energy_per_atom": -0.003338171644395643,
        "formation_energy_per_atom": -0.002471006957835146,
        "volume_per_atom": 15.558386655881788, "bulk_modulus": 155.76236359673777}),
]


@pytest.mark.parametrize(("key", "composition", "supercell", "seed", "fields", "expected"),
                         OLD_VALUES, ids=[case[0] for case in OLD_VALUES])
def test_values_match_the_former_emt_eos_oracle(tmp_path: Path, key: str,
                                                composition: dict[str, float],
                                                supercell: int, seed: int,
                                                fields: dict[str, Any],
                                                expected: dict[str, float]) -> None:
    o = emt(tmp_path, supercell=supercell, seed=seed, **fields)
    outcome = o.evaluate(Candidate(key=key, label=key, composition=composition))
    assert outcome.ok, outcome.error
    assert tuple(outcome.values) == EXPECTED_PROPERTIES
    for name, value in expected.items():
        assert outcome.values[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize(("key", "composition", "seed", "a0", "symbols"), [
    ("Cu0.5 Au0.5", {"Cu": 0.5, "Au": 0.5}, 0, 3.8449999999999998,
     "Cu Au Au Au Cu Au Cu Cu Au Au Au Au Au Cu Cu Cu Cu Au Au Au Au Cu Cu Au Cu Cu Cu Cu "
     "Au Cu Cu Au"),
    ("Cu0.3 Pd0.2 Pt0.5", {"Cu": 0.3, "Pd": 0.2, "Pt": 0.5}, 7, 3.8209999999999997,
     "Pt Cu Cu Cu Pt Pt Pd Cu Pd Cu Cu Pt Cu Pt Pt Pt Pt Pd Pt Pt Pd Pd Pt Pt Cu Cu Pt Pt "
     "Cu Pd Pt Pt"),
])
def test_decoration_is_the_former_oracles(key: str, composition: dict[str, float],
                                          seed: int, a0: float, symbols: str) -> None:
    atoms, info = decorate(key, composition, 2, seed)
    assert " ".join(atoms.get_chemical_symbols()) == symbols
    assert info["lattice_constant_start"] == a0
    np.testing.assert_array_equal(atoms.cell.array, np.eye(3) * 2 * a0)
    again, _ = decorate(key, composition, 2, seed)
    assert again == atoms


# -- the oracle ----------------------------------------------------------------------------


def test_properties_and_units_match(oracle: AseOracle) -> None:
    assert isinstance(oracle, Oracle)
    assert oracle.properties == EXPECTED_PROPERTIES
    outcome = oracle.evaluate(CU_AU)
    assert outcome.ok, outcome.error
    assert tuple(outcome.values) == EXPECTED_PROPERTIES
    assert outcome.units == {"energy_per_atom": "eV/atom",
                             "formation_energy_per_atom": "eV/atom",
                             "volume_per_atom": "Å^3/atom", "bulk_modulus": "GPa"}


def test_cu_bulk_modulus_matches_independent_emt_eos(oracle: AseOracle) -> None:
    outcome = oracle.evaluate(CU)
    assert outcome.ok, outcome.error
    reference = emt_bulk_modulus_gpa("Cu", a=3.6)
    assert 125.0 < reference < 145.0  # ASE's EMT Cu: about 134 GPa
    assert outcome.values["bulk_modulus"] == pytest.approx(reference, abs=1.0)
    # fcc Cu near a = 3.59 Å: about 11.6 Å^3 per atom
    assert outcome.values["volume_per_atom"] == pytest.approx(11.57, abs=0.1)


@pytest.mark.parametrize("element", ["Cu", "Au", "Pt", "Al"])
def test_pure_element_has_zero_formation_energy(oracle: AseOracle, element: str) -> None:
    outcome = oracle.evaluate(candidate({element: 1.0}))
    assert outcome.ok, outcome.error
    assert abs(outcome.values["formation_energy_per_atom"]) < 1e-3
    assert outcome.provenance["formula"] == f"{element}32"
    assert outcome.provenance["n_atoms"] == 32


def test_cu_au_alloy_provenance_and_scratch(oracle: AseOracle) -> None:
    cu, au, alloy = (oracle.evaluate(c) for c in (CU, AU, CU_AU))
    assert cu.ok and au.ok and alloy.ok, (cu.error, au.error, alloy.error)
    assert all(math.isfinite(v) for v in alloy.values.values())
    assert alloy.values["formation_energy_per_atom"] < 0.05  # negative or small
    v_cu, v_au = cu.values["volume_per_atom"], au.values["volume_per_atom"]
    assert v_cu < alloy.values["volume_per_atom"] < v_au
    p = alloy.provenance
    assert p["formula"] == "Au16Cu16" and p["counts"] == {"Au": 16, "Cu": 16}
    assert (p["n_atoms"], p["supercell"], p["seed"]) == (32, 2, 0)
    assert p["calculator"] == "emt" and p["package"] == "ase" and p["ase_version"]
    assert p["recipe"] == "eos" and p["settings"]["relax_positions"] is True
    assert p["steps"] > 7 and p["wall_time_s"] > 0
    assert p["details"]["rms_residual_ev_per_atom"] < 5e-3
    assert len(p["details"]["volumes_per_atom"]) == 7
    energy = alloy.values["energy_per_atom"]
    e_ref = sum(n / 32 * p["references_per_atom"][el] for el, n in p["counts"].items())
    assert alloy.values["formation_energy_per_atom"] == pytest.approx(energy - e_ref)
    assert p["references_per_atom"]["Cu"] == pytest.approx(cu.values["energy_per_atom"],
                                                           abs=1e-4)
    assert (Path(p["scratch"]) / FINAL_NAME).exists()
    assert len(p["final_structure"]["sites"]) == 32
    assert json.loads(json.dumps(p)) == p  # plain values, storable
    cache = json.loads((Path(oracle.scratch) / REFERENCES_FILE).read_text())
    assert {"Au", "Cu"} <= set(cache[oracle.references_digest()])


def test_same_candidate_gives_identical_values(oracle: AseOracle, tmp_path: Path) -> None:
    first = oracle.evaluate(CU_AU)
    second = oracle.evaluate(CU_AU)
    fresh = emt(tmp_path).evaluate(CU_AU)  # references computed afresh
    assert first.ok
    assert first.values == second.values == fresh.values
    assert Path(first.provenance["scratch"]) != Path(second.provenance["scratch"])


def test_seed_changes_the_arrangement(tmp_path: Path) -> None:
    values = {seed: emt(tmp_path, seed=seed).evaluate(CU_AU).values for seed in (0, 1)}
    assert values[0]["energy_per_atom"] != values[1]["energy_per_atom"]


def test_ternary_without_relaxation(tmp_path: Path) -> None:
    outcome = emt(tmp_path, relax=False).evaluate(
        candidate({"Cu": 1 / 3, "Ni": 1 / 3, "Pd": 1 / 3}))
    assert outcome.ok, outcome.error
    assert outcome.provenance["counts"] == {"Cu": 11, "Ni": 11, "Pd": 10}
    assert "relax" not in outcome.provenance["details"]
    assert outcome.provenance["steps"] <= 7 + 1  # single points only
    assert all(math.isfinite(v) for v in outcome.values.values())


@pytest.mark.parametrize("element", ["Fe", "Mo"])
def test_unsupported_element_is_invalid(oracle: AseOracle, element: str) -> None:
    outcome = oracle.evaluate(candidate({"Cu": 0.5, element: 0.5}))
    assert not outcome.ok
    assert outcome.reason == "invalid"
    assert outcome.error is not None
    assert element in outcome.error
    assert "Cu" in outcome.error and "Pt" in outcome.error
    assert outcome.values == {}


@pytest.mark.parametrize("composition", [{"Xx": 1.0}, {"X": 1.0}, {"Cu": -0.5, "Au": 1.5},
                                         {"Cu": 0.0}, {"Cu": math.nan}])
def test_bad_compositions_are_invalid(oracle: AseOracle,
                                      composition: dict[str, float]) -> None:
    outcome = oracle.evaluate(Candidate(key="bad", label="bad", composition=composition))
    assert not outcome.ok
    assert outcome.reason == "invalid"


def test_candidate_without_composition_is_invalid(oracle: AseOracle, tmp_path: Path) -> None:
    outcome = oracle.evaluate(Candidate(key="x=1", label="x=1", inputs={"x": 1.0}))
    assert not outcome.ok and outcome.reason == "invalid"
    # without a supercell the oracle computes structures only
    structures_only = AseOracle(calculator="emt", recipe="eos", scratch=str(tmp_path))
    assert "formation_energy_per_atom" not in structures_only.properties
    assert structures_only.evaluate(CU).reason == "invalid"


def test_more_elements_than_sites_is_invalid(tmp_path: Path) -> None:
    five = candidate({"Cu": 0.2, "Au": 0.2, "Ag": 0.2, "Pd": 0.2, "Pt": 0.2})
    outcome = emt(tmp_path, supercell=1).evaluate(five)
    assert not outcome.ok
    assert outcome.reason == "invalid"
    assert "supercell" in (outcome.error or "")


def test_unbracketed_minimum_is_not_converged(tmp_path: Path) -> None:
    # Al starts at 4.05 Å; EMT's minimum is about 2 % smaller, outside ±1 % strain.
    outcome = emt(tmp_path, strain=0.01).evaluate(candidate({"Al": 1.0}))
    assert not outcome.ok
    assert outcome.reason == "not_converged"
    assert "outside" in (outcome.error or "")


def test_relaxation_out_of_steps_is_not_converged(tmp_path: Path) -> None:
    outcome = emt(tmp_path, max_steps=1).evaluate(CU_AU)
    assert not outcome.ok
    assert outcome.reason == "not_converged"
    assert "max_steps=1" in (outcome.error or "")


def test_pickles_and_still_evaluates(oracle: AseOracle) -> None:
    clone = pickle.loads(pickle.dumps(oracle))
    assert clone == oracle
    outcome = clone.evaluate(CU_AU)
    assert outcome.ok, outcome.error
    assert outcome.values == oracle.evaluate(CU_AU).values


@pytest.mark.parametrize("changes", [{"supercell": 0}, {"recipe": "phonons"},
                                     {"settings": {"points": 3}}, {"settings": {"strain": 0}},
                                     {"settings": {"fmax": -1.0}},
                                     {"settings": {"max_steps": 0}}])
def test_bad_settings_are_rejected(tmp_path: Path, changes: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"calculator": "emt", "recipe": "eos", "scratch": str(tmp_path),
                              "supercell": 2, **changes}
    with pytest.raises(ValueError):
        AseOracle(**fields)


def test_unknown_calculator_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"oracle\.calculator"):
        emt(tmp_path, calculator="lj").check()


# -- compositions ------------------------------------------------------------------------


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
    assert atom_counts(fractions, n_sites) == expected


def test_atom_counts_reject_too_many_elements() -> None:
    with pytest.raises(EvaluationFailure):
        atom_counts({"Ag": 0.25, "Au": 0.25, "Cu": 0.25, "Pd": 0.125, "Pt": 0.125}, 4)


def test_fcc_lattice_constants() -> None:
    assert fcc_lattice_constant("Cu") == 3.61  # ASE's reference state: fcc
    # bcc Fe (a = 2.87 Å, 2 atoms per cube) at the same volume per atom in fcc
    assert fcc_lattice_constant("Fe") == pytest.approx(2.87 * 2 ** (1 / 3))
    # hcp Ti (a = 2.95 Å, c/a = 1.588): V = √3/4 a³ c/a per atom
    assert fcc_lattice_constant("Ti") ** 3 / 4 == pytest.approx(
        math.sqrt(3) / 4 * 2.95**3 * 1.588)
    # O from EMT's Wigner–Seitz radius s0: 4 atoms of volume 4π/3 s0³ per cube
    from ase.calculators.emt import parameters
    from ase.units import Bohr

    s0 = parameters["O"][1] * Bohr
    assert fcc_lattice_constant("O") ** 3 == pytest.approx(4 * 4 * math.pi / 3 * s0**3)


# -- the same recipes and calculators as structures -------------------------------------


CAMPAIGN = """\
[campaign]
name = "alloys"
seed = 0

[space]
kind = "compositions"
elements = {elements}
step = 0.5
max_elements = {max_elements}

[[targets]]
property = "{target}"
goal = "minimize"

[oracle]
kind = "ase"
{oracle}

[loop]
initial = 1
budget = 2
"""


def composition_campaign(folder: Path, elements: tuple[str, ...] = ("Cu", "Au"),
                         target: str = "formation_energy_per_atom", raw: str = "",
                         **oracle: Any) -> Path:
    """A compositions campaign file in ``folder``; ``oracle`` fields (TOML values from
    JSON) and ``raw`` TOML lines replace or extend EMT, eos, supercell 1, fmax 0.02."""
    fields = {"calculator": "emt", "recipe": "eos", "supercell": 1, "fmax": 0.02, **oracle}
    lines = [f"{name} = {json.dumps(value)}" for name, value in fields.items()]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "alloys.toml"
    path.write_text(CAMPAIGN.format(elements=json.dumps(list(elements)),
                                    max_elements=len(elements), target=target,
                                    oracle="\n".join([*lines, raw])), encoding="utf-8")
    return path


def test_an_import_path_calculator_gives_the_same_values(tmp_path: Path) -> None:
    """EMT by name and EMT by ``module:factory`` (the path CHGNet, GPAW and VASP share)."""
    by_name = build_oracle(load(composition_campaign(tmp_path / "a")))
    by_path = build_oracle(load(composition_campaign(tmp_path / "b",
                                                     calculator="ase.calculators.emt:EMT")))
    first, second = by_name.evaluate(CU_AU), by_path.evaluate(CU_AU)
    assert first.ok and second.ok, (first.error, second.error)
    assert first.values == second.values
    assert second.provenance["calculator"] == "ase.calculators.emt:EMT"


@pytest.mark.parametrize(("recipe", "extra"), [
    ("relax", ()),
    ("energy", ()),
    ("formation_energy", ()),
    ("elastic", ("bulk_modulus", "shear_modulus")),
])
def test_every_recipe_works_on_compositions(tmp_path: Path, recipe: str,
                                            extra: tuple[str, ...]) -> None:
    path = composition_campaign(tmp_path, recipe=recipe, optimizer="FIRE", max_steps=400)
    oracle = pickle.loads(pickle.dumps(build_oracle(load(path))))
    assert isinstance(oracle, AseOracle) and oracle.recipe == recipe
    assert {"energy_per_atom", "formation_energy_per_atom", *extra} <= set(oracle.properties)
    outcome = oracle.evaluate(CU_AU)
    assert outcome.ok, outcome.error
    assert set(outcome.values) == set(oracle.properties)
    assert all(math.isfinite(v) for v in outcome.values.values())
    assert outcome.provenance["formula"] == "Au2Cu2"
    assert outcome.provenance["settings"]["optimizer"] == "FIRE"
    pure = oracle.evaluate(CU)
    assert pure.ok, pure.error
    if recipe != "energy":  # relaxed Cu against fcc Cu at its EOS minimum
        assert abs(pure.values["formation_energy_per_atom"]) < 1e-3


def test_relaxing_the_cell_is_the_recipes_not_the_spaces(tmp_path: Path) -> None:
    """On compositions only ``eos`` keeps the Vegard cell (relaxes nothing first); the
    ``relax`` recipe relaxes the cell as for structures, or not with relax_cell = false."""
    eos = settings()
    assert (eos["relax"], eos["relax_positions"]) == (False, True)
    assert settings(relax=False)["relax_positions"] is False
    assert settings(relax_positions=False)["relax_positions"] is False
    assert settings(recipe="elastic")["relax"] is True
    structures = AseSection(kind="ase").recipe_settings()
    assert (structures["relax"], structures["relax_positions"]) == (True, True)
    volumes = {}
    for relax_cell in (True, False):
        o = emt(tmp_path / str(relax_cell), recipe="relax", relax_cell=relax_cell)
        outcome = o.evaluate(CU_AU)
        assert outcome.ok, outcome.error
        volumes[relax_cell] = outcome.values["volume_per_atom"]
    assert volumes[False] == pytest.approx(3.845**3 / 4)  # Vegard's law, kept
    assert abs(volumes[True] / volumes[False] - 1) > 1e-4  # EMT CuAu: 0.09 % larger


@pytest.mark.parametrize("fields", [
    {"calculator": "chgnet"}, {"calculator": "gpaw"}, {"recipe": "elastic"},
    {"optimizer": "FIRE"}, {"raw": "parameters = { asap_cutoff = true }"},
    {"relax_cell": False}, {"elastic_strains": [0.01]}, {"unstable": "keep"},
    {"max_volume_change": 0.2}])
def test_schema_accepts_any_calculator_and_setting_on_compositions(
        tmp_path: Path, fields: dict[str, Any]) -> None:
    load(composition_campaign(tmp_path, **fields))


@pytest.mark.parametrize(("fields", "field"), [
    ({"recipe": "phonons"}, r"oracle\.recipe"),
    ({"calculator": "not a calculator"}, r"oracle\.calculator"),
    ({"optimizer": "LBFGS"}, r"oracle\.optimizer"),
    ({"supercell": 7}, r"oracle\.supercell"),
])
def test_schema_errors_name_the_field(tmp_path: Path, fields: dict[str, Any],
                                      field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load(composition_campaign(tmp_path, **fields))


def test_too_few_sites_for_the_space_is_a_config_error(tmp_path: Path) -> None:
    five = ("Cu", "Au", "Ag", "Pd", "Pt")
    with pytest.raises(ConfigError, match=r"oracle\.supercell.*4 sites.*max_elements"):
        load(composition_campaign(tmp_path, elements=five))
    load(composition_campaign(tmp_path, elements=five, supercell=2))


def test_targets_must_be_what_the_recipe_computes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shear_modulus"):
        build_oracle(load(composition_campaign(tmp_path, target="shear_modulus")))
    oracle = build_oracle(load(composition_campaign(tmp_path, target="shear_modulus",
                                                    recipe="elastic")))
    assert "shear_modulus" in oracle.properties


# -- CHGNet --------------------------------------------------------------------------------


def test_chgnet_evaluates_a_composition(tmp_path: Path) -> None:
    """The same decorated supercell and eos recipe with CHGNet (supercell 1: 4 atoms;
    about 3 s here, loading the model included)."""
    pytest.importorskip("chgnet")
    from matloop.surrogates.feasibility import one_thread

    path = composition_campaign(tmp_path, calculator="chgnet")
    oracle = pickle.loads(pickle.dumps(build_oracle(load(path))))
    start = time.perf_counter()
    with one_thread():
        outcome = oracle.evaluate(CU_AU)
        pure = oracle.evaluate(CU)
    assert outcome.ok, outcome.error
    assert pure.ok, pure.error
    p = outcome.provenance
    assert p["calculator"] == "chgnet" and p["package"] == "chgnet" and p["version"]
    assert p["formula"] == "Au2Cu2"
    # CHGNet energies are on the DFT (PBE) scale: a few eV below zero per atom
    assert -5.0 < outcome.values["energy_per_atom"] < -3.0
    assert -0.3 < outcome.values["formation_energy_per_atom"] < 0.2
    assert 12.0 < outcome.values["volume_per_atom"] < 18.0  # Cu 12, Au 18 Å^3/atom (PBE)
    assert 80 < outcome.values["bulk_modulus"] < 250
    assert abs(pure.values["formation_energy_per_atom"]) < 5e-3
    assert set(p["references_per_atom"]) == {"Au", "Cu"}
    assert time.perf_counter() - start < 600


def test_a_composition_built_in_several_lattices_keeps_the_lowest(tmp_path: Path) -> None:
    """EMT's metals are fcc: built as fcc and as bcc, CuAu keeps its fcc energy and
    formation energy (the elements' references are their lowest, fcc, too), and the
    provenance records both lattices' energies."""
    from dataclasses import replace

    both = replace(emt(tmp_path / "both"), lattices=("bcc", "fcc"))
    fcc_only = emt(tmp_path / "fcc")
    out, ref = both.evaluate(CU_AU), fcc_only.evaluate(CU_AU)
    assert out.ok and ref.ok, (out.error, ref.error)
    tried = out.provenance["lattices"]
    assert set(tried) == {"bcc", "fcc"} and tried["bcc"] > tried["fcc"]
    assert out.provenance["lattice"] == "fcc"
    assert out.values == pytest.approx(ref.values)
    assert both.references_digest() != fcc_only.references_digest()
    atoms, info = decorate("Cu0.5 Au0.5", {"Cu": 0.5, "Au": 0.5}, 2, 0, "bcc")
    assert len(atoms) == 16 and info["lattice"] == "bcc" and info["counts"] == {
        "Au": 8, "Cu": 8}
    with pytest.raises(ValueError, match="lattices must be some of"):
        replace(fcc_only, lattices=("hcp",))
