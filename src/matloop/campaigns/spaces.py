"""Candidate spaces: build the pool of candidates a campaign searches.

A ``Pool`` holds its candidates as one numeric matrix so that featurising and scoring
10^6 candidates stays vectorised: numeric inputs ``(N, k)`` by column, atomic
fractions ``(N, E)`` over a fixed element list, or (crystal structures) the structures'
features ``(N, d)``, computed once and cached in the campaign's scratch folder, with
each pymatgen structure kept beside them (turned into JSON only for a candidate).
``Candidate`` objects (with their keys and labels) are made only for the rows that are
proposed or evaluated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from matloop.campaigns.schema import (
    CompositionSpace,
    Space,
    StructureSpace,
    SubstitutionSpace,
    TableSpace,
)
from matloop.errors import ConfigError
from matloop.protocols import Candidate

if TYPE_CHECKING:
    import pandas as pd
    from pymatgen.core import Structure

FRACTION_DIGITS = 6


@dataclass(frozen=True)
class Pool:
    """The candidates of a campaign.

    ``kind`` says what the columns of ``values`` are: ``"inputs"`` (numeric parameters
    named by ``names``), ``"composition"`` (atomic fractions of the elements in
    ``names``; rows sum to 1) or ``"structures"`` (the ``StructureFeaturizer`` columns
    named by ``names``; ``structures`` holds each row's pymatgen ``Structure`` and ``ids``
    its unique name). ``labels`` optionally gives each row's name in words (e.g. the formula
    as written in a CSV); ``ids`` optionally identifies each row (an id column, e.g.
    Materials Project ids for polymorphs that share a formula). ``duplicates_removed``
    counts the repeated structures dropped while building the pool.
    """

    kind: Literal["inputs", "composition", "structures"]
    names: tuple[str, ...]
    values: np.ndarray
    labels: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    structures: tuple[Structure, ...] | None = None
    duplicates_removed: int = 0

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def key(self, index: int) -> str:
        """Canonical text of row ``index``: equal keys mean the same candidate."""
        if self.ids is not None:
            return self.ids[index]
        return candidate_key(self.kind, self.names, self.values[index])

    def candidate(self, index: int) -> Candidate:
        row = self.values[index]
        key = self.key(index)
        label = self.labels[index] if self.labels is not None else _default_label(self, row)
        if self.kind == "inputs":
            inputs = {name: float(v) for name, v in zip(self.names, row, strict=True)}
            return Candidate(key=key, label=label, inputs=inputs)
        if self.kind == "structures":
            if self.structures is None or index >= len(self.structures):
                raise ValueError(f"row {index} of the structure pool has no structure "
                                 "(candidates outside a structure pool are not supported)")
            return Candidate(key=key, label=label, structure=self.structures[index].to_json())
        composition = {name: round(float(v), FRACTION_DIGITS)
                       for name, v in zip(self.names, row, strict=True) if v > 0}
        return Candidate(key=key, label=label, composition=composition)


def candidate_key(kind: str, names: Iterable[str], row: np.ndarray) -> str:
    """``"n=6, theta=0.5"`` for inputs; ``"Cu0.5 Ni0.5"`` (alphabetical) for compositions."""
    if kind == "inputs":
        return ", ".join(f"{name}={float(v)!r}" for name, v in zip(names, row, strict=True))
    parts = sorted((name, float(v)) for name, v in zip(names, row, strict=True) if v > 0)
    return " ".join(f"{name}{round(v, FRACTION_DIGITS):g}" for name, v in parts)


def _default_label(pool: Pool, row: np.ndarray) -> str:
    if pool.kind == "inputs":
        return ", ".join(f"{n}={float(v):g}" for n, v in zip(pool.names, row, strict=True))
    return integer_formula(pool.names, row)


def integer_formula(names: Iterable[str], fractions: np.ndarray, max_atoms: int = 100) -> str:
    """Smallest whole-number formula for the fractions, e.g. ``Cu3Ni2`` for 0.6/0.4."""
    from fractions import Fraction
    from math import lcm

    present = [(n, Fraction(float(f)).limit_denominator(max_atoms))
               for n, f in zip(names, fractions, strict=True) if f > 0]
    scale = lcm(*(f.denominator for _, f in present))
    counts = [(n, int(f * scale)) for n, f in present]
    divisor = np.gcd.reduce([c for _, c in counts])
    return "".join(f"{n}{c // divisor if c // divisor != 1 else ''}" for n, c in counts)


def build_pool(space: Space, cache_dir: Path | None = None) -> Pool:
    """The candidate pool of a space; raises ``ConfigError`` when it is empty or invalid.

    ``cache_dir`` (the campaign's scratch folder) keeps structure features between runs.
    """
    builders: dict[type, Callable[..., Pool]] = {
        TableSpace: table_pool,
        CompositionSpace: composition_grid,
        StructureSpace: lambda s: structure_pool(s, cache_dir),
        SubstitutionSpace: lambda s: structure_pool(s, cache_dir),
    }
    pool = builders[type(space)](space)
    if len(pool) == 0:
        raise ConfigError(f"space.{space.kind}: the candidate space is empty")
    return pool


def composition_grid(space: CompositionSpace) -> Pool:
    """Every composition over ``space.elements`` in steps of ``space.step``.

    Rows have between ``min_elements`` and ``max_elements`` non-zero fractions; ordered
    by number of elements, then element subset, then fractions (deterministic).
    """
    check_elements(space.elements, "space.elements")
    elements = tuple(space.elements)
    n = space.divisions
    blocks = []
    for k in range(space.min_elements, min(space.max_elements, len(elements), n) + 1):
        parts = positive_compositions(n, k)  # (P, k) integer steps summing to n
        for subset in itertools.combinations(range(len(elements)), k):
            block = np.zeros((len(parts), len(elements)))
            block[:, subset] = parts / n
            blocks.append(block)
    values = np.concatenate(blocks) if blocks else np.zeros((0, len(elements)))
    return Pool(kind="composition", names=elements, values=values)


def positive_compositions(n: int, k: int) -> np.ndarray:
    """All ways to write n as an ordered sum of k positive integers, shape ``(C(n-1,k-1), k)``."""
    combinations = list(itertools.combinations(range(1, n), k - 1))
    cuts = np.array(combinations, dtype=np.int64).reshape(len(combinations), k - 1)
    bounds = np.concatenate([np.zeros((len(cuts), 1), np.int64), cuts,
                             np.full((len(cuts), 1), n, np.int64)], axis=1)
    return np.diff(bounds, axis=1).astype(float)


def check_elements(symbols: Iterable[str], field: str) -> None:
    """Raise ``ConfigError`` naming ``field`` for any symbol that is not a chemical element."""
    from pymatgen.core.periodic_table import Element

    unknown = [s for s in symbols if not Element.is_valid_symbol(s)]
    if unknown:
        raise ConfigError(f"{field}: unknown element(s) {', '.join(map(repr, unknown))}")


def read_table(path: str | Path, field: str) -> pd.DataFrame:
    """Read a CSV with every cell as text kept (``NaN`` the formula stays a formula)."""
    import pandas as pd

    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    except FileNotFoundError:
        raise ConfigError(f"{field}: file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{field}: cannot read {path} as CSV: {exc}") from None


def numeric_columns(frame: pd.DataFrame, columns: list[str], field: str,
                    allow_missing: bool = False) -> np.ndarray:
    """Columns as floats ``(N, len(columns))``; names the first bad row (1-based, as in a
    spreadsheet with its header on row 1) and column."""
    import pandas as pd

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{field}: column(s) {missing} not in the CSV "
                          f"(it has {list(frame.columns)})")
    out = np.empty((len(frame), len(columns)))
    for j, column in enumerate(columns):
        parsed = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(parsed)
        if allow_missing:
            bad &= frame[column].notna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise ConfigError(f"{field}: row {row + 2}, column {column!r}: "
                              f"{frame[column].iloc[row]!r} is not a finite number")
        out[:, j] = parsed
    return out


def formula_fractions(formulas: list[str], field: str, column: str
                      ) -> tuple[tuple[str, ...], np.ndarray]:
    """Parse formulas with pymatgen -> (sorted element symbols, fractions ``(N, E)``)."""
    from pymatgen.core import Composition
    from pymatgen.core.periodic_table import Element

    parsed = []
    for row, formula in enumerate(formulas):
        try:
            composition = Composition(formula)
            if composition.num_atoms <= 0:
                raise ValueError("no atoms")
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{field}: row {row + 2}, column {column!r}: "
                              f"{formula!r} is not a chemical formula ({exc})") from None
        amounts = composition.fractional_composition.get_el_amt_dict()
        unknown = [el for el in amounts if not Element.is_valid_symbol(el)]
        if unknown:
            raise ConfigError(f"{field}: row {row + 2}, column {column!r}: {formula!r} "
                              f"has unknown element(s) {', '.join(map(repr, unknown))}")
        parsed.append(amounts)
    elements = tuple(sorted({el for amounts in parsed for el in amounts}))
    index = {el: j for j, el in enumerate(elements)}
    fractions = np.zeros((len(parsed), len(elements)))
    for i, amounts in enumerate(parsed):
        for el, amount in amounts.items():
            fractions[i, index[el]] = amount
    return elements, fractions


def table_pool(space: TableSpace) -> Pool:
    """Rows of a CSV, one candidate per distinct key (the first row of a repeat is kept)."""
    return unique_rows(read_table_pool(read_table(space.path, "space.path"), space.inputs,
                                       space.composition, space.id))


def read_table_pool(frame: pd.DataFrame, inputs: list[str] | tuple[str, ...] | None,
                    composition: str | None, id_column: str | None) -> Pool:
    """Every row of a table as a candidate (repeats kept), labelled for people."""
    ids = None
    if id_column is not None:
        if id_column not in frame.columns:
            raise ConfigError(f"space.id: column {id_column!r} not in the CSV "
                              f"(it has {list(frame.columns)})")
        ids = tuple(frame[id_column].fillna("").astype(str))
        if "" in ids:
            raise ConfigError(f"space.id: row {ids.index('') + 2}, column {id_column!r}: "
                              "empty id")
    if inputs is not None:
        values = numeric_columns(frame, list(inputs), "space.inputs")
        labels = None if ids is None else tuple(
            f"{i} (" + ", ".join(f"{n}={v:g}" for n, v in zip(inputs, row, strict=True)) + ")"
            for i, row in zip(ids, values, strict=True))
        return Pool(kind="inputs", names=tuple(inputs), values=values, labels=labels, ids=ids)
    column = composition or ""
    if column not in frame.columns:
        raise ConfigError(f"space.composition: column {column!r} not in the CSV "
                          f"(it has {list(frame.columns)})")
    formulas = frame[column].fillna("").tolist()
    elements, fractions = formula_fractions(formulas, "space.composition", column)
    labels = tuple(formulas) if ids is None else tuple(
        f"{f} ({i})" for f, i in zip(formulas, ids, strict=True))
    return Pool(kind="composition", names=elements, values=fractions, labels=labels, ids=ids)


def unique_rows(pool: Pool) -> Pool:
    """The pool without repeated candidates (same key), keeping first occurrences in order."""
    if pool.ids is not None:
        _, first = np.unique(np.array(pool.ids), return_index=True)
    else:
        rounded = np.round(pool.values, FRACTION_DIGITS if pool.kind == "composition" else 12)
        _, first = np.unique(rounded, axis=0, return_index=True)
    if len(first) == len(pool):
        return pool
    keep = np.sort(first)
    labels = tuple(pool.labels[i] for i in keep) if pool.labels is not None else None
    ids = tuple(pool.ids[i] for i in keep) if pool.ids is not None else None
    return Pool(kind=pool.kind, names=pool.names, values=pool.values[keep], labels=labels,
                ids=ids)


FEATURES_FILE = "structure-features.npz"


def structure_pool(space: StructureSpace | SubstitutionSpace, cache_dir: Path | None = None
                   ) -> Pool:
    """Structures read (``structures``) or generated (``substitution``), repeats removed,
    featurised by ``StructureFeaturizer`` (cached in ``cache_dir/structure-features.npz``
    under ``feature_cache_key``, so a resumed run reuses them)."""
    from matloop.campaigns.structures import StructureSet, load_structures
    from matloop.campaigns.substitution import substitute
    from matloop.features.structure import StructureFeaturizer, cached_features

    dedupe = None if space.dedupe == "none" else space.dedupe
    if isinstance(space, StructureSpace):
        found = load_structures(space.path, field="space.path",
                                structure_column=space.structure_column, id_column=space.id,
                                dedupe=dedupe)
    else:
        structures: list[Structure] = []
        names: list[str] = []
        for path in space.prototypes:
            part = load_structures(path, field="space.prototypes")
            structures += part.structures
            names += part.names
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"space.prototypes: prototype name(s) {repeated} repeat; "
                              "rename the files or entries")
        found = substitute(StructureSet(tuple(structures), tuple(names)),
                           space.substitutions, space.oxidation_filter, volume=space.volume,
                           dedupe=dedupe, field="space.substitutions")
    field = "space.id" if isinstance(space, StructureSpace) else "space.prototypes"
    seen: set[str] = set()
    for name in found.names:
        if name in seen:
            raise ConfigError(f"{field}: the name {name!r} is given to two structures; "
                              "names identify candidates and must be unique")
        seen.add(name)
    featurizer = StructureFeaturizer()
    cache = None if cache_dir is None else Path(cache_dir) / FEATURES_FILE
    values = cached_features(featurizer, found.structures, cache)
    labels = tuple(f"{s.composition.reduced_formula} ({name})"
                   for s, name in zip(found.structures, found.names, strict=True))
    return Pool(kind="structures", names=featurizer.names, values=values, labels=labels,
                ids=tuple(found.names), structures=tuple(found.structures),
                duplicates_removed=found.duplicates_removed)
