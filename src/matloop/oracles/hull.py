"""Energy above the convex hull at the oracle's own level of theory.

A candidate's relaxed energy per atom is placed on the convex hull (pymatgen's
``PhaseDiagram``) of its chemical system. The hull is built from energies computed by
the same calculator with the same parameters and settings: every structure of the
reference tables (``[oracle] hull``, CSVs with a ``structure`` column of pymatgen JSON)
whose elements are among the candidate's, each relaxed once. An element's pure
structures in the tables are its references, the lowest at this level counting; an
element without one falls back to its ASE reference crystal
(``recipes.elemental_reference``, the oracle's ``_elemental``). Energies from two levels
of theory never share a hull.

Reference energies are kept in ``hull-references.json`` in the cache folder: per level
of theory (a digest of the calculator, its parameters, its model version and the
relaxation settings), each structure's energy under a digest of its JSON text. A table
that gains rows, or a second table holding the same structures, relaxes only what is new; a
structure changed under the same id is relaxed again. The file is rewritten atomically
after every reference, so a killed run keeps what it finished (the elements' ASE
crystals, a few relaxations, stay in each campaign's scratch folder, as for the
``formation_energy`` recipe). A reference whose relaxation fails is recorded with its
error and left off the hull.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from matloop.errors import ConfigError, EvaluationFailure
from matloop.oracles.files import plain, read_json, safe_name, write_json_atomically

if TYPE_CHECKING:
    from ase.calculators.calculator import BaseCalculator
    from pymatgen.core import Structure

HULL = "e_above_hull"
CACHE_FILE = "hull-references.json"
ID_COLUMNS = ("id", "mp_id", "material_id", "name")
# the recipe settings a reference's relaxation reads: the others (EOS points, elastic
# strains) leave its energy as it is, so campaigns that differ only there share a level
RELAXATION = ("optimizer", "fmax", "max_steps", "max_volume_change", "relax_cell")


class HullOracle(Protocol):
    """What ``reference_compounds`` reads of an ASE oracle (``oracles.ase.AseOracle``)."""

    @property
    def calculator(self) -> str: ...
    @property
    def scratch(self) -> str: ...
    @property
    def parameters(self) -> Mapping[str, Any]: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...
    @property
    def hull(self) -> tuple[str, ...] | None: ...
    @property
    def hull_cache(self) -> str | None: ...

    def calculator_for(self, directory: Path) -> BaseCalculator: ...


@dataclass(frozen=True)
class ReferenceRow:
    """One reference structure: its id, its formula (element -> atoms in the cell) and
    its pymatgen JSON text."""

    id: str
    formula: Mapping[str, float]
    structure: str

    @property
    def key(self) -> str:
        """What the cache knows this structure by: a digest of its JSON text."""
        return hashlib.blake2b(self.structure.encode("utf-8"), digest_size=8).hexdigest()


def read_references(*paths: Path) -> list[ReferenceRow]:
    """The rows of the reference tables ``paths`` (CSV: a ``structure`` column of
    pymatgen JSON, an id column among ``ID_COLUMNS`` or the row number); ``ConfigError``
    naming ``oracle.hull`` with the row and column of a bad cell, or an id that
    repeats."""
    out: dict[str, ReferenceRow] = {}
    for path in paths:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ConfigError(f"oracle.hull: {path}: cannot read the table: {exc}") from None
        for row in _read_table(path, (stat.st_mtime_ns, stat.st_size)):
            if row.id in out:
                raise ConfigError(f"oracle.hull: {path}: reference {row.id!r} is named "
                                  "twice; ids must be unique across the tables")
            out[row.id] = row
    return list(out.values())


@functools.lru_cache(maxsize=8)
def _read_table(path: Path, stamp: tuple[int, int]) -> tuple[ReferenceRow, ...]:
    """The rows of one table, read once per process while its ``stamp`` (modification
    time, size) stays the same: every evaluation needs them."""
    import pandas as pd
    from pymatgen.core import Structure

    where = f"oracle.hull: {path}"
    try:  # pandas reads cells of any length (the csv module's limit is global state)
        rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read the table: {exc}") from None
    if not rows or "structure" not in rows[0]:
        raise ConfigError(f"{where}: needs a 'structure' column of pymatgen JSON, one "
                          "reference per row")
    id_column = next((c for c in ID_COLUMNS if c in rows[0]), None)
    out = []
    for number, row in enumerate(rows, start=2):
        try:
            structure = Structure.from_dict(json.loads(row["structure"]))
        except Exception as exc:  # from_dict raises many types
            raise ConfigError(f"{where}, row {number}, column 'structure': not a pymatgen "
                              f"structure ({type(exc).__name__})") from None
        out.append(ReferenceRow(row[id_column] if id_column else f"{path.stem}:{number}",
                                structure.composition.get_el_amt_dict(), row["structure"]))
    return tuple(out)


class ReferenceEnergies:
    """Relaxed energies per atom (eV/atom) of a reference table's structures at one
    level of theory (``identity``, JSON-able), cached in ``folder / CACHE_FILE``."""

    def __init__(self, folder: Path, identity: Mapping[str, Any]) -> None:
        self.path = folder / CACHE_FILE
        self.identity = dict(identity)
        text = json.dumps(self.identity, sort_keys=True, default=str)
        self.digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()

    def energies(self, rows: Iterable[ReferenceRow],
                 relax: Callable[[Structure, str], float]) -> dict[str, float]:
        """``{id: eV/atom}`` of ``rows``: cached ones read, the others relaxed by
        ``relax(structure, id)`` and stored one by one; failed ones are left out."""
        from pymatgen.core import Structure


        known: dict[str, Any] = read_json(self.path).get(self.digest, {}).get("entries", {})
        out = {}
        for row in rows:
            key = row.key
            if key not in known:
                entry: dict[str, Any] = {"id": row.id}
                try:
                    entry["energy_per_atom"] = relax(
                        Structure.from_str(row.structure, fmt="json"), row.id)
                except EvaluationFailure as failure:
                    entry["error"] = f"{failure.reason}: {failure}"
                data = read_json(self.path)
                level = data.setdefault(self.digest, {"level": self.identity, "entries": {}})
                level["entries"][key] = entry
                write_json_atomically(self.path, data)
                known = level["entries"]
            if "energy_per_atom" in known[key]:
                out[row.id] = float(known[key]["energy_per_atom"])
        return out


def hull_values(formula: Mapping[str, float], energy_per_atom: float,
                elemental: Mapping[str, float], compounds: Mapping[str, tuple[
                    Mapping[str, float], float]]) -> tuple[dict[str, float], dict[str, Any]]:
    """The candidate (element -> amount, and its energy in eV/atom) against the hull of
    the ``elemental`` energies (eV/atom) and ``compounds`` (id -> (element -> amount,
    eV/atom)): ``e_above_hull`` (its distance from the references' hull: negative when
    it lies below, a new stable phase) and ``formation_energy_per_atom`` (eV/atom), and
    the details (decomposition products by fraction, the references on the hull)."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    def entry(amounts: Mapping[str, float], per_atom: float, name: str) -> PDEntry:
        composition = Composition(dict(amounts))
        return PDEntry(composition, per_atom * composition.num_atoms, name=name)

    candidate = entry(formula, energy_per_atom, "candidate")
    entries = [entry({el: 1}, e, el) for el, e in elemental.items()]
    entries += [entry(amounts, e, ref) for ref, (amounts, e) in compounds.items()]
    diagram = PhaseDiagram(entries)
    decomposition, e_hull = diagram.get_decomp_and_e_above_hull(candidate, allow_negative=True)
    assert decomposition is not None and e_hull is not None  # it raises rather than None
    details = {  # the entries are PDEntry objects, each with its name
        "decomposition": {getattr(e, "name"): round(float(f), 6)  # noqa: B009
                          for e, f in decomposition.items()},
        "references_on_hull": sorted(getattr(e, "name") for e in diagram.stable_entries),  # noqa: B009
        "references": len(entries),
    }
    values = {HULL: float(e_hull),
              "formation_energy_per_atom": float(diagram.get_form_energy_per_atom(candidate))}
    return values, details


def reference_compounds(oracle: HullOracle, elements: Iterable[str] | None = None
                        ) -> tuple[dict[str, tuple[Mapping[str, float], float]], str]:
    """The ``oracle``'s ``hull`` tables' structures whose elements are all among
    ``elements`` (every one when None), relaxed at its level of theory (cached): id ->
    (element -> atoms, eV/atom), and the level's digest."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from matloop.oracles.calculators import calculator_provenance
    from matloop.oracles.recipes import RecipeSettings, relaxed_energy

    assert oracle.hull is not None
    rows = [r for r in read_references(*map(Path, oracle.hull))
            if elements is None or set(r.formula) <= set(elements)]
    settings = RecipeSettings.from_mapping(oracle.settings)
    cache = ReferenceEnergies(Path(oracle.hull_cache or oracle.scratch), {
        **calculator_provenance(oracle.calculator, oracle.parameters),
        "settings": {name: plain(getattr(settings, name)) for name in RELAXATION}})

    def relax(structure: Any, name: str) -> float:
        folder = Path(oracle.scratch) / "hull" / cache.digest / safe_name(name)
        return relaxed_energy(AseAtomsAdaptor.get_atoms(structure), oracle.calculator_for,
                              settings, folder)

    energies = cache.energies(rows, relax)
    return {r.id: (r.formula, energies[r.id]) for r in rows if r.id in energies}, \
        cache.digest

