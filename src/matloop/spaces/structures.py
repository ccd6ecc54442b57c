"""Crystal-structure candidate spaces, read from files.

``load_structures(source)`` reads a folder of CIF / POSCAR / CONTCAR / ``*.vasp`` files,
a pymatgen-JSON file, an ``.extxyz`` / ``.xyz`` file of frames or a CSV with a column of
pymatgen Structure JSON, into a ``StructureSet``, repeats removed
(``matloop.spaces.symmetry.deduplicate``). Prototypes decorated with element choices
come from ``matloop.spaces.substitution``.

Lengths are in Å, volumes in Å^3. pymatgen and ASE load only inside functions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.errors import ConfigError

if TYPE_CHECKING:
    from pymatgen.core import Structure

from matloop.spaces.symmetry import SYMPREC, DedupMethod, deduplicate

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar")
VASP_PREFIXES = ("POSCAR", "CONTCAR")


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
    from matloop.spaces.tables import read_table

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
