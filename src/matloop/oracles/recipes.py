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
    least-squares 6×6 elastic tensor and its Voigt–Reuss–Hill averages: ``bulk_modulus``
    and ``shear_modulus`` (Hill), plus ``energy_per_atom`` and ``volume_per_atom``.
``formation_energy``
    (relax, then) the energy per atom against elemental references given by
    ``reference(symbol) -> eV/atom`` (see :func:`elemental_reference`):
    ``formation_energy_per_atom``, ``energy_per_atom``, ``volume_per_atom``.

Failures raise ``EvaluationFailure``: ``not_converged`` for relaxations that run out of
steps, EOS fits whose minimum is not bracketed and singular elastic tensors; ``invalid``
for unphysical volume changes during a relaxation and elements without a reference
structure. ASE is imported inside the functions.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np

from matloop.errors import EvaluationFailure

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import BaseCalculator

__all__ = [
    "PROPERTIES_BY_RECIPE",
    "RECIPES",
    "Recipe",
    "RecipeResult",
    "RecipeSettings",
    "elemental_reference",
]

EV_PER_ATOM = "eV/atom"
VOLUME_PER_ATOM = "Å^3/atom"
GPA = "GPa"
EOS_FORM = "birchmurnaghan"
OPTIMIZERS = ("BFGS", "FIRE")
LOG_NAME = "optimizer.log"
FINAL_NAME = "final.extxyz"

PROPERTIES_BY_RECIPE: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "energy": {"energy_per_atom": EV_PER_ATOM},
    "relax": {"energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM},
    "eos": {"energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM,
            "bulk_modulus": GPA},
    "elastic": {"energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM,
                "bulk_modulus": GPA, "shear_modulus": GPA},
    "formation_energy": {"formation_energy_per_atom": EV_PER_ATOM,
                         "energy_per_atom": EV_PER_ATOM, "volume_per_atom": VOLUME_PER_ATOM},
})


@dataclass(frozen=True)
class RecipeResult:
    """What a recipe computed.

    ``values`` maps property -> value in ``units[property]``; ``atoms`` is the final
    structure (its energy, forces and stress on a single-point calculator); ``steps``
    counts optimiser iterations and single points; ``details`` holds JSON-able extras.
    """

    values: dict[str, float]
    units: dict[str, str]
    atoms: Atoms
    steps: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeSettings:
    """Settings shared by the recipes; each recipe reads the ones it needs.

    ``optimizer``: ``BFGS`` or ``FIRE``; ``fmax``: force (and cell-force) threshold in
    eV/Å; ``max_steps``: optimiser iterations per relaxation; ``max_volume_change``: the
    largest ``|V_final / V_start - 1|`` a relaxation may reach before it counts as
    ``invalid``; ``relax``: relax positions and cell first (``eos``, ``elastic``,
    ``formation_energy``); ``relax_cell``: let the cell relax (else positions only);
    ``relax_positions``: relax positions at each fixed strained cell (``eos``,
    ``elastic``); ``points`` and ``strain``: the EOS volumes, ``points`` cells over
    ``± strain`` linear strain; ``elastic_strains``: the strain magnitudes applied with
    both signs to each Voigt component; ``unstable``: what ``elastic`` does with a tensor
    that is not positive definite, ``fail`` (``infeasible``) or ``keep``.
    """

    optimizer: str = "BFGS"
    fmax: float = 0.02
    max_steps: int = 200
    max_volume_change: float = 0.5
    relax: bool = True
    relax_cell: bool = True
    relax_positions: bool = True
    points: int = 7
    strain: float = 0.04
    elastic_strains: tuple[float, ...] = (0.005, 0.01)
    unstable: str = "fail"

    def __post_init__(self) -> None:
        if self.optimizer.upper() not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; use one of "
                             f"{', '.join(OPTIMIZERS)}")
        if not self.fmax > 0:
            raise ValueError(f"fmax must be positive, got {self.fmax}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if not self.max_volume_change > 0:
            raise ValueError(f"max_volume_change must be positive, got "
                             f"{self.max_volume_change}")
        if self.points < 5:
            raise ValueError(f"an EOS fit needs at least 5 points, got {self.points}")
        if not 0 < self.strain < 0.5:
            raise ValueError(f"strain must lie in (0, 0.5), got {self.strain}")
        if not self.elastic_strains or not all(0 < s < 0.1 for s in self.elastic_strains):
            raise ValueError("elastic_strains must be one or more magnitudes in (0, 0.1), "
                             f"got {self.elastic_strains}")
        if self.unstable not in ("fail", "keep"):
            raise ValueError(f"unstable must be 'fail' or 'keep', got {self.unstable!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RecipeSettings:
        """Settings from a plain dict; unknown keys raise ``ValueError``."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown recipe settings {unknown}; known: {sorted(known)}")
        if "elastic_strains" in values:
            values["elastic_strains"] = tuple(float(s) for s in values["elastic_strains"])
        return cls(**values)


Reference = Callable[[str], float]
"""``symbol -> energy per atom`` (eV/atom) of the element's reference structure."""

SettingsLike = RecipeSettings | Mapping[str, Any] | None


class Recipe(Protocol):
    def __call__(self, atoms: Atoms, settings: SettingsLike, directory: Path, *,
                 reference: Reference | None = None) -> RecipeResult: ...


def _settings(settings: SettingsLike) -> RecipeSettings:
    if isinstance(settings, RecipeSettings):
        return settings
    return RecipeSettings.from_mapping(settings)


# -- the recipes ------------------------------------------------------------------------


def energy(atoms: Atoms, settings: SettingsLike, directory: Path, *,
           reference: Reference | None = None) -> RecipeResult:
    """A single point: ``energy_per_atom`` (eV/atom)."""
    directory = _scratch(directory)
    work = _working_copy(atoms)
    with _log(directory) as log:
        e = _energy_per_atom(work)
        log.write(f"# energy: single point, {e:.8f} eV/atom\n")
    return _result("energy", {"energy_per_atom": e}, work, 1, {}, directory)


def relax(atoms: Atoms, settings: SettingsLike, directory: Path, *,
          reference: Reference | None = None) -> RecipeResult:
    """Relax positions and cell: ``energy_per_atom`` (eV/atom), ``volume_per_atom`` (Å^3)."""
    s = _settings(settings)
    directory = _scratch(directory)
    work = _working_copy(atoms)
    with _log(directory) as log:
        steps, details = _relax(work, s, log, "relax")
        e = _energy_per_atom(work)
    values = {"energy_per_atom": e, "volume_per_atom": work.get_volume() / len(work)}
    return _result("relax", values, work, steps + 1, {"relax": details}, directory)


def eos(atoms: Atoms, settings: SettingsLike, directory: Path, *,
        reference: Reference | None = None) -> RecipeResult:
    """Birch–Murnaghan EOS over ``points`` cells within ``± strain`` linear strain.

    Values at the fitted minimum: ``energy_per_atom`` (eV/atom), ``volume_per_atom``
    (Å^3/atom), ``bulk_modulus`` (GPa). ``not_converged`` if the fit fails, its minimum
    lies outside the sampled volumes or its bulk modulus is not positive.
    """
    from ase.eos import EquationOfState
    from ase.units import GPa

    s = _settings(settings)
    directory = _scratch(directory)
    work = _working_copy(atoms)
    n = len(work)
    details: dict[str, Any] = {"eos": EOS_FORM}
    steps = 0
    with _log(directory) as log:
        if s.relax:
            steps, details["relax"] = _relax(work, s, log, "relax")
        cell = work.cell.array.copy()
        strains = np.linspace(-s.strain, s.strain, s.points)
        volumes, energies = np.empty(s.points), np.empty(s.points)
        for i, eps in enumerate(strains):
            point = _strained(work, cell * (1 + eps))
            if s.relax_positions:
                steps += _relax_positions(point, s, log, f"eos point {i}, strain {eps:+.4f}")
            volumes[i] = point.get_volume() / n
            energies[i] = _energy_per_atom(point)
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
    return _result("eos", values, work, steps, details, directory)


def elastic(atoms: Atoms, settings: SettingsLike, directory: Path, *,
            reference: Reference | None = None) -> RecipeResult:
    """The elastic tensor from stress–strain finite differences, and its VRH moduli.

    Each Voigt component (xx, yy, zz, yz, xz, xy; engineering shear strains) is strained
    by ``± elastic_strains`` about the (relaxed) cell; ASE's stress (positive in tension,
    ``σ = C ε``) of each cell, after relaxing positions at fixed cell when
    ``relax_positions``, is fitted linearly per component, and C symmetrised. Values:
    ``bulk_modulus``, ``shear_modulus`` (Hill averages, GPa), ``energy_per_atom``,
    ``volume_per_atom``. ``details`` holds ``elastic_tensor`` (6×6, GPa), the Voigt and
    Reuss moduli and ``mechanically_stable`` (C positive definite). A tensor that is not
    (the structure is mechanically unstable under this calculator; its Hill averages mean
    nothing and can be any sign or size) fails as ``infeasible`` unless ``unstable`` is
    ``keep``. A singular C (Reuss average undefined) is ``not_converged``.
    """
    from ase.units import GPa

    s = _settings(settings)
    directory = _scratch(directory)
    work = _working_copy(atoms)
    details: dict[str, Any] = {"elastic_strains": list(s.elastic_strains)}
    steps = 0
    magnitudes = sorted({m for m in s.elastic_strains} | {-m for m in s.elastic_strains})
    with _log(directory) as log:
        if s.relax:
            steps, details["relax"] = _relax(work, s, log, "relax")
        e = _energy_per_atom(work)
        steps += 1
        cell = work.cell.array.copy()
        c = np.empty((6, 6))
        for j in range(6):
            stresses = np.empty((len(magnitudes), 6))
            for k, delta in enumerate(magnitudes):
                strain = _voigt_strain(j, delta)
                point = _strained(work, cell @ (np.eye(3) + strain))
                if s.relax_positions:
                    steps += _relax_positions(point, s, log,
                                              f"elastic component {j}, strain {delta:+.4f}")
                stresses[k] = point.get_stress(voigt=True)
                steps += 1
            slopes = np.polyfit(np.asarray(magnitudes), stresses, 1)[0]
            c[:, j] = slopes / GPa
    c = 0.5 * (c + c.T)
    details["elastic_tensor"] = c.tolist()
    details["elastic_tensor_units"] = GPA
    moduli = _vrh(c)
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
    return _result("elastic", values, work, steps, details, directory)


def formation_energy(atoms: Atoms, settings: SettingsLike, directory: Path, *,
                     reference: Reference | None = None) -> RecipeResult:
    """Formation energy per atom against ``reference(symbol)`` (eV/atom of each element).

    Relaxes first when ``relax`` is set. Values: ``formation_energy_per_atom``,
    ``energy_per_atom`` (eV/atom) and ``volume_per_atom`` (Å^3/atom).
    """
    if reference is None:
        raise ValueError("the formation_energy recipe needs reference(symbol) -> eV/atom")
    s = _settings(settings)
    directory = _scratch(directory)
    work = _working_copy(atoms)
    details: dict[str, Any] = {}
    steps = 0
    with _log(directory) as log:
        if s.relax:
            steps, details["relax"] = _relax(work, s, log, "relax")
        e = _energy_per_atom(work)
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
    return _result("formation_energy", values, work, steps, details, directory)


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
    s = _settings(settings)
    if directory is None:
        with tempfile.TemporaryDirectory(prefix=f"matloop-ref-{symbol}-") as tmp:
            return _reference_energy(atoms, calculator_factory, s, Path(tmp))
    return _reference_energy(atoms, calculator_factory, s, Path(directory))


def _reference_energy(atoms: Atoms, calculator_factory: Callable[[Path], BaseCalculator],
                      settings: RecipeSettings, directory: Path) -> float:
    directory = _scratch(directory)
    atoms.calc = calculator_factory(directory)
    result = relax(atoms, settings, directory)
    return result.values["energy_per_atom"]


# -- internals --------------------------------------------------------------------------


def _scratch(directory: Path | str) -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _log(directory: Path) -> Iterator[IO[str]]:
    with (directory / LOG_NAME).open("a", encoding="utf-8") as log:
        yield log


def _working_copy(atoms: Atoms) -> Atoms:
    if atoms.calc is None:
        raise ValueError("the structure has no calculator attached (atoms.calc is None)")
    work = atoms.copy()
    work.calc = atoms.calc
    return work


def _strained(atoms: Atoms, cell: np.ndarray) -> Atoms:
    point = atoms.copy()
    point.calc = atoms.calc
    point.set_cell(cell, scale_atoms=True)
    return point


def _voigt_strain(component: int, delta: float) -> np.ndarray:
    """The symmetric 3×3 strain whose Voigt vector (engineering shears) is ``delta e_j``."""
    i, k = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))[component]
    strain = np.zeros((3, 3))
    if i == k:
        strain[i, i] = delta
    else:
        strain[i, k] = strain[k, i] = delta / 2
    return strain


def _energy_per_atom(atoms: Atoms) -> float:
    e = float(atoms.get_potential_energy()) / len(atoms)
    if not math.isfinite(e):
        raise EvaluationFailure("the calculator returned a non-finite energy",
                                reason="not_converged")
    return e


def _optimizer(name: str) -> Any:
    from ase.optimize import BFGS, FIRE

    return {"BFGS": BFGS, "FIRE": FIRE}[name.upper()]


def _cell_filter(atoms: Atoms) -> Any:
    """``FrechetCellFilter`` (ASE >= 3.23), else the older ``ExpCellFilter``."""
    import importlib

    try:
        from ase.filters import FrechetCellFilter
    except ImportError:  # pragma: no cover - ASE before 3.23
        constraints = importlib.import_module("ase.constraints")
        return constraints.ExpCellFilter(atoms)
    return FrechetCellFilter(atoms)


def _relax(atoms: Atoms, s: RecipeSettings, log: IO[str], what: str
           ) -> tuple[int, dict[str, Any]]:
    """Relax ``atoms`` in place (positions and, if ``relax_cell``, the cell).

    Returns the optimiser steps and JSON-able details. ``invalid`` if the volume changed
    by more than ``max_volume_change``; ``not_converged`` if ``max_steps`` ran out.
    """
    v_start = atoms.get_volume() if atoms.pbc.all() else float("nan")
    target = _cell_filter(atoms) if s.relax_cell and atoms.pbc.all() else atoms
    log.write(f"# {what}: {s.optimizer.upper()} on "
              f"{'positions and cell' if target is not atoms else 'positions'}, "
              f"fmax={s.fmax} eV/Å, max_steps={s.max_steps}\n")
    log.flush()
    optimizer = _optimizer(s.optimizer)(target, logfile=log)
    converged = bool(optimizer.run(fmax=s.fmax, steps=s.max_steps))
    steps = int(optimizer.nsteps)
    details: dict[str, Any] = {"optimizer": s.optimizer.upper(), "steps": steps,
                               "converged": converged}
    if math.isfinite(v_start):
        change = atoms.get_volume() / v_start - 1
        details["volume_change"] = change
        if not abs(change) <= s.max_volume_change:
            raise EvaluationFailure(
                f"{what}: the volume changed by {change:+.1%} (more than "
                f"max_volume_change={s.max_volume_change:.0%}); the starting structure is "
                "unphysical or the calculator unsuited", reason="invalid")
    if not converged:
        raise EvaluationFailure(f"{what}: did not reach fmax={s.fmax} eV/Å within "
                                f"max_steps={s.max_steps}", reason="not_converged")
    return steps, details


def _relax_positions(atoms: Atoms, s: RecipeSettings, log: IO[str], what: str) -> int:
    """Relax positions at fixed cell; ``not_converged`` if ``max_steps`` ran out."""
    log.write(f"# {what}: {s.optimizer.upper()} on positions, fmax={s.fmax} eV/Å\n")
    log.flush()
    optimizer = _optimizer(s.optimizer)(atoms, logfile=log)
    if not optimizer.run(fmax=s.fmax, steps=s.max_steps):
        raise EvaluationFailure(f"{what}: positions did not reach fmax={s.fmax} eV/Å "
                                f"within max_steps={s.max_steps}", reason="not_converged")
    return int(optimizer.nsteps)


def _vrh(c: np.ndarray) -> dict[str, float]:
    """Voigt, Reuss and Hill bulk and shear moduli of a 6×6 tensor (same units as ``c``)."""
    k_v = (c[0, 0] + c[1, 1] + c[2, 2] + 2 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9
    g_v = (c[0, 0] + c[1, 1] + c[2, 2] - (c[0, 1] + c[0, 2] + c[1, 2])
           + 3 * (c[3, 3] + c[4, 4] + c[5, 5])) / 15
    cond = np.linalg.cond(c)
    if not np.isfinite(cond) or cond > 1e12:
        raise EvaluationFailure(f"the elastic tensor is singular (condition number "
                                f"{cond:.3g}); the Reuss average is undefined",
                                reason="not_converged")
    sc = np.linalg.inv(c)
    k_r_inv = sc[0, 0] + sc[1, 1] + sc[2, 2] + 2 * (sc[0, 1] + sc[0, 2] + sc[1, 2])
    g_r_inv = (4 * (sc[0, 0] + sc[1, 1] + sc[2, 2]) - 4 * (sc[0, 1] + sc[0, 2] + sc[1, 2])
               + 3 * (sc[3, 3] + sc[4, 4] + sc[5, 5])) / 15
    if k_r_inv == 0 or g_r_inv == 0:
        raise EvaluationFailure("the Reuss average of the elastic tensor is undefined",
                                reason="not_converged")
    k_r, g_r = 1 / k_r_inv, 1 / g_r_inv
    moduli = {
        "bulk_modulus_voigt": float(k_v), "bulk_modulus_reuss": float(k_r),
        "shear_modulus_voigt": float(g_v), "shear_modulus_reuss": float(g_r),
        "bulk_modulus_hill": float((k_v + k_r) / 2), "shear_modulus_hill": float((g_v + g_r) / 2),
    }
    bad = [k for k, v in moduli.items() if not math.isfinite(v)]
    if bad:
        raise EvaluationFailure(f"non-finite elastic moduli: {', '.join(bad)}",
                                reason="not_converged")
    return moduli


def _final_copy(atoms: Atoms) -> tuple[Atoms, int]:
    """``atoms`` without its live calculator, keeping energy, forces and stress.

    The calculator may last have run on another structure (a strained cell); then the
    energy is computed again, and the second item, the single points spent, is 1.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    calc = atoms.calc
    stale = calc is not None and (getattr(calc, "atoms", None) is None
                                  or bool(calc.check_state(atoms))
                                  or "energy" not in getattr(calc, "results", {}))
    if stale:
        atoms.get_potential_energy()
    results = dict(getattr(calc, "results", {}) or {})
    final = atoms.copy()
    kept = {k: results[k] for k in ("energy", "free_energy", "forces", "stress")
            if k in results}
    final.calc = SinglePointCalculator(final, **kept)
    return final, int(stale)


def _result(recipe: str, values: dict[str, float], atoms: Atoms, steps: int,
            details: dict[str, Any], directory: Path) -> RecipeResult:
    from ase.io import write

    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise EvaluationFailure(f"{recipe}: non-finite {', '.join(bad)}",
                                reason="not_converged")
    final, extra = _final_copy(atoms)
    write(directory / FINAL_NAME, final, format="extxyz")
    units = dict(PROPERTIES_BY_RECIPE[recipe])
    details = {"recipe": recipe, **details, "n_atoms": len(final),
               "formula": final.get_chemical_formula()}
    return RecipeResult(values={k: float(values[k]) for k in units}, units=units,
                        atoms=final, steps=int(steps) + extra, details=details)
