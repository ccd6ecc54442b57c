"""Calculation recipes: what to compute on a structure that has an ASE calculator attached.

Every recipe has the signature ``recipe(atoms, settings, directory, *, reference=None) ->
RecipeResult``. It works on a copy of ``atoms`` (using ``atoms.calc``), writes its
optimiser log (``optimizer.log``) and final structure (``final.extxyz``) into the scratch
``directory`` and returns per-atom values in fixed units: energies eV/atom, volumes
Å^3/atom, moduli GPa (``PROPERTIES_BY_RECIPE`` lists them). ``steps`` counts optimiser
iterations plus one single point per structure whose energy or stress is read.

``energy``
    a single point: ``energy_per_atom``.
``relax``
    positions and cell (``FrechetCellFilter``) with BFGS or FIRE to ``fmax``:
    ``energy_per_atom``, ``volume_per_atom``.
``eos``
    (relax, then) ``points`` volumes over ``± strain`` linear strain and a
    Birch–Murnaghan fit: ``energy_per_atom``, ``volume_per_atom``, ``bulk_modulus``.
``elastic``
    (relax, then) stresses at ``± elastic_strains`` of each Voigt strain component, a
    least-squares 6×6 elastic tensor and its Voigt–Reuss–Hill averages (pymatgen's
    ``ElasticTensor``): ``bulk_modulus`` and ``shear_modulus`` (Hill), plus
    ``energy_per_atom`` and ``volume_per_atom``.
``formation_energy``
    (relax, then) the energy per atom against elemental references given by
    ``reference(symbol) -> eV/atom`` (see :func:`elemental_reference`):
    ``formation_energy_per_atom``, ``energy_per_atom``, ``volume_per_atom``.

Failures raise ``EvaluationFailure``: ``not_converged`` for relaxations that run out of
steps, EOS fits whose minimum is not bracketed and singular elastic tensors; ``invalid``
for unphysical volume changes during a relaxation and elements without a reference
structure. ASE and pymatgen are imported inside the functions.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.errors import EvaluationFailure
from matloop.oracles.recipe_settings import (
    EOS_FORM,
    EV_PER_ATOM,
    FINAL_NAME,
    GPA,
    LOG_NAME,
    PROPERTIES_BY_RECIPE,
    Recipe,
    RecipeResult,
    RecipeSettings,
    Reference,
    SettingsLike,
    settings_of,
)
from matloop.oracles.relaxing import (
    energy_per_atom,
    optimizer_log,
    recipe_result,
    relax_atoms,
    relax_positions,
    scratch,
    strained,
    working_copy,
)

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import BaseCalculator

__all__ = [
    "EV_PER_ATOM",
    "FINAL_NAME",
    "LOG_NAME",
    "PROPERTIES_BY_RECIPE",
    "RECIPES",
    "Recipe",
    "RecipeResult",
    "RecipeSettings",
    "elastic_moduli",
    "elemental_reference",
]

# -- the recipes ------------------------------------------------------------------------


def energy(atoms: Atoms, settings: SettingsLike, directory: Path, *,
           reference: Reference | None = None) -> RecipeResult:
    """A single point: ``energy_per_atom`` (eV/atom)."""
    directory = scratch(directory)
    work = working_copy(atoms)
    with optimizer_log(directory) as log:
        e = energy_per_atom(work)
        log.write(f"# energy: single point, {e:.8f} eV/atom\n")
    return recipe_result("energy", {"energy_per_atom": e}, work, 1, {}, directory)


def relax(atoms: Atoms, settings: SettingsLike, directory: Path, *,
          reference: Reference | None = None) -> RecipeResult:
    """Relax positions and cell: ``energy_per_atom`` (eV/atom), ``volume_per_atom`` (Å^3)."""
    s = settings_of(settings)
    directory = scratch(directory)
    work = working_copy(atoms)
    with optimizer_log(directory) as log:
        steps, details = relax_atoms(work, s, log, "relax")
        e = energy_per_atom(work)
    values = {"energy_per_atom": e, "volume_per_atom": work.get_volume() / len(work)}
    return recipe_result("relax", values, work, steps + 1, {"relax": details}, directory)


def eos(atoms: Atoms, settings: SettingsLike, directory: Path, *,
        reference: Reference | None = None) -> RecipeResult:
    """Birch–Murnaghan EOS over ``points`` cells within ``± strain`` linear strain.

    The cells are ``(1 + strain) * cell`` of the (relaxed) structure. With
    ``relax_positions`` each is relaxed at fixed cell, visiting them from the middle of the
    range outwards and starting each from the relaxed fractional positions of its
    neighbour towards the middle (local distortions barely change with volume, so this
    saves BFGS steps). ASE's ``EquationOfState`` fits the energies. Values at the fitted
    minimum: ``energy_per_atom`` (eV/atom), ``volume_per_atom`` (Å^3/atom),
    ``bulk_modulus`` (GPa). ``not_converged`` if the fit fails, its minimum lies outside
    the sampled volumes or its bulk modulus is not positive.
    """
    from ase.eos import EquationOfState
    from ase.units import GPa

    s = settings_of(settings)
    directory = scratch(directory)
    work = working_copy(atoms)
    n = len(work)
    details: dict[str, Any] = {"eos": EOS_FORM}
    steps = 0
    with optimizer_log(directory) as log:
        if s.relax:
            steps, details["relax"] = relax_atoms(work, s, log, "relax")
        cell = work.cell.array.copy()
        strains = np.linspace(-s.strain, s.strain, s.points)
        volumes, energies = np.empty(s.points), np.empty(s.points)
        mid = s.points // 2
        relaxed: dict[int, np.ndarray] = {}  # point -> relaxed fractional positions
        for i in (mid, *range(mid + 1, s.points), *range(mid - 1, -1, -1)):
            eps = strains[i]
            point = strained(work, cell * (1 + eps))
            if s.relax_positions:
                neighbour = i - 1 if i > mid else i + 1
                if neighbour in relaxed:
                    point.set_scaled_positions(relaxed[neighbour])
                steps += relax_positions(point, s, log, f"eos point {i}, strain {eps:+.4f}")
                relaxed[i] = point.get_scaled_positions()
            volumes[i] = point.get_volume() / n
            energies[i] = energy_per_atom(point)
            steps += 1
        log.write("# eos: volume (Å^3/atom), energy (eV/atom)\n")
        log.writelines(f"{v:.6f} {e:.8f}\n" for v, e in zip(volumes, energies, strict=True))
    details["volumes_per_atom"] = volumes.tolist()
    details["energies_per_atom"] = energies.tolist()

    vmin, vmax = float(volumes.min()), float(volumes.max())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = EquationOfState(volumes, energies, eos=EOS_FORM)
            v0, e0, b = (float(x) for x in fit.fit(warn=False))
            residuals = fit.func(volumes, *fit.eos_parameters) - energies
            bp = float(fit.eos_parameters[2])
    except Exception as exc:
        raise EvaluationFailure(f"the {EOS_FORM} EOS fit failed: {type(exc).__name__}: "
                                f"{exc}", reason="not_converged") from exc
    if not all(math.isfinite(x) for x in (v0, e0, b, bp)):
        raise EvaluationFailure(f"the {EOS_FORM} EOS fit gave non-finite values "
                                f"(v0={v0}, e0={e0}, B={b})", reason="not_converged")
    if not vmin <= v0 <= vmax:
        raise EvaluationFailure(
            f"the EOS minimum at {v0:.3f} Å^3/atom lies outside the sampled volumes "
            f"[{vmin:.3f}, {vmax:.3f}] Å^3/atom; relax first or widen the strain",
            reason="not_converged")
    if b <= 0:
        raise EvaluationFailure(f"the EOS fit gave a non-positive bulk modulus "
                                f"({b / GPa:.3g} GPa)", reason="not_converged")
    details.update(bulk_modulus_pressure_derivative=bp,
                   rms_residual_ev_per_atom=float(np.sqrt(np.mean(residuals**2))))
    values = {"energy_per_atom": e0, "volume_per_atom": v0, "bulk_modulus": b / GPa}
    return recipe_result("eos", values, work, steps, details, directory)


def elastic(atoms: Atoms, settings: SettingsLike, directory: Path, *,
            reference: Reference | None = None) -> RecipeResult:
    """The elastic tensor from stress–strain finite differences, and its VRH moduli.

    Each Voigt component (xx, yy, zz, yz, xz, xy; engineering shear strains, pymatgen's
    ``Strain.from_index_amount``) is strained by ``± elastic_strains`` about the (relaxed)
    cell, the cell becoming ``cell @ (1 + ε)``; ASE's stress of each cell (eV/Å^3,
    positive in tension, ``σ = C ε``), after relaxing positions at fixed cell when
    ``relax_positions``, goes in GPa to :func:`elastic_moduli` (pymatgen's
    ``ElasticTensor``). Values: ``bulk_modulus``, ``shear_modulus`` (Hill averages, GPa),
    ``energy_per_atom``, ``volume_per_atom``. ``details`` holds ``elastic_tensor`` (6×6,
    GPa), the Voigt and Reuss moduli and ``mechanically_stable`` (C positive definite). A
    tensor that is not (the structure is mechanically unstable under this calculator; its
    Hill averages mean nothing and can be any sign or size) fails as ``infeasible`` unless
    ``unstable`` is ``keep``. A singular C (Reuss average undefined) is ``not_converged``.
    """
    from ase.units import GPa
    from pymatgen.analysis.elasticity import Strain

    s = settings_of(settings)
    directory = scratch(directory)
    work = working_copy(atoms)
    details: dict[str, Any] = {"elastic_strains": list(s.elastic_strains)}
    steps = 0
    magnitudes = sorted({m for m in s.elastic_strains} | {-m for m in s.elastic_strains})
    strains: list[np.ndarray] = []
    stresses: list[np.ndarray] = []  # Voigt, GPa
    with optimizer_log(directory) as log:
        if s.relax:
            steps, details["relax"] = relax_atoms(work, s, log, "relax")
        e = energy_per_atom(work)
        steps += 1
        cell = work.cell.array.copy()
        for j in range(6):
            for delta in magnitudes:
                strain = np.asarray(Strain.from_index_amount(j, delta))
                point = strained(work, cell @ (np.eye(3) + strain))
                if s.relax_positions:
                    steps += relax_positions(point, s, log,
                                              f"elastic component {j}, strain {delta:+.4f}")
                strains.append(strain)
                stresses.append(point.get_stress(voigt=True) / GPa)
                steps += 1
    c, moduli = elastic_moduli(strains, stresses)
    details["elastic_tensor"] = c.tolist()
    details["elastic_tensor_units"] = GPA
    eigenvalues = np.linalg.eigvalsh(c)
    details["elastic_tensor_eigenvalues"] = eigenvalues.tolist()
    details["mechanically_stable"] = bool(eigenvalues.min() > 0)
    if not details["mechanically_stable"] and s.unstable == "fail":
        raise EvaluationFailure(
            f"mechanically unstable: the elastic tensor's smallest eigenvalue is "
            f"{eigenvalues.min():.3g} GPa (Hill averages K = "
            f"{moduli['bulk_modulus_hill']:.4g}, G = {moduli['shear_modulus_hill']:.4g} GPa, "
            "not recorded; unstable = 'keep' records them)", reason="infeasible")
    details.update({k: v for k, v in moduli.items() if not k.endswith("_hill")})
    values = {
        "energy_per_atom": e,
        "volume_per_atom": work.get_volume() / len(work),
        "bulk_modulus": moduli["bulk_modulus_hill"],
        "shear_modulus": moduli["shear_modulus_hill"],
    }
    return recipe_result("elastic", values, work, steps, details, directory)


def elastic_moduli(strains: Sequence[np.ndarray], stresses: Sequence[np.ndarray]
                   ) -> tuple[np.ndarray, dict[str, float]]:
    """The elastic tensor fitted to stresses at independent strains, and its moduli.

    ``strains`` are symmetric 3×3 strains with one Voigt component each (engineering
    shears), in a stencil symmetric about zero; ``stresses`` the Voigt stresses (xx, yy,
    zz, yz, xz, xy; GPa, positive in tension) they cause. pymatgen's
    ``ElasticTensor.from_independent_strains`` fits each component's stresses linearly
    (the zero-strain point it adds has no leverage on the slope of a symmetric stencil, so
    the residual stress of the unstrained cell is not needed) and the tensor is symmetrised
    (``voigt_symmetrized``). Returns the 6×6 tensor (GPa) and its Voigt, Reuss and Hill
    bulk and shear moduli (GPa: ``bulk_modulus_voigt``, ..., ``shear_modulus_hill``).
    ``not_converged`` when the tensor is singular (the Reuss average is undefined).
    """
    from pymatgen.analysis.elasticity import ElasticTensor, Strain, Stress

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ElasticTensor.from_independent_strains(
            [Strain(e) for e in strains], [Stress.from_voigt(v) for v in stresses],
            eq_stress=Stress(np.zeros((3, 3))))
    tensor = fitted.voigt_symmetrized
    c = np.asarray(tensor.voigt, dtype=float)
    cond = np.linalg.cond(c)
    if not np.isfinite(cond) or cond > 1e12:
        raise EvaluationFailure(f"the elastic tensor is singular (condition number "
                                f"{cond:.3g}); the Reuss average is undefined",
                                reason="not_converged")
    moduli = {
        "bulk_modulus_voigt": float(tensor.k_voigt), "bulk_modulus_reuss": float(tensor.k_reuss),
        "shear_modulus_voigt": float(tensor.g_voigt),
        "shear_modulus_reuss": float(tensor.g_reuss),
        "bulk_modulus_hill": float(tensor.k_vrh), "shear_modulus_hill": float(tensor.g_vrh),
    }
    bad = [k for k, v in moduli.items() if not math.isfinite(v)]
    if bad:
        raise EvaluationFailure(f"non-finite elastic moduli: {', '.join(bad)}",
                                reason="not_converged")
    return c, moduli


def formation_energy(atoms: Atoms, settings: SettingsLike, directory: Path, *,
                     reference: Reference | None = None) -> RecipeResult:
    """Formation energy per atom against ``reference(symbol)`` (eV/atom of each element).

    Relaxes first when ``relax`` is set. Values: ``formation_energy_per_atom``,
    ``energy_per_atom`` (eV/atom) and ``volume_per_atom`` (Å^3/atom).
    """
    if reference is None:
        raise ValueError("the formation_energy recipe needs reference(symbol) -> eV/atom")
    s = settings_of(settings)
    directory = scratch(directory)
    work = working_copy(atoms)
    details: dict[str, Any] = {}
    steps = 0
    with optimizer_log(directory) as log:
        if s.relax:
            steps, details["relax"] = relax_atoms(work, s, log, "relax")
        e = energy_per_atom(work)
        steps += 1
        symbols = work.get_chemical_symbols()
        counts = {el: symbols.count(el) for el in sorted(set(symbols))}
        references = {el: float(reference(el)) for el in counts}
        bad = [el for el, r in references.items() if not math.isfinite(r)]
        if bad:
            raise EvaluationFailure(f"non-finite reference energy for {', '.join(bad)}",
                                    reason="not_converged")
        e_ref = sum(n * references[el] for el, n in counts.items()) / len(work)
        log.write(f"# formation energy: {e:.8f} - {e_ref:.8f} = {e - e_ref:.8f} eV/atom\n")
    details["references_per_atom"] = references
    details["counts"] = counts
    values = {"formation_energy_per_atom": e - e_ref, "energy_per_atom": e,
              "volume_per_atom": work.get_volume() / len(work)}
    return recipe_result("formation_energy", values, work, steps, details, directory)


RECIPES: dict[str, Recipe] = {
    "energy": energy,
    "relax": relax,
    "eos": eos,
    "elastic": elastic,
    "formation_energy": formation_energy,
}


def elemental_reference(symbol: str, calculator_factory: Callable[[Path], BaseCalculator],
                        settings: SettingsLike, directory: Path | None = None) -> float:
    """Energy per atom (eV/atom) of ``symbol`` in ASE's reference crystal, relaxed.

    The structure is ``ase.build.bulk(symbol)`` (fcc Cu, bcc Fe, hcp Zn, diamond C, ...);
    ``invalid`` if ASE has none (H, N, O, ...). ``calculator_factory(directory)`` makes the
    calculator (the same one, with the same parameters, as for the compound); positions
    and cell are relaxed with ``settings`` (whatever its ``relax`` flag says). Files go to
    ``directory``, or to a temporary folder that is removed. Pure: cache in the caller.
    """
    from ase.build import bulk
    from ase.data import atomic_numbers

    if symbol not in atomic_numbers or symbol == "X":
        raise EvaluationFailure(f"{symbol!r} is not an element", reason="invalid")
    try:
        atoms = bulk(symbol)
    except (ValueError, KeyError, TypeError) as exc:
        raise EvaluationFailure(f"ASE has no reference crystal structure for {symbol}: "
                                f"{exc}", reason="invalid") from exc
    s = settings_of(settings)
    if directory is None:
        with tempfile.TemporaryDirectory(prefix=f"matloop-ref-{symbol}-") as tmp:
            return relaxed_energy(atoms, calculator_factory, s, Path(tmp))
    return relaxed_energy(atoms, calculator_factory, s, Path(directory))


def relaxed_energy(atoms: Atoms, calculator_factory: Callable[[Path], BaseCalculator],
                   settings: RecipeSettings, directory: Path) -> float:
    """Energy per atom (eV/atom) of ``atoms`` relaxed with ``settings`` by the calculator
    ``calculator_factory(directory)`` makes; files go to ``directory``."""
    directory = scratch(directory)
    atoms.calc = calculator_factory(directory)
    result = relax(atoms, settings, directory)
    return result.values["energy_per_atom"]


# -- internals --------------------------------------------------------------------------
