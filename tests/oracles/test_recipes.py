"""Calculation recipes and the calculator registry, with real EMT calculations (no mocks).

Reference values were measured with ASE 3.29 EMT: fcc Cu relaxes to 11.565 Å^3/atom at
-0.00704 eV/atom; its EOS bulk modulus is 133.9 GPa, the elastic tensor C11 = 172.6,
C12 = 115.5, C44 = 90.0 GPa (VRH bulk 134.6, shear 56.9 GPa); L1_2 Cu3Au has a formation
energy of -0.0102 eV/atom and L1_0 CuAu -0.0078 eV/atom against relaxed fcc Cu and Au.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import ase
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.io import read
from ase.units import GPa

from matloop.errors import EvaluationFailure
from matloop.oracles.calculators import (
    CALCULATORS,
    MissingCalculatorPackage,
    calculator_provenance,
    make_calculator,
)
from matloop.oracles.recipes import (
    PROPERTIES_BY_RECIPE,
    RECIPES,
    RecipeResult,
    RecipeSettings,
    elastic,
    elastic_moduli,
    elemental_reference,
    energy,
    eos,
    formation_energy,
    relax,
)

SETTINGS = RecipeSettings(fmax=0.01)


def cu(a: float = 3.6, cubic: bool = False) -> Atoms:
    atoms = bulk("Cu", "fcc", a=a, cubic=cubic)
    atoms.calc = EMT()
    return atoms


def emt_factory(directory: Path) -> Calculator:
    return EMT()


def failure(recipe, atoms: Atoms, settings, directory: Path, **kwargs) -> EvaluationFailure:
    with pytest.raises(EvaluationFailure) as info:
        recipe(atoms, settings, directory, **kwargs)
    return info.value


@pytest.fixture(scope="module")
def cu_eos(tmp_path_factory: pytest.TempPathFactory) -> RecipeResult:
    return eos(cu(), SETTINGS, tmp_path_factory.mktemp("eos"))


@pytest.fixture(scope="module")
def cu_elastic(tmp_path_factory: pytest.TempPathFactory) -> RecipeResult:
    return elastic(cu(cubic=True), SETTINGS, tmp_path_factory.mktemp("elastic"))


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    return {el: elemental_reference(el, emt_factory, SETTINGS,
                                    tmp_path_factory.mktemp(f"ref-{el}"))
            for el in ("Cu", "Au")}


# -- the recipes -------------------------------------------------------------------------


def test_registry_matches_the_declared_properties(tmp_path: Path) -> None:
    assert set(RECIPES) == set(PROPERTIES_BY_RECIPE) == {
        "energy", "relax", "eos", "elastic", "formation_energy"}
    for name, recipe in RECIPES.items():
        kwargs = {"reference": lambda el: -0.007} if name == "formation_energy" else {}
        result = recipe(cu(), {"fmax": 0.05}, tmp_path / name, **kwargs)
        assert result.values.keys() == PROPERTIES_BY_RECIPE[name].keys(), name
        assert result.units == PROPERTIES_BY_RECIPE[name], name
        assert all(math.isfinite(v) for v in result.values.values()), name
        assert result.steps >= 1, name
        json.dumps(result.details)  # JSON-able
        assert result.details["recipe"] == name


def test_energy_is_a_single_point_per_atom(tmp_path: Path) -> None:
    atoms = cu(cubic=True)  # four atoms
    result = energy(atoms, None, tmp_path)
    reference = cu()  # the same crystal, one atom
    assert result.values["energy_per_atom"] == pytest.approx(
        reference.get_potential_energy(), abs=1e-10)
    assert result.steps == 1
    assert result.units == {"energy_per_atom": "eV/atom"}


def test_relax_lowers_the_energy_of_a_strained_cell(tmp_path: Path) -> None:
    strained = cu(a=3.75)
    start = strained.get_potential_energy() / len(strained)
    cell_before = strained.cell.array.copy()
    result = relax(strained, SETTINGS, tmp_path)
    e, v = result.values["energy_per_atom"], result.values["volume_per_atom"]
    assert e < start - 0.01  # 3.75 Å is 4 % stretched: ~0.04 eV/atom above the minimum
    assert e == pytest.approx(-0.00704, abs=1e-4)
    assert v == pytest.approx(11.565, rel=0.005)  # a = 3.590 Å
    assert result.details["relax"]["converged"]
    assert result.details["relax"]["volume_change"] < -0.1
    assert 1 < result.steps < 50
    np.testing.assert_array_equal(strained.cell.array, cell_before)  # input untouched
    assert np.abs(result.atoms.get_forces()).max() < 0.01
    assert result.atoms.get_volume() / len(result.atoms) == pytest.approx(v)


def test_relax_with_fire_reaches_the_same_minimum(tmp_path: Path) -> None:
    bfgs = relax(cu(a=3.7), SETTINGS, tmp_path / "bfgs")
    fire = relax(cu(a=3.7), {"optimizer": "FIRE", "fmax": 0.01}, tmp_path / "fire")
    assert fire.details["relax"]["optimizer"] == "FIRE"
    assert fire.values["energy_per_atom"] == pytest.approx(
        bfgs.values["energy_per_atom"], abs=1e-4)


def test_relax_relaxes_internal_positions(tmp_path: Path) -> None:
    atoms = cu(cubic=True)
    atoms.rattle(stdev=0.05, seed=1)
    rattled = atoms.get_potential_energy() / len(atoms)
    result = relax(atoms, SETTINGS, tmp_path)
    assert result.values["energy_per_atom"] < rattled
    assert result.values["energy_per_atom"] == pytest.approx(-0.00704, abs=1e-4)


def test_relax_out_of_steps_is_not_converged(tmp_path: Path) -> None:
    error = failure(relax, cu(a=3.8), {"max_steps": 1}, tmp_path)
    assert error.reason == "not_converged"
    assert "max_steps=1" in str(error)


def test_large_volume_change_is_invalid(tmp_path: Path) -> None:
    # 3.8 Å relaxes to 3.59 Å: a volume change of -16 %
    error = failure(relax, cu(a=3.8), {"max_volume_change": 0.02}, tmp_path / "tight")
    assert error.reason == "invalid"
    assert "-15.7%" in str(error)
    # a cell stretched by 35 % collapses by more than the default 50 %
    error = failure(relax, cu(a=3.6 * 1.35), None, tmp_path / "default")
    assert error.reason == "invalid"
    # and within the default limit the same 3.8 Å cell is fine
    assert relax(cu(a=3.8), None, tmp_path / "ok").details["relax"]["converged"]


def test_eos_gives_the_emt_bulk_modulus_of_copper(cu_eos: RecipeResult) -> None:
    assert cu_eos.values["bulk_modulus"] == pytest.approx(133.9, abs=1.5)
    assert cu_eos.values["volume_per_atom"] == pytest.approx(11.565, rel=0.002)
    assert cu_eos.values["energy_per_atom"] == pytest.approx(-0.00704, abs=1e-4)
    assert cu_eos.units["bulk_modulus"] == "GPa"
    assert cu_eos.details["bulk_modulus_pressure_derivative"] == pytest.approx(5, abs=1.5)
    assert len(cu_eos.details["volumes_per_atom"]) == SETTINGS.points


def test_eos_bulk_modulus_matches_an_independent_fit(tmp_path: Path) -> None:
    """A hand-made quadratic fit of E(V) near the minimum: B = V d²E/dV²."""
    result = eos(cu(), {"points": 5, "strain": 0.01, "fmax": 0.01}, tmp_path)
    atoms = cu(a=3.5895)
    cell = atoms.cell.array.copy()
    volumes, energies = [], []
    for scale in np.linspace(0.995, 1.005, 5):
        atoms.set_cell(cell * scale, scale_atoms=True)
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    c2, c1, _ = np.polyfit(volumes, energies, 2)
    v0 = -c1 / (2 * c2)
    assert result.values["bulk_modulus"] == pytest.approx(2 * c2 * v0 / GPa, rel=0.01)


def test_eos_minimum_outside_the_sampled_volumes_is_not_converged(tmp_path: Path) -> None:
    error = failure(eos, cu(a=4.0), {"relax": False, "strain": 0.02, "points": 5}, tmp_path)
    assert error.reason == "not_converged"
    assert "outside the sampled volumes" in str(error)


def test_elastic_tensor_of_fcc_copper_is_cubic(cu_elastic: RecipeResult) -> None:
    c = np.array(cu_elastic.details["elastic_tensor"])
    assert c.shape == (6, 6)
    np.testing.assert_allclose(c, c.T)
    c11, c12, c44 = c[0, 0], c[0, 1], c[3, 3]
    np.testing.assert_allclose(np.diag(c)[:3], c11, rtol=1e-3)
    np.testing.assert_allclose([c[0, 1], c[0, 2], c[1, 2]], c12, rtol=1e-3)
    np.testing.assert_allclose(np.diag(c)[3:], c44, rtol=1e-3)
    assert np.abs(c[:3, 3:]).max() < 0.5 and np.abs(c[3:, 3:] - np.diag(np.diag(c)[3:])).max() < 0.5
    assert c11 == pytest.approx(172.6, abs=2)
    assert c12 == pytest.approx(115.5, abs=2)
    assert c44 == pytest.approx(90.0, abs=2)
    assert cu_elastic.details["mechanically_stable"] is True


def test_elastic_moduli_agree_with_the_eos(cu_elastic: RecipeResult, cu_eos: RecipeResult
                                          ) -> None:
    k = cu_elastic.values["bulk_modulus"]
    g = cu_elastic.values["shear_modulus"]
    d = cu_elastic.details
    assert k == pytest.approx(cu_eos.values["bulk_modulus"], rel=0.02)
    assert k == pytest.approx(134.6, abs=1.5)
    # cubic: Voigt and Reuss bulk moduli coincide, (C11 + 2 C12) / 3
    c = np.array(d["elastic_tensor"])
    assert d["bulk_modulus_voigt"] == pytest.approx((c[0, 0] + 2 * c[0, 1]) / 3, rel=1e-6)
    assert d["bulk_modulus_reuss"] == pytest.approx(d["bulk_modulus_voigt"], rel=1e-6)
    # anisotropic Cu (Zener ratio ~3): Voigt > Hill > Reuss shear moduli, all positive
    assert d["shear_modulus_voigt"] > g > d["shear_modulus_reuss"] > 0
    assert g == pytest.approx((d["shear_modulus_voigt"] + d["shear_modulus_reuss"]) / 2)
    assert g == pytest.approx(56.9, abs=1.5)
    assert cu_elastic.units == {"energy_per_atom": "eV/atom", "volume_per_atom": "Å^3/atom",
                                "bulk_modulus": "GPa", "shear_modulus": "GPa"}


def test_elastic_constants_match_energy_curvatures(cu_elastic: RecipeResult) -> None:
    """Independent of stresses and signs: E/V = C11 ε²/2 (uniaxial), C44 γ²/2 (shear)."""
    c = np.array(cu_elastic.details["elastic_tensor"])
    relaxed = cu_elastic.atoms.copy()
    relaxed.calc = EMT()
    cell = relaxed.cell.array.copy()
    v = relaxed.get_volume()

    def curvature(strain: np.ndarray) -> float:
        energies = []
        for x in (-0.005, 0.0, 0.005):
            atoms = relaxed.copy()
            atoms.calc = EMT()
            atoms.set_cell(cell @ (np.eye(3) + x * strain), scale_atoms=True)
            energies.append(atoms.get_potential_energy())
        return (energies[0] - 2 * energies[1] + energies[2]) / 0.005**2 / v / GPa

    uniaxial = np.diag([1.0, 0, 0])
    shear = np.array([[0, 0, 0], [0, 0, 0.5], [0, 0.5, 0]])  # engineering γ_yz = x
    assert curvature(uniaxial) == pytest.approx(c[0, 0], rel=0.01)
    assert curvature(shear) == pytest.approx(c[3, 3], rel=0.01)


# Computed with the former hand-written code (per-component np.polyfit of the stresses,
# C symmetrised, Voigt/Reuss/Hill formulas), settings fmax = 0.001, max_steps = 500.
OLD_ELASTIC = {
    "Al": {"bulk_modulus": 39.67392681400932, "shear_modulus": 21.855308176676587,
           "bulk_modulus_voigt": 39.67392681400933, "bulk_modulus_reuss": 39.67392681400932,
           "shear_modulus_voigt": 25.790297266228972,
           "shear_modulus_reuss": 17.920319087124202},
    "CuAu": {"bulk_modulus": 152.60474547323275, "shear_modulus": 41.11897751623963,
             "bulk_modulus_voigt": 155.2447520583118, "bulk_modulus_reuss": 149.9647388881537,
             "shear_modulus_voigt": 50.2778607304253,
             "shear_modulus_reuss": 31.960094302053964},
}


@pytest.mark.parametrize("name", sorted(OLD_ELASTIC))
def test_elastic_moduli_match_the_former_hand_written_code(tmp_path: Path, name: str) -> None:
    if name == "Al":
        atoms = bulk("Al", "fcc", a=4.0)
    else:  # tetragonal CuAu (CsCl-like, stretched along z)
        atoms = Atoms("CuAu", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]],
                      cell=[2.8, 2.8, 3.7], pbc=True)
    atoms.calc = EMT()
    result = elastic(atoms, {"fmax": 0.001, "max_steps": 500, "unstable": "keep"}, tmp_path)
    found = {**result.values, **result.details}
    for key, value in OLD_ELASTIC[name].items():
        assert found[key] == pytest.approx(value, rel=1e-6), key


# a triclinic-looking tensor (GPa): positive definite, no symmetry
C_TEST = np.array([[250.0, 120, 110, 5, -3, 2], [120, 230, 105, -4, 6, 1],
                   [110, 105, 210, 3, 2, -5], [5, -4, 3, 80, 4, -2],
                   [-3, 6, 2, 4, 70, 3], [2, 1, -5, -2, 3, 90]])


def test_elastic_moduli_recover_a_known_tensor() -> None:
    """Exact stresses σ = C ε (Voigt, engineering shears) at the recipe's strains give C
    back and the former code's Voigt, Reuss and Hill moduli of it."""
    from pymatgen.analysis.elasticity import Strain

    strains, stresses = [], []
    for j in range(6):
        for delta in (-0.01, -0.005, 0.005, 0.01):
            strain = np.asarray(Strain.from_index_amount(j, delta))
            engineering = np.array([strain[0, 0], strain[1, 1], strain[2, 2],
                                    2 * strain[1, 2], 2 * strain[0, 2], 2 * strain[0, 1]])
            strains.append(strain)
            stresses.append(C_TEST @ engineering)
    c, moduli = elastic_moduli(strains, stresses)
    np.testing.assert_allclose(c, C_TEST, rtol=1e-9, atol=1e-9)
    expected = {"bulk_modulus_voigt": 151.11111111111111,
                "bulk_modulus_reuss": 149.61075596551572,
                "shear_modulus_voigt": 71.66666666666667,
                "shear_modulus_reuss": 69.04310717504002,
                "bulk_modulus_hill": 150.36093353831342,
                "shear_modulus_hill": 70.35488692085335}
    assert moduli == pytest.approx(expected, rel=1e-9)
    # wrong maths is caught: tensor shears instead of engineering ones double C44..C66
    halved = [s if j < 3 else s / 2 for j, s in
              zip(np.repeat(range(6), 4), strains, strict=True)]
    c_wrong, _ = elastic_moduli(halved, stresses)
    assert c_wrong[3, 3] == pytest.approx(2 * C_TEST[3, 3])


def test_a_symmetric_tensor_of_a_tetragonal_crystal_matches_pymatgen(tmp_path: Path) -> None:
    from pymatgen.analysis.elasticity import ElasticTensor

    # L1_0 CuAu: Au and Cu planes alternate along x, which relaxes to 0.91 of y and z
    l10 = bulk("Cu", "fcc", a=3.85, cubic=True)
    l10[0].symbol = l10[1].symbol = "Au"
    l10.calc = EMT()
    result = elastic(l10, SETTINGS, tmp_path)
    c = np.array(result.details["elastic_tensor"])
    np.testing.assert_array_equal(c, c.T)
    assert c[1, 1] == pytest.approx(c[2, 2], rel=1e-3)
    assert c[0, 0] != pytest.approx(c[1, 1], rel=0.05)  # tetragonal, not cubic
    assert c[3, 3] != pytest.approx(c[4, 4], rel=0.05)
    tensor = ElasticTensor.from_voigt(c)
    assert result.values["bulk_modulus"] == pytest.approx(tensor.k_vrh, rel=1e-9)
    assert result.values["shear_modulus"] == pytest.approx(tensor.g_vrh, rel=1e-9)


def test_unstable_structure_fails_as_infeasible(tmp_path: Path) -> None:
    # bcc Cu is a saddle point of the Bain path: C11 < C12 with EMT
    atoms = bulk("Cu", "bcc", a=2.87)
    atoms.calc = EMT()
    with pytest.raises(EvaluationFailure, match="mechanically unstable") as info:
        elastic(atoms, {"relax": False}, tmp_path)
    assert info.value.reason == "infeasible"


def test_unstable_structure_is_kept_when_asked(tmp_path: Path) -> None:
    atoms = bulk("Cu", "bcc", a=2.87)
    atoms.calc = EMT()
    result = elastic(atoms, {"relax": False, "unstable": "keep"}, tmp_path)
    c = np.array(result.details["elastic_tensor"])
    assert c[0, 0] < c[0, 1]
    assert result.details["mechanically_stable"] is False
    assert min(result.details["elastic_tensor_eigenvalues"]) < 0


class _Flat(Calculator):
    """A calculator with no energy landscape at all: zero energy, forces and stress."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(atoms) if atoms is not None else 1
        self.results = {"energy": 0.0, "free_energy": 0.0,
                        "forces": np.zeros((n, 3)), "stress": np.zeros(6)}


def test_singular_elastic_tensor_is_not_converged(tmp_path: Path) -> None:
    atoms = bulk("Cu", "fcc", a=3.6)
    atoms.calc = _Flat()
    error = failure(elastic, atoms, {"relax": False}, tmp_path)
    assert error.reason == "not_converged"
    assert "singular" in str(error)


def test_elemental_reference_is_the_relaxed_element(tmp_path: Path,
                                                    references: dict[str, float]) -> None:
    assert references["Cu"] == pytest.approx(-0.00704, abs=1e-4)
    assert references["Au"] == pytest.approx(-0.00013, abs=1e-4)
    # the same, in a temporary folder of its own
    assert elemental_reference("Cu", emt_factory, SETTINGS) == pytest.approx(
        references["Cu"], abs=1e-9)
    # a pure element's formation energy against its reference is zero
    pure = formation_energy(cu(a=3.7, cubic=True), SETTINGS, tmp_path,
                            reference=references.__getitem__)
    assert pure.values["formation_energy_per_atom"] == pytest.approx(0, abs=1e-5)


def test_element_without_a_reference_crystal_is_invalid() -> None:
    for symbol in ("H", "O", "Xx"):
        with pytest.raises(EvaluationFailure) as info:
            elemental_reference(symbol, emt_factory, SETTINGS)
        assert info.value.reason == "invalid", symbol


def test_formation_energy_of_ordered_cu_au(tmp_path: Path,
                                           references: dict[str, float]) -> None:
    l12 = bulk("Cu", "fcc", a=3.75, cubic=True)  # L1_2 Cu3Au: Au on the cube corner
    l12[0].symbol = "Au"
    l12.calc = EMT()
    cu3au = formation_energy(l12, SETTINGS, tmp_path / "l12", reference=references.__getitem__)
    ef = cu3au.values["formation_energy_per_atom"]
    assert ef == pytest.approx(-0.0102, abs=0.002)
    assert cu3au.details["counts"] == {"Au": 1, "Cu": 3}
    expected = cu3au.values["energy_per_atom"] - (3 * references["Cu"] + references["Au"]) / 4
    assert ef == pytest.approx(expected, abs=1e-12)
    # Vegard-like volume: between fcc Cu (11.6) and Au (~16.9 with EMT) Å^3/atom
    assert 11.6 < cu3au.values["volume_per_atom"] < 14

    l10 = bulk("Cu", "fcc", a=3.85, cubic=True)  # L1_0 CuAu: alternating (001) planes
    l10[0].symbol = l10[1].symbol = "Au"
    l10.calc = EMT()
    cuau = formation_energy(l10, SETTINGS, tmp_path / "l10", reference=references.__getitem__)
    assert cuau.values["formation_energy_per_atom"] == pytest.approx(-0.0078, abs=0.002)
    a, b, c = cuau.atoms.cell.lengths()
    assert a != pytest.approx(b, rel=0.01) or a != pytest.approx(c, rel=0.01)  # tetragonal


def test_formation_energy_needs_a_reference(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reference"):
        formation_energy(cu(), None, tmp_path)


def test_files_are_written_into_the_scratch_directory(tmp_path: Path) -> None:
    scratch = tmp_path / "a" / "b"
    result = relax(cu(a=3.7), SETTINGS, scratch)
    log = (scratch / "optimizer.log").read_text()
    assert "BFGS" in log and "positions and cell" in log
    final = read(scratch / "final.extxyz")
    assert isinstance(final, Atoms)
    assert final.get_potential_energy() / len(final) == pytest.approx(
        result.values["energy_per_atom"], abs=1e-8)
    np.testing.assert_allclose(final.cell.array, result.atoms.cell.array, atol=1e-6)
    eos(cu(), {"fmax": 0.05}, tmp_path / "eos")
    assert (tmp_path / "eos" / "final.extxyz").is_file()
    assert "eos point 6" in (tmp_path / "eos" / "optimizer.log").read_text()


def test_settings_are_checked() -> None:
    assert RecipeSettings.from_mapping({"elastic_strains": [0.01]}).elastic_strains == (0.01,)
    with pytest.raises(ValueError, match="unknown recipe settings"):
        RecipeSettings.from_mapping({"fmax": 0.05, "ecut": 400})
    with pytest.raises(ValueError, match="optimizer"):
        RecipeSettings(optimizer="LBFGS-B")
    with pytest.raises(ValueError, match="points"):
        RecipeSettings(points=3)


def test_a_structure_without_calculator_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no calculator"):
        energy(bulk("Cu"), None, tmp_path)


# -- the calculator registry -------------------------------------------------------------


def test_emt_by_name_and_by_import_path_agree(tmp_path: Path) -> None:
    by_name = make_calculator("emt", {}, tmp_path)
    by_path = make_calculator("ase.calculators.emt:EMT", {}, tmp_path)
    assert isinstance(by_name, EMT) and isinstance(by_path, EMT)
    energies = []
    for calc in (by_name, by_path):
        atoms = bulk("Cu", "fcc", a=3.6)
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
    assert energies[0] == energies[1] == pytest.approx(-0.00669, abs=1e-4)


def test_import_path_factory_gets_the_directory(tmp_path: Path) -> None:
    vasp = make_calculator("ase.calculators.vasp:Vasp", {"xc": "PBE"}, tmp_path / "vasp")
    assert Path(getattr(vasp, "directory", "")) == tmp_path / "vasp"
    assert (tmp_path / "vasp").is_dir()


def test_unknown_calculator_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        make_calculator("lammps-ish", {}, tmp_path)
    for name in CALCULATORS:
        assert name in str(info.value)
    assert "package.module:factory" in str(info.value)
    with pytest.raises(ValueError, match="no callable 'Nope'"):
        make_calculator("ase.calculators.emt:Nope", {}, tmp_path)


def test_missing_package_names_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingCalculatorPackage, match="pip install no_such_pkg_xyz"):
        make_calculator("no_such_pkg_xyz.calc:Calc", {}, tmp_path)
    with pytest.raises(ImportError, match="apt-get install quantum-espresso"):
        make_calculator("espresso", {"pw": str(tmp_path / "bin" / "pw.x")}, tmp_path)


@pytest.mark.parametrize(("name", "install"), [("gpaw", "pip install gpaw"),
                                                ("chgnet", "pip install chgnet")])
def test_missing_optional_package(name: str, install: str, tmp_path: Path) -> None:
    if importlib.util.find_spec(name) is not None:
        pytest.skip(f"{name} is installed")
    with pytest.raises(MissingCalculatorPackage) as info:
        make_calculator(name, {}, tmp_path)
    assert isinstance(info.value, ImportError)
    assert install in str(info.value)
    assert info.value.calculator == name


def test_missing_pw_x(tmp_path: Path) -> None:
    if shutil.which("pw.x") is not None:
        pytest.skip("pw.x is installed")
    with pytest.raises(MissingCalculatorPackage, match="quantum-espresso"):
        make_calculator("espresso", {}, tmp_path)


def test_provenance_records_package_versions_and_parameters() -> None:
    prov = calculator_provenance("emt", {"asap_cutoff": False})
    assert prov["calculator"] == "emt"
    assert prov["package"] == "ase"
    assert prov["version"] == prov["ase_version"] == ase.__version__
    assert prov["parameters"] == {"asap_cutoff": False}
    prov = calculator_provenance("gpaw", {"mode": {"name": "pw", "ecut": 250},
                                          "kpts": (4, 4, 4), "h": np.float64(0.2),
                                          "setups": Path("/x")})
    assert prov["package"] == "gpaw"
    assert prov["ase_version"] == ase.__version__
    assert prov["parameters"] == {"mode": {"name": "pw", "ecut": 250}, "kpts": [4, 4, 4],
                                  "h": 0.2, "setups": "/x"}
    json.dumps(prov)
    prov = calculator_provenance("ase.calculators.vasp:Vasp", {})
    assert prov["package"] == "ase" and prov["version"] == ase.__version__


# -- optional calculators, where installed -----------------------------------------------


def test_chgnet_energy_of_copper(tmp_path: Path) -> None:
    pytest.importorskip("chgnet")
    atoms = bulk("Cu", "fcc", a=3.6)
    atoms.calc = make_calculator("chgnet", {}, tmp_path)
    result = energy(atoms, None, tmp_path)
    assert -5 < result.values["energy_per_atom"] < -3  # DFT (MP) scale: about -4.1 eV/atom


# GPAW and Quantum ESPRESSO: .ci/install-dft installs both (tests/oracles/test_dft.py has
# their EOS and a GPAW campaign). Cheap settings; the bands are what they gave here.
GPAW_AL = {"mode": {"name": "pw", "ecut": 300}, "kpts": {"size": [8, 8, 8], "gamma": True},
           "xc": "PBE", "occupations": {"name": "fermi-dirac", "width": 0.1}}
QE_PSEUDO_DIR = Path("/usr/share/espresso/pseudo")  # the espresso calculator's default
QE_AL_PSEUDO = "Al.pz-vbc.UPF"  # LDA, norm-conserving; from Debian's quantum-espresso-data
QE_AL = {"pseudopotentials": {"Al": QE_AL_PSEUDO},
         "input_data": {"system": {"ecutwfc": 20, "occupations": "smearing",
                                   "smearing": "mv", "degauss": 0.02}},
         "kpts": [8, 8, 8]}


def test_gpaw_energy_of_aluminium(tmp_path: Path) -> None:
    pytest.importorskip("gpaw")
    atoms = bulk("Al", "fcc", a=4.04)
    atoms.calc = make_calculator("gpaw", GPAW_AL, tmp_path)
    result = energy(atoms, None, tmp_path)
    # GPAW's energies are relative to its reference atoms: here -3.73 eV/atom (PBE Al's
    # cohesive energy is about 3.4-3.5 eV plus the atoms' spin polarisation)
    assert -4.0 < result.values["energy_per_atom"] < -3.4
    text = (tmp_path / "gpaw.txt").read_text()
    assert "Converged in" in text and "PBE" in text
    assert result.atoms.get_chemical_formula() == "Al"


def test_espresso_energy_of_aluminium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    if shutil.which("pw.x") is None:
        pytest.skip("Quantum ESPRESSO (pw.x) is not installed")
    if not (QE_PSEUDO_DIR / QE_AL_PSEUDO).is_file():
        pytest.skip(f"no {QE_AL_PSEUDO} in {QE_PSEUDO_DIR} (quantum-espresso-data)")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    atoms = bulk("Al", "fcc", a=3.97)
    atoms.calc = make_calculator("espresso", QE_AL, tmp_path)
    result = energy(atoms, None, tmp_path)
    # pw.x's total energy with this pseudopotential: -4.19 Ry = -57.0 eV per atom
    assert -58.0 < result.values["energy_per_atom"] < -56.0
    output = (tmp_path / "espresso.pwo").read_text()
    assert "convergence has been achieved" in output
    assert "JOB DONE" in output


def test_missing_sevenn_names_what_to_install(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether or not sevenn is installed: an import that fails says what to install."""
    import sys

    from matloop.oracles import calculators

    monkeypatch.setitem(sys.modules, "sevenn", None)  # import sevenn -> ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "sevenn.calculator", None)
    calculators._loaded_sevennet.cache_clear()
    with pytest.raises(MissingCalculatorPackage, match="pip install sevenn") as info:
        make_calculator("sevennet", {"model": "7net-0"}, tmp_path)
    assert info.value.calculator == "sevennet"
    calculators._loaded_sevennet.cache_clear()
