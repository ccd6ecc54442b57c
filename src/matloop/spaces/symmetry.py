"""Symmetry of crystal structures: space groups, a canonical hash, and deduplication.

* ``structure_hash(structure)``: reduced formula, space group, rounded primitive-cell
  parameters and neighbour shells per orbit; equal for copies of one crystal (rotated,
  translated, reordered, supercells).
* ``deduplicate(structures, names, method)`` removes repeats, either with pymatgen's
  ``StructureMatcher`` (inside groups of equal reduced formula and space group) or with
  the hash.

Lengths are in Å. pymatgen and spglib load only inside functions.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from matloop.features.symmetry import SYMPREC, cell_of, dataset_of, spacegroup_number

if TYPE_CHECKING:
    from pymatgen.core import Structure

LENGTH_DIGITS = 2  # hash rounds primitive-cell lengths to 0.01 Å ...
ANGLE_DIGITS = 1  # ... and angles to 0.1 degree
VOLUME_TOLERANCE = 1e-3  # relative: copies have equal volume per atom to this
SHELLS = 2  # neighbour shells per orbit in the hash
SHELL_TOLERANCE = 1e-3  # relative gap that separates two neighbour shells
MAX_SHELL_CUTOFF = 6.0  # widest shell search, in units of (volume per atom)^(1/3)

DedupMethod = Literal["matcher", "hash"]


def lattice_parameters(matrix: np.ndarray) -> np.ndarray:
    """``(a, b, c, alpha, beta, gamma)`` in Å and degrees from row vectors ``(3, 3)``."""
    lengths = np.linalg.norm(matrix, axis=1)
    pairs = ((1, 2), (0, 2), (0, 1))
    angles = [math.degrees(math.acos(float(np.clip(
        np.dot(matrix[i], matrix[j]) / (lengths[i] * lengths[j]), -1.0, 1.0))))
        for i, j in pairs]
    return np.concatenate([lengths, angles])


@dataclass(frozen=True)
class Symmetry:
    """What the hash needs from spglib: number, primitive lattice parameters, orbits.

    ``orbits`` is one ``(type index, site-symmetry symbol, multiplicity per primitive
    cell)`` per crystallographic orbit (type index into the cell's type names).
    """

    number: int
    parameters: np.ndarray
    orbits: tuple[tuple[int, str, int], ...]


def symmetry_of(lattice: np.ndarray, frac: np.ndarray, numbers: Sequence[int],
              symprec: float) -> Symmetry:
    dataset = dataset_of(lattice, frac, numbers, symprec)
    n = len(numbers)
    if dataset is None:  # no symmetry found: the Niggli cell and one orbit per site
        from pymatgen.core import Lattice

        niggli = Lattice(lattice).get_niggli_reduced_lattice()
        return Symmetry(1, lattice_parameters(niggli.matrix),
                         tuple((i, "1", 1) for i in range(n)))
    orbit_ids = np.asarray(dataset.equivalent_atoms)
    n_primitive = len(set(np.asarray(dataset.mapping_to_primitive).tolist()))
    orbits: list[tuple[int, str, int]] = []
    for orbit in np.unique(orbit_ids):
        members = np.flatnonzero(orbit_ids == orbit)
        multiplicity = len(members) * n_primitive // n
        orbits.append((int(members[0]), str(dataset.site_symmetry_symbols[members[0]]),
                       multiplicity))
    return Symmetry(int(dataset.number), lattice_parameters(np.asarray(
        dataset.primitive_lattice)), tuple(orbits))


def hash_text(formula: str, number: int, parameters: np.ndarray,
               orbits: Iterable[tuple[str, str, int, str]]) -> str:
    lengths = np.round(parameters[:3], LENGTH_DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0
    angles = np.round(parameters[3:], ANGLE_DIGITS) + 0.0
    text = "|".join([
        formula, str(number),
        ",".join(f"{v:.{LENGTH_DIGITS}f}" for v in sorted(lengths)),
        ",".join(f"{v:.{ANGLE_DIGITS}f}" for v in sorted(angles)),
        ";".join(f"{s}@{sym}x{m}[{shells}]" for s, sym, m, shells in sorted(orbits)),
    ])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def formula_text(counts: Mapping[str, float]) -> str:
    """Canonical reduced formula: alphabetical symbols with integer counts, ``Cl1Na1``."""
    amounts = {el: n for el, n in counts.items() if n > 0}
    if all(float(n).is_integer() for n in amounts.values()):
        divisor = math.gcd(*(int(n) for n in amounts.values()))
        return "".join(f"{el}{int(n) // divisor}" for el, n in sorted(amounts.items()))
    total = sum(amounts.values())  # partial occupancies: fractions to 4 decimals
    return "".join(f"{el}{n / total:.4f}" for el, n in sorted(amounts.items()))


def structure_hash(structure: Structure, symprec: float = SYMPREC) -> str:
    """Canonical hash: equal for copies that are rotated, translated, permuted or supercells.

    Made of the reduced formula, the space-group number, the lattice parameters of the
    standardised primitive cell (rounded to 0.01 Å and 0.1 degree; so structures that
    differ in volume differ) and, per crystallographic orbit, its species, site symmetry,
    multiplicity and first two neighbour shells (distance to 0.01 Å, species counted).
    Wyckoff letters are not used: they depend on the choice of origin (a translated rock
    salt can have Na on 4b). Values within float noise of a rounding boundary can split
    true copies (a missed duplicate, never a false merge of different shells).
    """
    lattice, frac, numbers, names = cell_of(structure)
    symmetry = symmetry_of(lattice, frac, numbers, symprec)
    formula = formula_text(structure.composition.get_el_amt_dict() if structure.is_ordered
                       else dict(structure.composition.as_dict()))
    shells = neighbour_shells(structure, [i for i, _, _ in symmetry.orbits])
    orbits = [(names[i], sym, m, shell_text(shells[i], names, 1.0))
              for i, sym, m in symmetry.orbits]
    return hash_text(formula, symmetry.number, symmetry.parameters, orbits)


Shells = list[tuple[float, list[int]]]  # (mean distance Å, neighbour site indices) per shell


def neighbour_shells(structure: Structure, sites: Sequence[int]) -> dict[int, Shells]:
    """The first ``SHELLS`` neighbour shells of each site in ``sites``.

    A shell is a run of sorted distances each within ``SHELL_TOLERANCE`` (relative) of
    the previous one, so grouping does not change when the cell is scaled.
    """
    wanted = sorted(set(sites))
    length = (structure.volume / len(structure)) ** (1.0 / 3.0)
    cutoff = 1.5 * length
    while True:
        centers, points, _, distances = structure.get_neighbor_list(cutoff)
        last_try = cutoff >= MAX_SHELL_CUTOFF * length
        result: dict[int, Shells] = {}
        for i in wanted:
            mask = centers == i
            order = np.argsort(distances[mask], kind="stable")
            d, j = distances[mask][order], points[mask][order]
            breaks = np.flatnonzero(np.diff(d) > SHELL_TOLERANCE * d[1:]) + 1
            groups = list(itertools.pairwise([0, *breaks.tolist(), len(d)]))
            complete = groups if last_try else groups[:-1]  # the last may go on beyond
            result[i] = [(float(d[a:b].mean()), j[a:b].tolist())
                         for a, b in complete[:SHELLS] if b > a]
        if last_try or all(len(v) >= SHELLS for v in result.values()):
            return result
        cutoff = min(1.5 * cutoff, MAX_SHELL_CUTOFF * length)


def shell_text(shells: Shells, species: Sequence[str], scale: float) -> str:
    from collections import Counter

    return "/".join(
        f"{round(distance * scale, LENGTH_DIGITS) + 0.0:.{LENGTH_DIGITS}f}:" + ",".join(
            f"{el}{n}" for el, n in sorted(Counter(species[j] for j in members).items()))
        for distance, members in shells)


def deduplicate(structures: Sequence[Structure], names: Sequence[str],
                method: DedupMethod = "matcher", *, symprec: float = SYMPREC,
                matcher_kwargs: Mapping[str, Any] | None = None
                ) -> tuple[tuple[Structure, ...], tuple[str, ...], int]:
    """Remove repeated structures, keeping the first of each in input order.

    ``"matcher"``: pymatgen ``StructureMatcher`` (its defaults: primitive cells, volumes
    scaled, so the same structure at another volume is a repeat; ``matcher_kwargs``
    override) run with ``group_structures`` only within groups of equal reduced formula
    and space group; structures whose formula is unique are never analysed. ``"hash"``:
    ``structure_hash``, computed only for structures that share their reduced formula and
    volume per atom (within 0.1 %) with another one, so unique compositions cost nothing.
    Returns ``(kept structures, kept names, number removed)``.
    """
    if len(structures) != len(names):
        raise ValueError(f"{len(structures)} structures but {len(names)} names")
    if method not in ("matcher", "hash"):
        raise ValueError(f"unknown dedup method {method!r}; use 'matcher' or 'hash'")
    formulas = [s.composition.reduced_formula for s in structures]
    by_formula: dict[str, list[int]] = {}
    for i, formula in enumerate(formulas):
        by_formula.setdefault(formula, []).append(i)
    keep = np.ones(len(structures), dtype=bool)
    for members in by_formula.values():
        if len(members) < 2:
            continue
        if method == "hash":
            for cluster in _volume_clusters(structures, members):
                _drop_repeats(cluster, [structure_hash(structures[i], symprec)
                                        for i in cluster], keep)
        else:
            _match_group(structures, members, symprec, matcher_kwargs, keep)
    kept = np.flatnonzero(keep).tolist()
    return (tuple(structures[i] for i in kept), tuple(names[i] for i in kept),
            int(len(structures) - len(kept)))


def _volume_clusters(structures: Sequence[Structure], members: list[int]
                     ) -> list[list[int]]:
    """Split ``members`` into runs of nearly equal volume per atom (gap > 0.1 % splits)."""
    volumes = np.array([structures[i].volume / structures[i].composition.num_atoms
                        for i in members])
    order = np.argsort(volumes, kind="stable")
    gaps = np.diff(volumes[order]) > VOLUME_TOLERANCE * volumes[order][1:]
    runs = np.split(np.asarray(members)[order], np.flatnonzero(gaps) + 1)
    return [sorted(run.tolist()) for run in runs if len(run) > 1]


def _drop_repeats(indices: Sequence[int], keys: Sequence[str], keep: np.ndarray) -> None:
    seen: set[str] = set()
    for i, key in sorted(zip(indices, keys, strict=True)):
        if key in seen:
            keep[i] = False
        seen.add(key)


def _match_group(structures: Sequence[Structure], members: list[int], symprec: float,
                 matcher_kwargs: Mapping[str, Any] | None, keep: np.ndarray) -> None:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    by_group: dict[int, list[int]] = {}
    for i in members:
        by_group.setdefault(spacegroup_number(structures[i], symprec), []).append(i)
    matcher = StructureMatcher(**dict(matcher_kwargs or {}))
    for group in by_group.values():
        if len(group) < 2:
            continue
        position = {id(structures[i]): i for i in group}
        if len(position) < len(group):  # the same object twice: a repeat by identity
            first: dict[int, int] = {}
            for i in group:
                first.setdefault(id(structures[i]), i)
            for i in group:
                if first[id(structures[i])] != i:
                    keep[i] = False
            group = sorted(first.values())
        for matched in matcher.group_structures([structures[i] for i in group]):
            indices = sorted(position[id(s)] for s in matched)
            keep[indices[1:]] = False
