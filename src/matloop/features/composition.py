"""Compositions -> statistics of elemental properties (Magpie-style, vectorised).

Each composition row holds the atomic fractions of a fixed element list. For every
elemental property the featuriser returns five statistics over the elements present
(fraction > 0), in blocks by statistic::

    mean_<p>    fraction-weighted mean
    min_<p>     smallest value among present elements
    max_<p>     largest value among present elements
    range_<p>   max - min
    spread_<p>  fraction-weighted mean absolute deviation from the weighted mean

The elemental values come from pymatgen's bundled periodic table (no network). Values
pymatgen lacks (e.g. the electronegativity of He, Ne, Ar, the atomic radius of the
heavier noble gases and actinides) are filled with the mean of that property over every
element from H to Lr (Z = 1..103) that has a value. Features are raw, not scaled.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

# (feature name, unit); the order of the columns of the property table.
PROPERTIES: tuple[tuple[str, str], ...] = (
    ("electronegativity", "Pauling"),
    ("atomic_radius", "Å"),
    ("row", ""),
    ("group", ""),
    ("mendeleev_number", ""),
    ("valence_electrons", ""),
    ("atomic_mass", "amu"),
    ("melting_point", "K"),
    ("molar_volume", "cm^3/mol"),
    ("ionization_energy", "eV"),
)
# pymatgen ``Element`` attribute of each property (None: derived, see valence_electrons).
_ATTRIBUTES: dict[str, str | None] = {
    "electronegativity": "X",
    "atomic_radius": "atomic_radius",
    "row": "row",
    "group": "group",
    "mendeleev_number": "mendeleev_no",
    "valence_electrons": None,
    "atomic_mass": "atomic_mass",
    "melting_point": "melting_point",
    "molar_volume": "molar_volume",
    "ionization_energy": "ionization_energy",
}
STATISTICS: tuple[str, ...] = ("mean", "min", "max", "range", "spread")
FILL_RANGE_Z = range(1, 104)  # H .. Lr: the elements whose property means fill gaps
DEFAULT_CHUNK = 65536
CELL_BUDGET = 2**23  # max rows * E * p per chunk (64 MB of float64)
MAX_CODE_ELEMENTS = 62  # element sets fit an int64 bit code

_SUBSHELL = re.compile(r"(\d+)([spdfg])(\d+)")


def valence_electrons(symbol: str) -> float:
    """Electrons outside the preceding noble-gas core, from pymatgen's ground-state
    configuration, not counting filled 4f14/5f14 shells nor the filled d10 shell of
    p-block elements (groups 13-18).

    This equals the group number for groups 1-12 (Cu 11, Pd 10, Zn 12) and group - 10
    for groups 13-18 (Ga 3, O 6, Ne 8; He 2); lanthanides and actinides count their
    open f, d and s electrons (Ce 4, Gd 10, Yb 2, Lu 3). NaN if unparseable.
    """
    from pymatgen.core.periodic_table import Element

    element = Element(symbol)
    count = 0
    for part in str(element.electronic_structure).split("."):
        if part.startswith("["):
            continue
        match = _SUBSHELL.fullmatch(part)
        if match is None:
            return math.nan
        shell, electrons = match.group(2), int(match.group(3))
        if shell == "f" and electrons == 14:
            continue
        if shell == "d" and electrons == 10 and element.group >= 13:
            continue
        count += electrons
    return float(count)


@cache
def element_properties(symbol: str) -> tuple[float, ...]:
    """Raw property values of one element in ``PROPERTIES`` order (NaN where missing),
    as plain floats in the units of ``PROPERTIES``."""
    from pymatgen.core.periodic_table import Element

    element = Element(symbol)
    values = []
    for name, _unit in PROPERTIES:
        attribute = _ATTRIBUTES[name]
        if attribute is None:
            values.append(valence_electrons(symbol))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns about each missing value
            try:
                raw = getattr(element, attribute)
            except (AttributeError, KeyError, ValueError, TypeError):
                raw = None
        try:
            value = math.nan if raw is None else float(raw)  # drops pymatgen units
        except (TypeError, ValueError):
            value = math.nan
        values.append(value if math.isfinite(value) else math.nan)
    return tuple(values)


@lru_cache(maxsize=1)
def property_means() -> tuple[float, ...]:
    """Mean of each property over the elements Z = 1..103 that have a value."""
    from pymatgen.core.periodic_table import Element

    table = np.array([element_properties(Element.from_Z(z).symbol) for z in FILL_RANGE_Z])
    return tuple(float(v) for v in np.nanmean(table, axis=0))


def feature_names() -> tuple[str, ...]:
    """``("mean_electronegativity", ..., "spread_ionization_energy")``: 5 * p names."""
    return tuple(f"{stat}_{name}" for stat in STATISTICS for name, _unit in PROPERTIES)


@dataclass(frozen=True, eq=False)
class CompositionStatistics:
    """Featuriser for atomic fractions over ``symbols``.

    ``table`` is the filled property table ``(E, p)`` (row j: element ``symbols[j]``,
    columns in ``PROPERTIES`` order and units). ``transform`` works through the rows in
    chunks of ``chunk_size`` so memory stays bounded for large pools and element lists.
    """

    symbols: tuple[str, ...]
    table: np.ndarray
    names: tuple[str, ...]
    chunk_size: int = DEFAULT_CHUNK

    @classmethod
    def from_elements(cls, symbols: tuple[str, ...] | list[str],
                      chunk_size: int = DEFAULT_CHUNK) -> CompositionStatistics:
        """Look up the property table ``(E, p)`` for ``symbols`` once (gaps filled)."""
        from pymatgen.core.periodic_table import Element

        symbols = tuple(symbols)
        unknown = [s for s in symbols if not Element.is_valid_symbol(s)]
        if unknown:
            raise ValueError(f"unknown element(s): {', '.join(map(repr, unknown))}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        table = np.array([element_properties(s) for s in symbols],
                         dtype=np.float64).reshape(len(symbols), len(PROPERTIES))
        means = np.array(property_means())
        table = np.where(np.isnan(table), means, table)
        table.setflags(write=False)
        return cls(symbols=symbols, table=table, names=feature_names(),
                   chunk_size=int(chunk_size))

    @property
    def properties(self) -> tuple[str, ...]:
        """The p elemental properties, in the column order of ``table``."""
        return tuple(name for name, _unit in PROPERTIES)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Fractions ``(n, E)`` -> features ``(n, 5 * p)`` float64, blocks as in ``names``.

        Rows are normalised to sum to 1; negative, NaN or infinite fractions, or rows
        without any element, raise ``ValueError``. Rows go through in chunks of at most
        ``chunk_size`` rows, fewer when E is large (rows * E * p <= 2**23), so that the
        temporaries stay below ~64 MB each.
        """
        fractions = np.asarray(values, dtype=np.float64)
        n_elements, n_properties = self.table.shape
        if fractions.ndim != 2 or fractions.shape[1] != n_elements:
            raise ValueError(f"expected fractions of shape (n, {n_elements}), "
                             f"got {fractions.shape}")
        step = min(self.chunk_size,
                   max(256, CELL_BUDGET // max(1, n_elements * n_properties)))
        out = np.empty((fractions.shape[0], len(self.names)), dtype=np.float64)
        for start in range(0, fractions.shape[0], step):
            self._transform_chunk(fractions[start : start + step], out[start : start + step])
        return out

    def _transform_chunk(self, fractions: np.ndarray, out: np.ndarray) -> None:
        """Fill ``out`` ``(c, 5p)`` with the statistics of ``fractions`` ``(c, E)``."""
        if (fractions < 0).any():
            raise ValueError("fractions must not be negative")
        total = fractions.sum(axis=1, keepdims=True)
        if not (np.isfinite(total) & (total > 0)).all():  # NaN and inf too
            raise ValueError("every composition needs finite fractions with a positive sum")
        weights = fractions / total
        present = weights > 0
        n_elements = weights.shape[1]
        if n_elements <= MAX_CODE_ELEMENTS and 4 * np.count_nonzero(present) >= present.size:
            _statistics_dense(weights, present, self.table, out)
        else:
            _statistics_sparse(weights, present, self.table, out)


def _statistics_dense(weights: np.ndarray, present: np.ndarray, table: np.ndarray,
                      out: np.ndarray) -> None:
    """Statistics for few elements (E <= 62) present in many rows.

    ``weights`` ``(c, E)`` rows sum to 1, ``present`` is ``weights > 0``, ``table``
    ``(E, p)``, ``out`` ``(c, 5p)``. Min and max are computed once per distinct set of
    present elements (at most 2^E - 1, far fewer than rows on a grid) and gathered back;
    the spread is a loop over the E columns of whole-array operations. Everything is
    computed transposed, ``(5p, c)``, so numpy's inner loops run along the rows.
    """
    p = table.shape[1]
    table_t = np.ascontiguousarray(table.T)  # (p, E)
    weights_t = np.ascontiguousarray(weights.T)  # (E, c)
    stats = np.empty((5 * p, weights.shape[0]))
    mean, low, high, spread = stats[0:p], stats[p : 2 * p], stats[2 * p : 3 * p], stats[4 * p :]
    np.dot(table_t, weights_t, out=mean)  # np.dot uses BLAS (matmul is slower here)

    bits = np.left_shift(np.int64(1), np.arange(weights.shape[1], dtype=np.int64))
    codes = np.dot(present.astype(np.int64), bits)  # (c,) bit set of present elements
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    subsets = present[first][:, :, None]  # (u, E, 1)
    inverse = inverse.reshape(-1)
    np.take(np.where(subsets, table, np.inf).min(axis=1).T, inverse, axis=1, out=low)
    np.take(np.where(subsets, table, -np.inf).max(axis=1).T, inverse, axis=1, out=high)
    np.subtract(high, low, out=stats[3 * p : 4 * p])

    spread[...] = 0.0
    deviation = np.empty_like(mean)
    for j in np.flatnonzero(present.any(axis=0)):
        np.subtract(table_t[:, j : j + 1], mean, out=deviation)
        np.abs(deviation, out=deviation)
        deviation *= weights_t[j]  # zero where element j is absent
        spread += deviation
    out[...] = stats.T


def _statistics_sparse(weights: np.ndarray, present: np.ndarray, table: np.ndarray,
                       out: np.ndarray) -> None:
    """Statistics for many elements with few present per row (formula tables).

    Same arguments as ``_statistics_dense``. The present (row, element) pairs are listed
    row by row, like a CSR matrix, and each statistic is one segmented reduction
    (``ufunc.reduceat``), so the work grows with the number of present pairs, not with E.
    """
    p = table.shape[1]
    rows, columns = np.nonzero(present)  # sorted by row; every row has an entry
    starts = np.flatnonzero(np.diff(rows, prepend=-1))  # (c,) first pair of each row
    values = table[columns]  # (nnz, p)

    mean = out[:, 0:p]
    mean[...] = np.dot(weights, table)
    np.minimum.reduceat(values, starts, axis=0, out=out[:, p : 2 * p])
    np.maximum.reduceat(values, starts, axis=0, out=out[:, 2 * p : 3 * p])
    np.subtract(out[:, 2 * p : 3 * p], out[:, p : 2 * p], out=out[:, 3 * p : 4 * p])
    deviation = values
    np.subtract(values, mean[rows], out=deviation)
    np.abs(deviation, out=deviation)
    deviation *= weights[rows, columns][:, None]
    np.add.reduceat(deviation, starts, axis=0, out=out[:, 4 * p : 5 * p])
