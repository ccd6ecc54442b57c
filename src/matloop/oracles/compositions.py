"""Composition candidates as structures: random fcc (or bcc) alloys, and their elements.

A composition (element -> atomic fraction) becomes a conventional fcc (or bcc) supercell
of ``supercell`` cells per edge (``4 * supercell**3`` atoms; bcc ``2 * supercell**3``)
whose lattice constant follows Vegard's law over the elements' lattice constants at their
fcc atomic volumes (Å, :func:`fcc_lattice_constant`).
The atom counts come from the fractions by the largest-remainder method (every element
keeps at least one atom) and the arrangement from a random generator seeded by ``seed``
and the candidate key, so a candidate always gives the same structure. The ASE oracle
(``matloop.oracles.ase``) then runs its calculator and recipe on it, as on any structure;
its formation energies are against the pure elements at their equation-of-state minima,
the lowest over the lattices the candidates are built in (:func:`lattice_reference`).

Bad compositions raise ``EvaluationFailure`` with reason ``invalid``. ASE is imported
inside the functions.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.errors import EvaluationFailure

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import BaseCalculator

    from matloop.oracles.recipes import RecipeSettings

__all__ = ["LATTICES", "atom_counts", "checked_fractions", "decorate", "fcc_lattice_constant",
           "lattice_constant", "lattice_element", "lattice_reference"]

# atoms per atom of each reference structure's conventional cell of edge a (volume a^3)
_ATOMS_PER_CUBE = {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8}
LATTICES = ("fcc", "bcc")  # the cubic lattices a composition may be built in


def decorate(key: str, composition: Mapping[str, float], supercell: int, seed: int,
             lattice: str = "fcc") -> tuple[Atoms, dict[str, Any]]:
    """The ``lattice`` (one of ``LATTICES``) supercell of ``composition`` for candidate
    ``key``, and what describes it.

    The second item holds plain values for the provenance: ``lattice``, ``supercell``,
    ``seed``, ``n_atoms``, ``counts`` (element -> atoms, by symbol), ``formula`` (e.g.
    ``Au16Cu16``) and ``lattice_constant_start`` (Å: Vegard's law over the elements'
    lattice constants at their fcc atomic volumes). ``invalid`` for a bad composition or
    more elements than sites.
    """
    from ase.build import bulk

    if supercell < 1:
        raise ValueError(f"supercell must be at least 1, got {supercell}")
    fractions = checked_fractions(composition, key)
    n_sites = _ATOMS_PER_CUBE[lattice] * supercell**3
    counts = atom_counts(fractions, n_sites)
    a0 = sum(x * lattice_constant(el, lattice) for el, x in fractions.items())
    atoms = bulk("Cu", lattice, a=a0, cubic=True).repeat(supercell)
    symbols = [el for el, n in counts.items() for _ in range(n)]
    rng = np.random.default_rng([seed % 2**64, zlib.crc32(key.encode("utf-8"))])
    atoms.set_chemical_symbols([symbols[i] for i in rng.permutation(len(symbols))])
    info = {"lattice": lattice, "supercell": supercell, "seed": seed, "n_atoms": n_sites,
            "counts": dict(counts),
            "formula": "".join(f"{el}{n}" for el, n in counts.items()),
            "lattice_constant_start": a0}
    return atoms, info


def checked_fractions(composition: Mapping[str, float], key: str) -> dict[str, float]:
    """Element -> fraction, normalised, sorted by symbol, zeros dropped; else ``invalid``."""
    from ase.data import atomic_numbers

    fractions: dict[str, float] = {}
    for element, fraction in composition.items():
        x = float(fraction)
        if not math.isfinite(x) or x < 0:
            raise EvaluationFailure(f"fraction of {element} in {key!r} is {x}; fractions "
                                    "must be finite and non-negative", reason="invalid")
        if x == 0:
            continue
        if element not in atomic_numbers or element == "X":
            raise EvaluationFailure(f"{element!r} in {key!r} is not an element",
                                    reason="invalid")
        fractions[element] = x
    total = sum(fractions.values())
    if not fractions or total <= 0:
        raise EvaluationFailure(f"candidate {key!r} has no element with a positive "
                                "fraction", reason="invalid")
    return {el: fractions[el] / total for el in sorted(fractions)}


def atom_counts(fractions: Mapping[str, float], n_sites: int) -> dict[str, int]:
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


def fcc_lattice_constant(element: str) -> float:
    """A starting fcc lattice constant for ``element`` in Å.

    In order: the element's reference lattice constant when its reference state is fcc
    (all the EMT metals); the fcc cell with the element's atomic volume in the EMT
    parameterisation (H, C, N, O: EMT's Wigner–Seitz radius s0 gives the volume per atom
    4π/3·s0³, and a = (4·V)^(1/3), within a few per cent of EMT's own fcc minimum); the
    fcc cell with the atomic volume of its bcc, hcp, simple cubic or diamond reference
    crystal; nearest neighbours at twice the covalent radius, a = 2√2·r_cov.
    """
    from ase.calculators.emt import parameters
    from ase.data import atomic_numbers, covalent_radii, reference_states
    from ase.units import Bohr

    z = atomic_numbers[element]
    state = reference_states[z] or {}
    symmetry, lattice = state.get("symmetry"), state.get("a")
    if symmetry == "fcc" and isinstance(lattice, int | float):
        return float(lattice)
    if element in parameters:
        s0 = parameters[element][1] * Bohr
        return float((16 * math.pi / 3) ** (1 / 3) * s0)
    if isinstance(lattice, int | float):
        volume = None
        c_over_a = state.get("c/a")
        if symmetry in _ATOMS_PER_CUBE:
            volume = lattice**3 / _ATOMS_PER_CUBE[str(symmetry)]
        elif symmetry == "hcp" and isinstance(c_over_a, int | float):
            volume = math.sqrt(3) / 4 * lattice**3 * c_over_a
        if volume is not None:
            return float((4 * volume) ** (1 / 3))
    return float(2 * math.sqrt(2) * covalent_radii[z])


def lattice_constant(element: str, lattice: str) -> float:
    """A starting lattice constant (Å) of ``element`` in ``lattice`` (one of
    ``LATTICES``): its cubic cell at the atomic volume of :func:`fcc_lattice_constant`."""
    return fcc_lattice_constant(element) * (_ATOMS_PER_CUBE[lattice] / 4) ** (1 / 3)


def lattice_element(element: str, lattice: str = "fcc") -> Atoms:
    """The one-atom primitive cell of ``element`` in ``lattice`` at
    :func:`lattice_constant`."""
    from ase.build import bulk

    return bulk(element, lattice, a=lattice_constant(element, lattice))


def lattice_reference(element: str, calculator_factory: Callable[[Path], BaseCalculator],
                      settings: RecipeSettings, directory: Path,
                      lattices: Sequence[str] = ("fcc",)) -> float:
    """Energy per atom (eV/atom) of ``element`` at its equation-of-state minimum, the
    lowest over ``lattices``.

    The one-atom cell of :func:`lattice_element` goes through the ``eos`` recipe with the
    oracle's ``strain`` and ``points`` and nothing relaxed (one atom has nowhere to go);
    ``calculator_factory(directory)`` makes the calculator (the same one, with the same
    parameters, as for the alloys). Files go to ``directory``. Failures keep their reason.
    """
    return min(_reference(element, calculator_factory, settings, directory / lattice, lattice)
               for lattice in lattices)


def _reference(element: str, calculator_factory: Callable[[Path], BaseCalculator],
               settings: RecipeSettings, directory: Path, lattice: str) -> float:
    from matloop.oracles.recipes import eos

    atoms = lattice_element(element, lattice)
    atoms.calc = calculator_factory(directory)
    unrelaxed = replace(settings, relax=False, relax_positions=False)
    try:
        return eos(atoms, unrelaxed, directory).values["energy_per_atom"]
    except EvaluationFailure as failure:
        raise EvaluationFailure(f"no formation-energy reference for {element} ({lattice}): "
                                f"{failure}", reason=failure.reason) from failure
