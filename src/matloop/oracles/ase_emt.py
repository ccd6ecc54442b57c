"""An ASE oracle: an equation of state of an fcc alloy supercell with the EMT calculator.

For a candidate composition (element -> atomic fraction) the oracle

1. builds a conventional fcc supercell (``supercell`` cells per edge, ``4 * supercell**3``
   atoms) whose lattice constant follows Vegard's law over the elements' fcc lattice
   constants, and decorates its sites with a random arrangement of the atoms; the atom
   counts come from the fractions by the largest-remainder method and the arrangement from
   a random generator seeded by the oracle's ``seed`` and the candidate key, so the same
   candidate always gives the same structure;
2. samples ``points`` cell volumes spanning ``± strain`` of linear strain, relaxing the
   atomic positions at fixed cell (BFGS) when ``relax`` is set, and fits a
   Birch–Murnaghan equation of state to the energies;
3. reports the energy and volume per atom at the EOS minimum, the bulk modulus, and the
   formation energy per atom against the pure elements in fcc at their own EOS minima
   (computed with the same calculator and EOS procedure, cached per process).

Failures come back as ``Outcome.failure``: ``invalid`` for compositions the calculator
cannot describe, ``not_converged`` for relaxations that run out of steps and EOS fits whose
minimum is not bracketed by the sampled volumes, ``error`` for anything unexpected.

ASE is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from matloop.errors import EvaluationFailure
from matloop.protocols import Candidate, Outcome

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from matloop.campaigns.schema import AseOracle

__all__ = ["PROPERTIES", "UNITS", "AseEosOracle"]

PROPERTIES: tuple[str, ...] = (
    "energy_per_atom",
    "formation_energy_per_atom",
    "volume_per_atom",
    "bulk_modulus",
)
UNITS: Mapping[str, str] = MappingProxyType({
    "energy_per_atom": "eV/atom",
    "formation_energy_per_atom": "eV/atom",
    "volume_per_atom": "Å^3/atom",
    "bulk_modulus": "GPa",
})

CALCULATORS = ("emt",)
RECIPE = "eos"
EOS_FORM = "birchmurnaghan"

# Elements EMT describes well; the others it has parameters for are there for adsorbates.
_EMT_METALS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")
_EMT_CRUDE = ("H", "C", "N", "O")


@dataclass(frozen=True)
class AseEosOracle:
    """Energy, formation energy, volume and bulk modulus of an fcc alloy from an EMT EOS.

    Holds only plain settings, so it pickles to worker processes; the calculator is made
    inside :meth:`evaluate`. The fields mirror the ``[oracle]`` section of kind ``ase``.
    """

    calculator: str = "emt"
    supercell: int = 2
    relax: bool = True
    fmax: float = 0.05
    max_steps: int = 200
    strain: float = 0.05
    points: int = 7
    seed: int = 0

    properties = PROPERTIES
    units = UNITS
    recipe = RECIPE

    def __post_init__(self) -> None:
        if self.calculator not in CALCULATORS:
            raise ValueError(f"unknown ASE calculator {self.calculator!r}; "
                             f"use one of {', '.join(CALCULATORS)}")
        if self.supercell < 1:
            raise ValueError(f"supercell must be at least 1, got {self.supercell}")
        if not self.fmax > 0:
            raise ValueError(f"fmax must be positive, got {self.fmax}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if not 0 < self.strain < 0.5:
            raise ValueError(f"strain must lie in (0, 0.5), got {self.strain}")
        if self.points < 5:
            raise ValueError(f"an EOS fit needs at least 5 points, got {self.points}")

    @classmethod
    def from_config(cls, section: AseOracle, seed: int) -> AseEosOracle:
        """The oracle described by a validated ``[oracle]`` section of kind ``ase``."""
        if section.recipe != RECIPE:
            raise ValueError(f"unknown ASE recipe {section.recipe!r}; use {RECIPE!r}")
        return cls(
            calculator=section.calculator,
            supercell=section.supercell,
            relax=section.relax,
            fmax=section.fmax,
            max_steps=section.max_steps,
            strain=section.strain,
            points=section.points,
            seed=seed,
        )

    @property
    def n_sites(self) -> int:
        """Atoms in the supercell: four per conventional fcc cell."""
        return 4 * self.supercell**3

    def evaluate(self, candidate: Candidate) -> Outcome:
        """Run the EOS recipe on ``candidate``; failures come back as ``Outcome.failure``."""
        provenance: dict[str, Any] = {}
        try:
            provenance.update(self._settings())
            with _single_threaded_blas():
                return self._evaluate(candidate, provenance)
        except EvaluationFailure as failure:
            return Outcome.failure(failure.reason, str(failure), provenance)
        except Exception as exc:
            return Outcome.failure("error", f"{type(exc).__name__}: {exc}", provenance)

    # -- internals ----------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        import ase

        return {
            "calculator": self.calculator,
            "ase_version": ase.__version__,
            "recipe": self.recipe,
            "eos": EOS_FORM,
            "supercell": self.supercell,
            "relax": self.relax,
            "fmax": self.fmax,
            "max_steps": self.max_steps,
            "strain": self.strain,
            "points": self.points,
            "seed": self.seed,
        }

    def _evaluate(self, candidate: Candidate, provenance: dict[str, Any]) -> Outcome:
        fractions = _checked_fractions(candidate, self.calculator)
        counts = _atom_counts(fractions, self.n_sites)
        provenance["n_atoms"] = self.n_sites
        provenance["counts"] = dict(counts)
        provenance["formula"] = "".join(f"{el}{n}" for el, n in counts.items())

        a0 = sum(x * _fcc_lattice_constant(el) for el, x in fractions.items())
        provenance["lattice_constant_start"] = a0
        atoms = self._decorated_supercell(candidate.key, counts, a0)

        scan = _eos_scan(atoms, _make_calculator(self.calculator), self._strains(),
                         relax=self.relax, fmax=self.fmax, max_steps=self.max_steps)
        provenance["relax_steps"] = scan.steps
        fit = _fit_eos(scan.volumes, scan.energies, what=provenance["formula"])
        provenance["eos_fit"] = fit.as_dict()

        n_atoms = len(atoms)
        references = {el: _element_reference(el, self.calculator, self.strain, self.points)
                      for el in counts}
        provenance["references_e0_per_atom"] = {el: r.e0 for el, r in references.items()}
        reference_energy = sum(n / n_atoms * references[el].e0 for el, n in counts.items())

        values = {
            "energy_per_atom": fit.e0,
            "formation_energy_per_atom": fit.e0 - reference_energy,
            "volume_per_atom": fit.v0,
            "bulk_modulus": fit.bulk_modulus_gpa,
        }
        bad = [name for name, value in values.items() if not math.isfinite(value)]
        if bad:
            raise EvaluationFailure(f"non-finite {', '.join(bad)} for {provenance['formula']}",
                                    reason="not_converged")
        return Outcome.success(values, UNITS, provenance)

    def _strains(self) -> np.ndarray:
        return np.linspace(-self.strain, self.strain, self.points)

    def _decorated_supercell(self, key: str, counts: Mapping[str, int], a0: float) -> Atoms:
        from ase.build import bulk

        atoms = bulk("Cu", "fcc", a=a0, cubic=True).repeat(self.supercell)
        symbols = [el for el, n in counts.items() for _ in range(n)]
        rng = np.random.default_rng([self.seed % 2**64, zlib.crc32(key.encode("utf-8"))])
        atoms.set_chemical_symbols([symbols[i] for i in rng.permutation(len(symbols))])
        return atoms


def _single_threaded_blas() -> AbstractContextManager[object]:
    """Limit BLAS to one thread while evaluating.

    The linear algebra here is tiny (BFGS on a 3N×3N Hessian), so threads only cost: with
    several workers on few cores, multi-threaded OpenBLAS made evaluations 3-10 times
    slower. ``threadpoolctl`` comes with scikit-learn; without it, nothing is limited.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# -- compositions ------------------------------------------------------------------------


def _supported_elements(calculator: str) -> tuple[str, ...]:
    if calculator == "emt":
        from ase.calculators.emt import parameters

        return tuple(el for el in (*_EMT_METALS, *_EMT_CRUDE) if el in parameters)
    raise ValueError(f"unknown ASE calculator {calculator!r}")


def _checked_fractions(candidate: Candidate, calculator: str) -> dict[str, float]:
    """Element -> fraction (normalised, sorted by symbol, zeros dropped) or ``invalid``."""
    from ase.data import atomic_numbers

    if candidate.composition is None:
        raise EvaluationFailure(f"candidate {candidate.key!r} has no composition; the ASE "
                                "oracle needs element fractions", reason="invalid")
    supported = _supported_elements(calculator)
    fractions: dict[str, float] = {}
    for element, fraction in candidate.composition.items():
        x = float(fraction)
        if not math.isfinite(x) or x < 0:
            raise EvaluationFailure(f"fraction of {element} in {candidate.key!r} is {x}; "
                                    "fractions must be finite and non-negative",
                                    reason="invalid")
        if x == 0:
            continue
        if element not in atomic_numbers:
            raise EvaluationFailure(f"{element!r} in {candidate.key!r} is not an element",
                                    reason="invalid")
        if element not in supported:
            metals = ", ".join(el for el in _EMT_METALS if el in supported)
            crude = ", ".join(el for el in _EMT_CRUDE if el in supported)
            raise EvaluationFailure(
                f"the {calculator.upper()} calculator has no parameters for {element} "
                f"(in {candidate.key!r}); it supports {metals} (and {crude}, crudely)",
                reason="invalid")
        fractions[element] = x
    total = sum(fractions.values())
    if not fractions or total <= 0:
        raise EvaluationFailure(f"candidate {candidate.key!r} has no element with a "
                                "positive fraction", reason="invalid")
    return {el: fractions[el] / total for el in sorted(fractions)}


def _atom_counts(fractions: Mapping[str, float], n_sites: int) -> dict[str, int]:
    """Integer atom counts summing to ``n_sites`` by the largest-remainder method.

    Every element gets at least one atom, taken from the element with the most atoms;
    ``invalid`` if there are more elements than sites. Ties go to the earlier symbol.
    """
    elements = list(fractions)
    if len(elements) > n_sites:
        raise EvaluationFailure(f"{len(elements)} elements do not fit on {n_sites} sites; "
                                "use a larger supercell", reason="invalid")
    quotas = [fractions[el] * n_sites for el in elements]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(elements)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: n_sites - sum(counts)]:
        counts[i] += 1
    for i in range(len(elements)):
        if counts[i] == 0:
            donor = max(range(len(elements)), key=lambda j: (counts[j], -j))
            counts[donor] -= 1
            counts[i] = 1
    return dict(zip(elements, counts, strict=True))


def _fcc_lattice_constant(element: str) -> float:
    """A starting fcc lattice constant for ``element`` in Å.

    The element's reference lattice constant when its reference state is fcc (all the EMT
    metals). Otherwise (H, N, O are diatomic and C is diamond) the fcc cell with the
    element's atomic volume in the EMT parameterisation: EMT's Wigner–Seitz radius s0
    gives the volume per atom 4π/3·s0³ and a = (4·V)^(1/3), which lands within a few per
    cent of EMT's own fcc minimum. Failing that, nearest neighbours at twice the covalent
    radius: a = 2√2·r_cov.
    """
    from ase.data import atomic_numbers, covalent_radii, reference_states

    z = atomic_numbers[element]
    state = reference_states[z]
    lattice = state.get("a") if state is not None else None
    if state is not None and state.get("symmetry") == "fcc" and isinstance(lattice, int | float):
        return float(lattice)
    from ase.calculators.emt import parameters
    from ase.units import Bohr

    if element in parameters:
        s0 = parameters[element][1] * Bohr
        return float((16 * math.pi / 3) ** (1 / 3) * s0)
    return float(2 * math.sqrt(2) * covalent_radii[z])


# -- calculators and the EOS -------------------------------------------------------------


def _make_calculator(name: str) -> Calculator:
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    raise ValueError(f"unknown ASE calculator {name!r}")


class _Scan(NamedTuple):
    volumes: np.ndarray  # Å^3/atom
    energies: np.ndarray  # eV/atom
    steps: int  # relaxation steps, summed over volumes


def _eos_scan(atoms: Atoms, calc: Calculator, strains: np.ndarray, *, relax: bool,
              fmax: float, max_steps: int) -> _Scan:
    """Energies per atom at the cells ``(1 + strain) * cell``, optionally relaxed.

    Volumes are visited from the middle of the range outwards, and each relaxation starts
    from the relaxed fractional positions of its neighbour towards the middle: the local
    distortions barely change with volume, so this cuts the BFGS steps several-fold.
    """
    from ase.optimize import BFGS

    atoms = atoms.copy()
    atoms.calc = calc
    cell = atoms.cell.copy()
    start = atoms.get_scaled_positions()
    n = len(strains)
    mid = n // 2
    order = [mid, *range(mid + 1, n), *range(mid - 1, -1, -1)]
    relaxed: dict[int, np.ndarray] = {}
    volumes = np.empty(n)
    energies = np.empty(n)
    steps = 0
    for i in order:
        neighbour = i - 1 if i > mid else i + 1
        atoms.set_cell(cell * (1 + strains[i]), scale_atoms=False)
        atoms.set_scaled_positions(relaxed.get(neighbour, start) if relax else start)
        if relax:
            opt = BFGS(atoms, logfile=None)
            converged = opt.run(fmax=fmax, steps=max_steps)
            steps += opt.nsteps
            if not converged:
                raise EvaluationFailure(
                    f"relaxation at linear strain {strains[i]:+.3f} did not reach "
                    f"fmax={fmax} eV/Å within max_steps={max_steps}", reason="not_converged")
            relaxed[i] = atoms.get_scaled_positions()
        volumes[i] = atoms.get_volume() / len(atoms)
        energies[i] = atoms.get_potential_energy() / len(atoms)
    if not np.all(np.isfinite(energies)):
        raise EvaluationFailure("the calculator returned a non-finite energy",
                                reason="not_converged")
    return _Scan(volumes, energies, steps)


class _Fit(NamedTuple):
    v0: float  # Å^3/atom
    e0: float  # eV/atom
    bulk_modulus_gpa: float
    bulk_modulus_pressure_derivative: float
    rms_residual: float  # eV/atom
    volume_range: tuple[float, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "v0_per_atom": self.v0,
            "e0_per_atom": self.e0,
            "bulk_modulus_gpa": self.bulk_modulus_gpa,
            "bulk_modulus_pressure_derivative": self.bulk_modulus_pressure_derivative,
            "rms_residual_ev_per_atom": self.rms_residual,
            "volume_range_per_atom": list(self.volume_range),
        }


def _fit_eos(volumes: np.ndarray, energies: np.ndarray, *, what: str) -> _Fit:
    """A Birch–Murnaghan fit; ``not_converged`` unless its minimum lies inside the volumes."""
    from ase.eos import EquationOfState
    from ase.units import GPa

    vmin, vmax = float(volumes.min()), float(volumes.max())
    eos = EquationOfState(volumes, energies, eos=EOS_FORM)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v0, e0, b = (float(v) for v in eos.fit(warn=False))
            residuals = eos.func(volumes, *eos.eos_parameters) - energies
    except Exception as exc:
        raise EvaluationFailure(f"the {EOS_FORM} EOS fit for {what} failed: "
                                f"{type(exc).__name__}: {exc}", reason="not_converged") from exc
    bp = float(eos.eos_parameters[2])
    rms = float(np.sqrt(np.mean(residuals**2)))
    if not all(math.isfinite(v) for v in (v0, e0, b, bp, rms)):
        raise EvaluationFailure(f"the {EOS_FORM} EOS fit for {what} gave non-finite values "
                                f"(v0={v0}, e0={e0}, B={b})", reason="not_converged")
    if not vmin <= v0 <= vmax:
        raise EvaluationFailure(
            f"the EOS minimum for {what} at {v0:.3f} Å^3/atom lies outside the sampled "
            f"volumes [{vmin:.3f}, {vmax:.3f}] Å^3/atom; the starting lattice constant is "
            "too far off or the strain range too small", reason="not_converged")
    if b <= 0:
        raise EvaluationFailure(f"the EOS fit for {what} gave a non-positive bulk modulus "
                                f"({b / GPa:.3g} GPa)", reason="not_converged")
    return _Fit(v0, e0, b / GPa, bp, rms, (vmin, vmax))


@cache
def _element_reference(element: str, calculator: str, strain: float, points: int) -> _Fit:
    """The EOS minimum of the pure element in fcc, with the oracle's EOS procedure.

    A one-atom primitive cell: per-atom energies of a perfect crystal do not depend on the
    cell, and nothing relaxes. Cached per process; failures raise and are not cached.
    """
    from ase.build import bulk

    atoms = bulk(element, "fcc", a=_fcc_lattice_constant(element))
    scan = _eos_scan(atoms, _make_calculator(calculator),
                     np.linspace(-strain, strain, points), relax=False, fmax=1.0, max_steps=1)
    try:
        return _fit_eos(scan.volumes, scan.energies, what=f"the {element} reference")
    except EvaluationFailure as failure:
        raise EvaluationFailure(f"no formation-energy reference: {failure}",
                                reason=failure.reason) from failure
