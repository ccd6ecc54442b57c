"""Structures generated from prototypes: every combination of elements on their sites.

``substitute(prototypes, substitutions)`` decorates prototypes with element choices per
site label or element; compositions, charge balance, volumes and hashes are computed
from arrays and from the prototype's symmetry (spglib once per prototype and pattern of
equal elements), so 10^5 candidates take well under a minute.

Lengths are in Å, volumes in Å^3. pymatgen, ASE and spglib load only inside functions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from matloop.errors import ConfigError

if TYPE_CHECKING:
    from pymatgen.core import Structure

from matloop.spaces.structures import StructureSet
from matloop.spaces.symmetry import (
    SYMPREC,
    DedupMethod,
    Symmetry,
    deduplicate,
    formula_text,
    hash_text,
    neighbour_shells,
    shell_text,
    symmetry_of,
)

# Default volume of substituted structures: sum of atomic-sphere volumes (pymatgen
# ``Element.atomic_radius``) divided by this packing fraction, the median packing
# fraction of the 3953 Materials Project binaries in mp_binary_elasticity.csv.
PACKING_FRACTION = 0.64

VolumeMethod = Literal["radii", "dls", "keep"]


@dataclass(frozen=True)
class _Prototype:
    """A prototype split into substituted site groups (by key) and fixed sites."""

    name: str
    lattice: np.ndarray  # (3, 3) Å
    frac: np.ndarray  # (n, 3)
    site_key: np.ndarray  # (n,) index into the keys, -1 for a fixed site
    fixed: tuple[str, ...]  # element of each fixed site in site order ("" if substituted)
    keys: tuple[str, ...]  # the substitution keys present, in the order of the caller
    structure: Structure  # the prototype as given (its geometry gives neighbour shells)


def substitute(prototypes: StructureSet | Sequence[Structure] | Mapping[str, Structure],
               substitutions: Mapping[str, Sequence[str]], oxidation_filter: bool = False,
               *, volume: VolumeMethod = "radii", dedupe: DedupMethod | None = "hash",
               symprec: float = SYMPREC, field: str = "substitutions") -> StructureSet:
    """Every prototype with every combination of elements for its substituted sites.

    ``substitutions`` maps a key to candidate elements; a key names the sites whose
    pymatgen site label equals it (``Structure(..., labels=[...])``, CIF labels, or the
    placeholder species of dummy sites such as ``"A"``), or, if no site has that label,
    the sites of that element. Sites no key matches keep their element; a placeholder
    (non-element) site left over is an error, as is a key no prototype has.

    ``oxidation_filter`` keeps only compositions that pymatgen's
    ``Composition.oxi_state_guesses()`` can charge-balance (same oxidation-state lists,
    evaluated on the reduced composition with integer sum sets, not by calling pymatgen
    per candidate). ``volume``: ``"radii"`` (default) scales each cell isotropically to
    the sum of atomic-sphere volumes (pymatgen ``Element.atomic_radius``) over
    ``PACKING_FRACTION``; ``"dls"`` uses pymatgen's ``DLSVolumePredictor`` (bond-length
    data bundled with pymatgen, offline, ~3 ms per structure); ``"keep"`` keeps the
    prototype's cell. The symmetry of a candidate depends only on which of its sites
    share an element, so spglib runs once per prototype and equality pattern (e.g. A != B
    and A == B), never per candidate; ``dedupe="hash"`` builds each ``structure_hash``
    from that, and only the first structure of each hash is built. ``"matcher"`` builds
    everything and runs ``deduplicate``; ``None`` keeps all. Names are
    ``<prototype>:<key>=<element>,...``; ``properties["spacegroup"]`` holds the
    space-group number of each structure.
    """
    from pymatgen.core import Lattice, Structure
    from pymatgen.core.periodic_table import Element

    items = _prototype_items(prototypes)
    if not substitutions:
        raise ConfigError(f"{field}: no substitutions given")
    for key, choices in substitutions.items():
        if isinstance(choices, str) or not choices:
            raise ConfigError(f"{field}.{key}: give a non-empty list of elements")
        unknown = [c for c in choices if not Element.is_valid_symbol(c)]
        if unknown:
            raise ConfigError(f"{field}.{key}: unknown element(s) "
                              f"{', '.join(map(repr, unknown))}")
    if volume not in ("radii", "dls", "keep"):
        raise ValueError(f"unknown volume method {volume!r}; use 'radii', 'dls' or 'keep'")
    if dedupe not in ("hash", "matcher", None):
        raise ValueError(f"unknown dedup method {dedupe!r}; use 'hash', 'matcher' or None")
    parsed = [_parse_prototype(name, s, substitutions, field) for name, s in items]
    unused = set(substitutions) - {k for p in parsed for k in p.keys}
    if unused:
        raise ConfigError(f"{field}: key(s) {sorted(unused)} match no site label or element "
                          "of any prototype")

    structures: list[Structure] = []
    names: list[str] = []
    seen: set[str] = set()
    removed = 0
    for proto in parsed:
        options = [list(dict.fromkeys(substitutions[k])) for k in proto.keys]
        elements = sorted({e for o in options for e in o} | {e for e in proto.fixed if e})
        column = {e: j for j, e in enumerate(elements)}
        combos = _product_indices([[column[e] for e in o] for o in options])  # (m, k)
        counts = _cell_counts(proto, combos, column, len(elements))  # (m, E) atoms per cell
        rows = np.arange(len(combos))
        if oxidation_filter:
            rows = rows[_charge_balanceable(counts, elements)]
        proto_volume = abs(float(np.linalg.det(proto.lattice)))
        if volume == "radii":
            radii = np.array([_radius(e) for e in elements])
            target = counts @ (4.0 / 3.0 * math.pi * radii**3) / PACKING_FRACTION
            scales = np.cbrt(target / proto_volume)
        else:
            scales = np.ones(len(combos))
        fixed_types = tuple(sorted(set(proto.fixed) - {""}))
        shells = neighbour_shells(proto.structure, range(len(proto.fixed)))
        symmetries: dict[tuple[int, ...], Symmetry] = {}
        for row in rows.tolist():
            chosen = [elements[j] for j in combos[row]]
            species = _species(proto, chosen)
            pattern = _pattern(chosen, fixed_types)
            symmetry = symmetries.get(pattern)
            if symmetry is None:
                numbers = [Element(e).Z for e in species]
                symmetry = symmetries[pattern] = symmetry_of(proto.lattice, proto.frac,
                                                           numbers, symprec)
            structure: Structure | None = None
            scale = float(scales[row])
            if volume == "dls":
                structure = _dls_scaled(Structure(Lattice(proto.lattice), species,
                                                  proto.frac, validate_proximity=False))
                scale = (structure.volume / proto_volume) ** (1.0 / 3.0)
            if dedupe == "hash":
                formula = formula_text({e: int(n) for e, n in zip(elements, counts[row],
                                                              strict=True) if n})
                parameters = symmetry.parameters.copy()
                parameters[:3] *= scale
                orbits = [(species[i], sym, m, shell_text(shells[i], species, scale))
                          for i, sym, m in symmetry.orbits]
                key = hash_text(formula, symmetry.number, parameters, orbits)
                if key in seen:
                    removed += 1
                    continue
                seen.add(key)
            if structure is None:
                structure = Structure(Lattice(proto.lattice * scale), species, proto.frac,
                                      validate_proximity=False)
            structure.properties["spacegroup"] = symmetry.number
            structures.append(structure)
            names.append(f"{proto.name}:" + ",".join(
                f"{k}={e}" for k, e in zip(proto.keys, chosen, strict=True)))
    if dedupe == "matcher":
        kept, kept_names, n = deduplicate(structures, names, "matcher", symprec=symprec)
        return StructureSet(kept, kept_names, n)
    return StructureSet(tuple(structures), tuple(names), removed)


def _prototype_items(prototypes: StructureSet | Sequence[Structure] | Mapping[str, Structure]
                     ) -> list[tuple[str, Structure]]:
    if isinstance(prototypes, StructureSet):
        return list(zip(prototypes.names, prototypes.structures, strict=True))
    if isinstance(prototypes, Mapping):
        return [(str(k), v) for k, v in prototypes.items()]
    return [(f"prototype{i}", s) for i, s in enumerate(prototypes)]


def _parse_prototype(name: str, structure: Structure, substitutions: Mapping[str, Any],
                     field: str) -> _Prototype:
    from pymatgen.core.periodic_table import Element

    where = f"{field}: prototype {name!r}"
    if not structure.is_ordered:
        raise ConfigError(f"{where}: has partially occupied sites; prototypes must be ordered")
    labels = [str(site.label) for site in structure]
    symbols = [getattr(site.specie, "symbol", str(site.specie)) for site in structure]
    site_key = np.full(len(structure), -1, dtype=np.int64)
    keys: list[str] = []
    for key in substitutions:
        by_label = [i for i, label in enumerate(labels) if label == key]
        sites = by_label or [i for i, s in enumerate(symbols) if s == key]
        if not sites:
            continue
        taken = site_key[sites]
        if (taken >= 0).any():
            other = keys[int(taken[taken >= 0][0])]
            raise ConfigError(f"{where}: keys {other!r} and {key!r} both match site "
                              f"{sites[int(np.argmax(taken >= 0))]}")
        site_key[sites] = len(keys)
        keys.append(key)
    fixed = tuple("" if site_key[i] >= 0 else symbols[i] for i in range(len(structure)))
    placeholders = sorted({s for s in fixed if s and not Element.is_valid_symbol(s)})
    if placeholders:
        raise ConfigError(f"{where}: placeholder species {placeholders} have no "
                          "substitution")
    return _Prototype(name, np.array(structure.lattice.matrix),
                      np.array(structure.frac_coords), site_key, fixed, tuple(keys),
                      structure)


def _pattern(chosen: Sequence[str], fixed: Sequence[str]) -> tuple[int, ...]:
    """Which keys (and fixed elements) share an element: first-appearance ids."""
    ids: dict[str, int] = {}
    return tuple(ids.setdefault(e, len(ids)) for e in (*chosen, *fixed))


def _product_indices(choices: list[list[int]]) -> np.ndarray:
    """Cartesian product of index lists, ``(prod(len), k)`` int64, first key slowest."""
    grids = np.meshgrid(*[np.asarray(c, dtype=np.int64) for c in choices], indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=1)


def _cell_counts(proto: _Prototype, combos: np.ndarray, column: Mapping[str, int],
                 n_elements: int) -> np.ndarray:
    """Atoms of each element per cell, ``(m, E)`` int64."""
    counts = np.zeros((len(combos), n_elements), dtype=np.int64)
    for k in range(len(proto.keys)):
        n_sites = int(np.count_nonzero(proto.site_key == k))
        np.add.at(counts, (np.arange(len(combos)), combos[:, k]), n_sites)
    for element in set(proto.fixed) - {""}:
        counts[:, column[element]] += sum(1 for e in proto.fixed if e == element)
    return counts


def _species(proto: _Prototype, chosen: Sequence[str]) -> list[str]:
    return [chosen[k] if k >= 0 else proto.fixed[i]
            for i, k in enumerate(proto.site_key.tolist())]


@cache
def _radius(symbol: str) -> float:
    """pymatgen atomic radius (Å), gaps filled as in ``matloop.features.composition``."""
    from matloop.features.composition import PROPERTIES, element_properties, property_means

    column = [name for name, _ in PROPERTIES].index("atomic_radius")
    value = element_properties(symbol)[column]
    return float(property_means()[column] if math.isnan(value) else value)


@cache
def _oxidation_sums(symbol: str, count: int) -> int:
    """Bit set of the possible sums of ``count`` oxidation states of ``symbol`` (bit
    ``s + OFFSET`` for sum s), from pymatgen's ICSD (else common) oxidation states."""
    from pymatgen.core.periodic_table import Element

    element = Element(symbol)
    states = element.icsd_oxidation_states or element.common_oxidation_states
    sums = {sum(c) for c in itertools.combinations_with_replacement(states, count)}
    bits = 0
    for s in sums:
        bits |= 1 << (s + _OFFSET)
    return bits


_OFFSET = 4096  # keeps shifted sums non-negative (|state| <= 8, counts up to hundreds)


def _charge_balanceable(counts: np.ndarray, elements: Sequence[str]) -> np.ndarray:
    """Rows ``(m, E)`` whose reduced composition has charge-balanced oxidation states,
    exactly as ``Composition.oxi_state_guesses()`` is non-empty (one element: always)."""
    reduced = counts // np.gcd.reduce(counts, axis=1, keepdims=True)
    result = np.zeros(len(counts), dtype=bool)
    rows, inverse = np.unique(reduced, axis=0, return_inverse=True)
    answers = np.zeros(len(rows), dtype=bool)
    for u, row in enumerate(rows):
        present = [(elements[j], int(n)) for j, n in enumerate(row) if n]
        if len(present) == 1:
            answers[u] = True
            continue
        reachable = 1  # bit 0: the empty sum
        for symbol, n in present:
            reachable = _minkowski(reachable, _oxidation_sums(symbol, n))
        answers[u] = bool((reachable >> (_OFFSET * len(present))) & 1)  # total charge 0
    result[:] = answers[inverse.reshape(-1)]
    return result


def _minkowski(a: int, b: int) -> int:
    """Bit set of ``{x + y}`` for x in ``a``, y in ``b``."""
    out = 0
    while b:
        low = b & -b
        out |= a << (low.bit_length() - 1)
        b ^= low
    return out


def _dls_scaled(structure: Structure) -> Structure:
    import warnings

    from pymatgen.analysis.structure_prediction.volume_predictor import DLSVolumePredictor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return DLSVolumePredictor().get_predicted_structure(structure)
        except Exception:  # no bond data for an element: fall back to atomic radii
            radii = np.array([_radius(s.specie.symbol) for s in structure])
            target = float((4.0 / 3.0 * math.pi * radii**3).sum() / PACKING_FRACTION)
            return structure.scale_lattice(target)
