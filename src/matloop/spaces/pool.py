"""The candidate pool: every candidate of a campaign as rows of one numeric matrix.

A ``Pool`` holds its candidates as one matrix so that featurising and scoring 10^6
candidates stays vectorised: inputs ``(N, k)`` by column (a categorical column as codes
0, 1, ... into its sorted options in ``categories``), atomic fractions
``(N, E)`` over a fixed element list, or (crystal structures) the structures' features
``(N, d)``, with each pymatgen structure kept beside them (turned into JSON only for a
candidate). ``Candidate`` objects (with their keys and labels) are made only for the rows
that are proposed or evaluated.

Candidates measured outside the pool (imports of new candidates) are appended by
``extend``: an outside candidate gets ``pool_index = len(pool) + j`` where j counts the
outside candidates imported before it, so the extended pool is the same every time it is
built and stored rows can be checked against it like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from matloop.protocols import Candidate

if TYPE_CHECKING:
    from pymatgen.core import Structure

FRACTION_DIGITS = 6


@dataclass(frozen=True)
class Pool:
    """The candidates of a campaign.

    ``kind`` says what the columns of ``values`` are: ``"inputs"`` (parameters named by
    ``names``: numbers, or for a column in ``categories`` the code of the row's option,
    ``categories[name][code]``), ``"composition"`` (atomic fractions of the elements in
    ``names``; rows sum to 1) or ``"structures"`` (the ``StructureFeaturizer`` columns
    named by ``names``; ``structures`` holds each row's pymatgen ``Structure`` and ``ids``
    its unique name). ``labels`` optionally gives each row's name in words (e.g. the formula
    as written in a CSV); ``ids`` optionally identifies each row (an id column, e.g.
    Materials Project ids for polymorphs that share a formula). ``duplicates_removed``
    counts the repeated structures dropped while building the pool. ``categories`` maps
    each categorical input column to its options, sorted (empty when there is none);
    ``descriptors`` maps a categorical column to its descriptors' names and a matrix
    ``(options, descriptors)`` in the order of its options (``[space] descriptors``);
    ``log_inputs`` names the numeric inputs the models see as their base-10 logarithm
    (a box space's log-scaled ranges); ``integers`` the numeric inputs a candidate gives
    as ``int`` (a box space's integer ranges).
    """

    kind: Literal["inputs", "composition", "structures"]
    names: tuple[str, ...]
    values: np.ndarray
    labels: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    structures: tuple[Structure, ...] | None = None
    duplicates_removed: int = 0
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    descriptors: Mapping[str, tuple[tuple[str, ...], np.ndarray]] = field(
        default_factory=dict)
    log_inputs: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def key(self, index: int) -> str:
        """Canonical text of row ``index``: equal keys mean the same candidate."""
        if self.ids is not None:
            return self.ids[index]
        return candidate_key(self.kind, self.names, self.values[index], self.categories)

    def candidate(self, index: int) -> Candidate:
        row = self.values[index]
        key = self.key(index)
        label = self.labels[index] if self.labels is not None else _default_label(self, row)
        if self.kind == "inputs":
            return Candidate(key=key, label=label, inputs={
                name: int(value) if name in self.integers else value
                for name, value in input_values(self.names, row, self.categories)})
        if self.kind == "structures":
            if self.structures is None or index >= len(self.structures):
                raise ValueError(f"row {index} of the structure pool has no structure "
                                 "(candidates outside a structure pool are not supported)")
            return Candidate(key=key, label=label, structure=self.structures[index].to_json())
        composition = {name: round(float(v), FRACTION_DIGITS)
                       for name, v in zip(self.names, row, strict=True) if v > 0}
        return Candidate(key=key, label=label, composition=composition)


def candidate_key(kind: str, names: Iterable[str], row: np.ndarray,
                  categories: Mapping[str, Sequence[str]] | None = None) -> str:
    """``"n=6.0, solvent='DMF'"`` for inputs (a categorical column by its option, so keys
    do not depend on the codes); ``"Cu0.5 Ni0.5"`` (alphabetical) for compositions."""
    if kind == "inputs":
        return input_key(input_values(names, row, categories or {}))
    parts = sorted((name, float(v)) for name, v in zip(names, row, strict=True) if v > 0)
    return " ".join(f"{name}{round(v, FRACTION_DIGITS):g}" for name, v in parts)


def input_values(names: Iterable[str], row: np.ndarray,
                 categories: Mapping[str, Sequence[str]]) -> list[tuple[str, float | str]]:
    """``(name, value)`` of a row of inputs ``(k,)``: a float, or a categorical column's
    option (``categories[name][code]``)."""
    return [(name, categories[name][int(v)] if name in categories else float(v))
            for name, v in zip(names, row, strict=True)]


def input_key(values: Iterable[tuple[str, float | str]]) -> str:
    """``"n=6.0, solvent='DMF'"``: the key of a candidate with these inputs."""
    return ", ".join(f"{name}={value!r}" for name, value in values)


def input_label(values: Iterable[tuple[str, float | str]]) -> str:
    """``"n=6, solvent=DMF"``: inputs in words, numbers in short form."""
    return ", ".join(f"{name}={value}" if isinstance(value, str) else f"{name}={value:g}"
                     for name, value in values)


def _default_label(pool: Pool, row: np.ndarray) -> str:
    if pool.kind == "inputs":
        return input_label(input_values(pool.names, row, pool.categories))
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
    return replace(pool, values=pool.values[keep], labels=labels, ids=ids)


def extend(pool: Pool, external: Sequence[tuple[str, Mapping[str, float | str]]]) -> Pool:
    """``pool`` with the outside candidates ``(key, {name: value})`` appended in the order
    given (that of their pool indices); new elements of a composition become new columns.
    A categorical input's value is its option, which must be one of the pool's."""
    if not external:
        return pool
    names = list(pool.names)
    for _, values in external:
        names += [name for name in values if name not in names]
    rows = np.zeros((len(external), len(names)))
    for i, (_, values) in enumerate(external):
        for name, value in values.items():
            rows[i, names.index(name)] = _code(pool, name, value)
    base = np.zeros((len(pool), len(names)))
    base[:, :len(pool.names)] = pool.values
    labels = None
    if pool.labels is not None:
        labels = (*pool.labels, *(_label(pool.kind, values) for _, values in external))
    ids = None if pool.ids is None else (*pool.ids, *(key for key, _ in external))
    return replace(pool, names=tuple(names), values=np.concatenate([base, rows]),
                   labels=labels, ids=ids)


def _code(pool: Pool, name: str, value: float | str) -> float:
    """A value of column ``name`` as the pool holds it (a categorical option's code)."""
    options = pool.categories.get(name)
    if options is None:
        return float(value)
    if str(value) not in options:
        raise ValueError(f"{value!r} is not an option of the categorical column {name!r}")
    return float(options.index(str(value)))


def _label(kind: str, values: Mapping[str, float | str]) -> str:
    if kind == "inputs":
        return input_label(values.items())
    return integer_formula(list(values), np.array([float(v) for v in values.values()]))
