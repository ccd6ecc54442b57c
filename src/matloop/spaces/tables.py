"""Tables of candidates (a CSV file or a pandas DataFrame): numeric and categorical input
columns or a formula column, checked cell by cell with the row and column of any problem.

A pool of inputs has the numeric ``inputs`` first, then the ``categorical`` columns, each
list in the order given; a categorical column holds codes into its sorted options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.schema import TableSpace
from matloop.errors import ConfigError
from matloop.protocols import MAX_MAGNITUDE
from matloop.spaces.categories import categorical_codes
from matloop.spaces.pool import Pool, input_label, input_values, unique_rows

if TYPE_CHECKING:
    import pandas as pd


def table_pool(space: TableSpace) -> Pool:
    """Rows of a CSV, one candidate per distinct key (the first row of a repeat is kept)."""
    if space.frame is not None:
        frame = space.frame
    else:
        assert space.path is not None  # the schema requires one of them
        frame = read_table(space.path, "space.path")
    pool = unique_rows(read_table_pool(frame, space.inputs, space.composition, space.id,
                                       space.categorical))
    if not space.descriptors:
        return pool
    described = {column: descriptor_table(path, column, pool.categories[column],
                                          f"space.descriptors.{column}")
                 for column, path in space.descriptors.items()}
    return replace(pool, descriptors=described)


def descriptor_table(path: Path, column: str, options: Sequence[str], field: str
                     ) -> tuple[tuple[str, ...], np.ndarray]:
    """A categorical column's descriptors: their names and ``(options, descriptors)`` in
    the order of ``options``. The CSV's first column names the option (as the table's
    cells do), the others are finite numbers; every option needs its row, once."""
    from matloop.spaces.categories import option_text

    frame = read_table(path, field)
    if frame.shape[1] < 2:
        raise ConfigError(f"{field}: {path} needs a column of options and at least one "
                          "column of numbers")
    first, names = frame.columns[0], [str(c) for c in frame.columns[1:]]
    given = [option_text(v) for v in frame[first].tolist()]
    repeated = sorted({o for o in given if given.count(o) > 1})
    if repeated:
        raise ConfigError(f"{field}: {path} describes {repeated} more than once")
    missing = [o for o in options if o not in given]
    if missing:
        raise ConfigError(f"{field}: {path} has no row for {len(missing)} option(s) of "
                          f"column {column!r}: {', '.join(map(repr, missing[:10]))}"
                          + (" ..." if len(missing) > 10 else ""))
    numbers = numeric_columns(frame, names, field)
    rows = [given.index(option) for option in options]
    return tuple(names), numbers[rows]


def read_table_pool(frame: pd.DataFrame, inputs: Sequence[str] | None,
                    composition: str | None, id_column: str | None,
                    categorical: Sequence[str] | None = None) -> Pool:
    """Every row of a table as a candidate (repeats kept), labelled for people: the
    ``inputs`` and ``categorical`` columns (numeric, then categorical), or a
    ``composition`` formula column."""
    ids = None
    if id_column is not None:
        if id_column not in frame.columns:
            raise ConfigError(f"space.id: column {id_column!r} not in the CSV "
                              f"(it has {list(frame.columns)})")
        ids = tuple(frame[id_column].fillna("").astype(str))
        if "" in ids:
            raise ConfigError(f"space.id: row {ids.index('') + 2}, column {id_column!r}: "
                              "empty id")
    if inputs is not None or categorical is not None:
        numbers = numeric_columns(frame, list(inputs or []), "space.inputs")
        codes, categories = categorical_codes(frame, list(categorical or []),
                                              "space.categorical")
        names = (*(inputs or ()), *(categorical or ()))
        values = np.concatenate([numbers, codes], axis=1)
        labels = None if ids is None else tuple(
            f"{i} ({input_label(input_values(names, row, categories))})"
            for i, row in zip(ids, values, strict=True))
        return Pool(kind="inputs", names=names, values=values, labels=labels, ids=ids,
                    categories=categories)
    column = composition or ""
    if column not in frame.columns:
        raise ConfigError(f"space.composition: column {column!r} not in the CSV "
                          f"(it has {list(frame.columns)})")
    formulas = frame[column].fillna("").tolist()
    elements, fractions = formula_fractions(formulas, "space.composition", column)
    labels = tuple(formulas) if ids is None else tuple(
        f"{f} ({i})" for f, i in zip(formulas, ids, strict=True))
    return Pool(kind="composition", names=elements, values=fractions, labels=labels, ids=ids)


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
    spreadsheet with its header on row 1) and column. Numbers beyond ``MAX_MAGNITUDE`` in size
    are refused (scaling them to the unit box would overflow)."""
    import pandas as pd

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{field}: column(s) {missing} not in the CSV "
                          f"(it has {list(frame.columns)})")
    out = np.empty((len(frame), len(columns)))
    for j, column in enumerate(columns):
        parsed = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = ~(np.abs(parsed) <= MAX_MAGNITUDE)
        if allow_missing:
            bad &= frame[column].notna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise ConfigError(f"{field}: row {row + 2}, column {column!r}: "
                              f"{frame[column].iloc[row]!r} is not a finite number of size "
                              f"at most {MAX_MAGNITUDE:g}")
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
