"""Crystal-structure candidate spaces: load, deduplicate and generate structures.

* ``load_structures(source)`` reads a folder of CIF / POSCAR / CONTCAR / ``*.vasp`` files,
  a pymatgen-JSON file, an ``.extxyz`` / ``.xyz`` file of frames or a CSV with a column of
  pymatgen Structure JSON, into a ``StructureSet``.
* ``deduplicate(structures, names, method)`` removes repeats, either with pymatgen's
  ``StructureMatcher`` (inside groups of equal reduced formula and space group) or with
  a canonical symmetry hash (``structure_hash``).
* ``substitute(prototypes, substitutions)`` decorates prototypes with element choices per
  site label or element; compositions, charge balance, volumes and hashes are computed
  from arrays and from the prototype's symmetry (spglib once per prototype and pattern
  of equal elements), so 10^5 candidates take well under a minute.

Lengths are in Å, volumes in Å^3. pymatgen, ASE and spglib load only inside functions.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from matloop.errors import ConfigError

if TYPE_CHECKING:
    from pymatgen.core import Structure

SYMPREC = 0.01  # Å, spglib tolerance for hashes and space groups
LENGTH_DIGITS = 2  # hash rounds primitive-cell lengths to 0.01 Å ...
ANGLE_DIGITS = 1  # ... and angles to 0.1 degree
VOLUME_TOLERANCE = 1e-3  # relative: copies have equal volume per atom to this
SHELLS = 2  # neighbour shells per orbit in the hash
SHELL_TOLERANCE = 1e-3  # relative gap that separates two neighbour shells
MAX_SHELL_CUTOFF = 6.0  # widest shell search, in units of (volume per atom)^(1/3)
# Default volume of substituted structures: sum of atomic-sphere volumes (pymatgen
# ``Element.atomic_radius``) divided by this packing fraction, the median packing
# fraction of the 3953 Materials Project binaries in mp_binary_elasticity.csv.
PACKING_FRACTION = 0.64
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar")
VASP_PREFIXES = ("POSCAR", "CONTCAR")

DedupMethod = Literal["matcher", "hash"]
VolumeMethod = Literal["radii", "dls", "keep"]


@dataclass(frozen=True)
class StructureSet:
    """Structures with one name each (file stem, JSON key, CSV id, ``<file>:<index>``).

    ``duplicates_removed`` counts the structures dropped as repeats when the set was made.
    """

    structures: tuple[Structure, ...]
    names: tuple[str, ...]
    duplicates_removed: int = 0

    def __post_init__(self) -> None:
        if len(self.structures) != len(self.names):
            raise ValueError(f"{len(self.structures)} structures but {len(self.names)} names")

    def __len__(self) -> int:
        return len(self.structures)


# ----------------------------------------------------------------------------- loading


def load_structures(source: str | Path, *, field: str = "structures",
                    structure_column: str = "structure", id_column: str | None = None,
                    dedupe: DedupMethod | None = None, symprec: float = SYMPREC
                    ) -> StructureSet:
    """Read structures from a folder, a JSON, extxyz/xyz or CSV file, or one structure file.

    A folder is read file by file (CIF, ``*.vasp``, ``*.poscar``, names starting with
    POSCAR/CONTCAR; other files are skipped), names are file stems. JSON holds a list of
    Structure dicts (names ``<stem>:<index>``), a dict name -> Structure dict, or one
    Structure dict. extxyz/xyz frames are named ``<stem>:<frame>`` (0-based). A CSV has
    pymatgen Structure JSON in ``structure_column``; rows are named by ``id_column`` or
    ``<stem>:<index>`` (0-based data row; messages give the spreadsheet row, header = 1).
    ``dedupe`` optionally removes repeats (see ``deduplicate``). Raises ``ConfigError``
    naming ``field``, the file and the row/frame/entry for anything unreadable.
    """
    path = Path(source)
    if not path.exists():
        raise ConfigError(f"{field}: not found: {path}")
    if path.is_dir():
        structures, names = _read_folder(path, field)
    else:
        suffixes = [s.lower() for s in path.suffixes]
        suffix = suffixes[-1] if suffixes else ""
        if suffix == ".gz" and len(suffixes) > 1:
            suffix = suffixes[-2]
        if suffix == ".json":
            structures, names = _read_json(path, field)
        elif suffix in (".extxyz", ".xyz"):
            structures, names = _read_frames(path, field)
        elif suffix == ".csv":
            structures, names = _read_csv(path, field, structure_column, id_column)
        elif _is_structure_file(path):
            structures, names = [_read_structure_file(path, field)], [path.stem]
        else:
            raise ConfigError(f"{field}: {path}: unknown structure format {suffix!r} "
                              "(use a folder, .json, .extxyz/.xyz, .csv, .cif, .vasp or POSCAR)")
    if not structures:
        raise ConfigError(f"{field}: {path}: no structures found")
    if dedupe is None:
        return StructureSet(tuple(structures), tuple(names))
    kept, kept_names, removed = deduplicate(structures, names, method=dedupe, symprec=symprec)
    return StructureSet(kept, kept_names, removed)


def _is_structure_file(path: Path) -> bool:
    name = path.name
    return (path.suffix.lower() in STRUCTURE_SUFFIXES
            or any(name.upper().startswith(p) for p in VASP_PREFIXES))


def _read_folder(folder: Path, field: str) -> tuple[list[Structure], list[str]]:
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and _is_structure_file(p))
    if not files:
        raise ConfigError(f"{field}: {folder}: no CIF, POSCAR, CONTCAR or .vasp files in the "
                          "folder")
    stems = [p.stem for p in files]
    repeated = {s for s in stems if stems.count(s) > 1}
    names = [p.name if p.stem in repeated else p.stem for p in files]
    return [_read_structure_file(p, field) for p in files], names


def _read_structure_file(path: Path, field: str) -> Structure:
    import warnings

    from pymatgen.core import Structure

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CIF parser warnings become the error below
            structure = Structure.from_file(path)
    except Exception as exc:  # parsers raise many types; all mean "cannot read"
        raise ConfigError(f"{field}: {path}: cannot read a structure: "
                          f"{_reason(exc)}") from None
    return _checked(structure, f"{field}: {path}")


def _read_json(path: Path, field: str) -> tuple[list[Structure], list[str]]:
    import gzip

    try:
        opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{field}: {path}: not valid JSON: {exc}") from None
    if isinstance(data, dict) and ("sites" in data or "@class" in data):
        return [_structure_from_dict(data, f"{field}: {path}")], [path.stem]
    if isinstance(data, list):
        entries = [(f"{path.stem}:{i}", f"entry {i}", d) for i, d in enumerate(data)]
    elif isinstance(data, dict):
        entries = [(str(k), f"key {k!r}", d) for k, d in data.items()]
    else:
        raise ConfigError(f"{field}: {path}: expected a list of Structure dicts or a dict "
                          f"name -> Structure dict, got {type(data).__name__}")
    structures = [_structure_from_dict(d, f"{field}: {path}, {where}")
                  for _, where, d in entries]
    return structures, [name for name, _, _ in entries]


def _structure_from_dict(data: Any, where: str) -> Structure:
    from pymatgen.core import Structure

    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a pymatgen Structure dict, "
                          f"got {type(data).__name__}")
    try:
        structure = Structure.from_dict(data)
    except Exception as exc:  # from_dict raises KeyError, TypeError, ValueError, ...
        raise ConfigError(f"{where}: not a pymatgen Structure: {_reason(exc)}") from None
    return _checked(structure, where)


def _read_frames(path: Path, field: str) -> tuple[list[Structure], list[str]]:
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        frames = ase.io.read(path, index=":")
    except Exception as exc:  # ASE raises many types for malformed files
        raise ConfigError(f"{field}: {path}: cannot read frames: {_reason(exc)}") from None
    if not isinstance(frames, list):
        frames = [frames]
    structures, names = [], []
    for i, atoms in enumerate(frames):
        where = f"{field}: {path}, frame {i}"
        if len(atoms) == 0:
            raise ConfigError(f"{where}: no atoms")
        if not all(atoms.pbc) or atoms.cell.rank < 3:
            raise ConfigError(f"{where}: not a periodic crystal (needs a 3-D cell and "
                              'pbc="T T T")')
        try:
            structure = AseAtomsAdaptor.get_structure(atoms)
        except Exception as exc:
            raise ConfigError(f"{where}: cannot convert to a structure: {_reason(exc)}"
                              ) from None
        structures.append(_checked(structure, where))
        names.append(f"{path.stem}:{i}")
    return structures, names


def _read_csv(path: Path, field: str, column: str, id_column: str | None
              ) -> tuple[list[Structure], list[str]]:
    from matloop.campaigns.spaces import read_table

    frame = read_table(path, field)
    for name in (column, id_column):
        if name is not None and name not in frame.columns:
            raise ConfigError(f"{field}: {path}: column {name!r} not in the CSV "
                              f"(it has {list(frame.columns)})")
    texts = frame[column].fillna("").tolist()
    structures = []
    for i, text in enumerate(texts):
        where = f"{field}: {path}, row {i + 2}, column {column!r}"
        if not text.strip():
            raise ConfigError(f"{where}: empty structure")
        structures.append(_structure_from_dict(text, where))
    if id_column is None:
        return structures, [f"{path.stem}:{i}" for i in range(len(texts))]
    ids = frame[id_column].fillna("").astype(str).tolist()
    if "" in ids:
        raise ConfigError(f"{field}: {path}, row {ids.index('') + 2}, column {id_column!r}: "
                          "empty id")
    return structures, ids


def _checked(structure: Structure, where: str) -> Structure:
    """The structure, or ``ConfigError`` if it has no sites or a degenerate cell."""
    if len(structure) == 0:
        raise ConfigError(f"{where}: the structure has no sites")
    volume = float(structure.lattice.volume)
    if not (math.isfinite(volume) and volume > 1e-3 * len(structure)):
        raise ConfigError(f"{where}: degenerate cell (volume {volume:g} Å^3)")
    if not np.isfinite(structure.frac_coords).all():
        raise ConfigError(f"{where}: non-finite coordinates")
    return structure


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# ----------------------------------------------------------------------------- symmetry


def _cell(structure: Structure) -> tuple[np.ndarray, np.ndarray, list[int], list[str]]:
    """spglib cell (lattice, fractional coordinates, type ids) and the name of each type."""
    if structure.is_ordered:
        numbers = list(structure.atomic_numbers)
        names = [site.specie.symbol for site in structure]
    else:  # each distinct occupancy is its own type, as in SpacegroupAnalyzer
        names = [site.species.formula for site in structure]
        index = {n: i + 1 for i, n in enumerate(dict.fromkeys(names))}
        numbers = [index[n] for n in names]
    return structure.lattice.matrix, structure.frac_coords, numbers, names


def _dataset(lattice: np.ndarray, frac: np.ndarray, numbers: Sequence[int], symprec: float
             ) -> Any:
    import warnings

    import spglib

    cell = (lattice.tolist(), frac.tolist(), list(numbers))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # spglib's error-handling
            return spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception:  # spglib >= 2.5 may raise instead of returning None
        return None


def spacegroup_number(structure: Structure, symprec: float = SYMPREC) -> int:
    """International space-group number (spglib); 1 if spglib finds no symmetry."""
    lattice, frac, numbers, _ = _cell(structure)
    dataset = _dataset(lattice, frac, numbers, symprec)
    return 1 if dataset is None else int(dataset.number)


def lattice_parameters(matrix: np.ndarray) -> np.ndarray:
    """``(a, b, c, alpha, beta, gamma)`` in Å and degrees from row vectors ``(3, 3)``."""
    lengths = np.linalg.norm(matrix, axis=1)
    pairs = ((1, 2), (0, 2), (0, 1))
    angles = [math.degrees(math.acos(float(np.clip(
        np.dot(matrix[i], matrix[j]) / (lengths[i] * lengths[j]), -1.0, 1.0))))
        for i, j in pairs]
    return np.concatenate([lengths, angles])


@dataclass(frozen=True)
class _Symmetry:
    """What the hash needs from spglib: number, primitive lattice parameters, orbits.

    ``orbits`` is one ``(type index, site-symmetry symbol, multiplicity per primitive
    cell)`` per crystallographic orbit (type index into the cell's type names).
    """

    number: int
    parameters: np.ndarray
    orbits: tuple[tuple[int, str, int], ...]


def _symmetry(lattice: np.ndarray, frac: np.ndarray, numbers: Sequence[int],
              symprec: float) -> _Symmetry:
    dataset = _dataset(lattice, frac, numbers, symprec)
    n = len(numbers)
    if dataset is None:  # no symmetry found: the Niggli cell and one orbit per site
        from pymatgen.core import Lattice

        niggli = Lattice(lattice).get_niggli_reduced_lattice()
        return _Symmetry(1, lattice_parameters(niggli.matrix),
                         tuple((i, "1", 1) for i in range(n)))
    orbit_ids = np.asarray(dataset.equivalent_atoms)
    n_primitive = len(set(np.asarray(dataset.mapping_to_primitive).tolist()))
    orbits: list[tuple[int, str, int]] = []
    for orbit in np.unique(orbit_ids):
        members = np.flatnonzero(orbit_ids == orbit)
        multiplicity = len(members) * n_primitive // n
        orbits.append((int(members[0]), str(dataset.site_symmetry_symbols[members[0]]),
                       multiplicity))
    return _Symmetry(int(dataset.number), lattice_parameters(np.asarray(
        dataset.primitive_lattice)), tuple(orbits))


def _hash_text(formula: str, number: int, parameters: np.ndarray,
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


def _formula(counts: Mapping[str, float]) -> str:
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
    lattice, frac, numbers, names = _cell(structure)
    symmetry = _symmetry(lattice, frac, numbers, symprec)
    formula = _formula(structure.composition.get_el_amt_dict() if structure.is_ordered
                       else dict(structure.composition.as_dict()))
    shells = _neighbour_shells(structure, [i for i, _, _ in symmetry.orbits])
    orbits = [(names[i], sym, m, _shell_text(shells[i], names, 1.0))
              for i, sym, m in symmetry.orbits]
    return _hash_text(formula, symmetry.number, symmetry.parameters, orbits)


Shells = list[tuple[float, list[int]]]  # (mean distance Å, neighbour site indices) per shell


def _neighbour_shells(structure: Structure, sites: Sequence[int]) -> dict[int, Shells]:
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


def _shell_text(shells: Shells, species: Sequence[str], scale: float) -> str:
    from collections import Counter

    return "/".join(
        f"{round(distance * scale, LENGTH_DIGITS) + 0.0:.{LENGTH_DIGITS}f}:" + ",".join(
            f"{el}{n}" for el, n in sorted(Counter(species[j] for j in members).items()))
        for distance, members in shells)


# ----------------------------------------------------------------------------- dedup


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


# ----------------------------------------------------------------------------- substitution


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
        shells = _neighbour_shells(proto.structure, range(len(proto.fixed)))
        symmetries: dict[tuple[int, ...], _Symmetry] = {}
        for row in rows.tolist():
            chosen = [elements[j] for j in combos[row]]
            species = _species(proto, chosen)
            pattern = _pattern(chosen, fixed_types)
            symmetry = symmetries.get(pattern)
            if symmetry is None:
                numbers = [Element(e).Z for e in species]
                symmetry = symmetries[pattern] = _symmetry(proto.lattice, proto.frac,
                                                           numbers, symprec)
            structure: Structure | None = None
            scale = float(scales[row])
            if volume == "dls":
                structure = _dls_scaled(Structure(Lattice(proto.lattice), species,
                                                  proto.frac, validate_proximity=False))
                scale = (structure.volume / proto_volume) ** (1.0 / 3.0)
            if dedupe == "hash":
                formula = _formula({e: int(n) for e, n in zip(elements, counts[row],
                                                              strict=True) if n})
                parameters = symmetry.parameters.copy()
                parameters[:3] *= scale
                orbits = [(species[i], sym, m, _shell_text(shells[i], species, scale))
                          for i, sym, m in symmetry.orbits]
                key = _hash_text(formula, symmetry.number, parameters, orbits)
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
