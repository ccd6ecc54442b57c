"""Categorical columns of a table: each cell names an option (a solvent, a ligand's SMILES,
a number read as a label), held in the pool as its code, the option's place in the
column's sorted options.

Options are sorted so that codes do not depend on the order of the rows: as numbers when
every option of a column reads as one (``"2" < "10"``), else as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from matloop.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


def categorical_codes(frame: pd.DataFrame, columns: Sequence[str], field: str
                      ) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """Codes ``(N, len(columns))`` (floats 0, 1, ...) and each column's sorted options.

    ``ConfigError`` naming ``field`` for a column not in the table, or an empty cell with
    its row (1-based, as in a spreadsheet with its header on row 1) and column."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{field}: column(s) {missing} not in the CSV "
                          f"(it has {list(frame.columns)})")
    codes = np.empty((len(frame), len(columns)))
    categories: dict[str, tuple[str, ...]] = {}
    for j, column in enumerate(columns):
        texts = [option_text(value) for value in frame[column].tolist()]
        if "" in texts:
            raise ConfigError(f"{field}: row {texts.index('') + 2}, column {column!r}: "
                              "empty cell (a categorical cell names an option)")
        options = sorted_options(texts)
        index = {option: code for code, option in enumerate(options)}
        codes[:, j] = [index[text] for text in texts]
        categories[column] = options
    return codes, categories


def option_text(value: object) -> str:
    """A cell as an option's name: text stripped, a number as Python writes it, and ""
    for an empty cell (None, NaN, blank)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value).strip()


def sorted_options(texts: Iterable[str]) -> tuple[str, ...]:
    """The distinct options, by number when every one is a number, else as text."""
    distinct = set(texts)
    numbers = {text: value for text in distinct if (value := _number(text)) is not None}
    if len(numbers) == len(distinct):
        return tuple(sorted(distinct, key=lambda text: (numbers[text], text)))
    return tuple(sorted(distinct))


def find_option(options: Sequence[str], text: str) -> str | None:
    """The option ``text`` names: the same text, else the one option equal to it as a
    number (``"6.0"`` from a spreadsheet names the option ``"6"``); None when none is."""
    text = text.strip()
    if text in options:
        return text
    value = _number(text)
    if value is None:
        return None
    equal = [option for option in options if _number(option) == value]
    return equal[0] if len(equal) == 1 else None


def listed(options: Sequence[str], most: int = 8) -> str:
    """``'DMF', 'DMSO', 'water'`` for messages; long lists cut after ``most``."""
    shown = ", ".join(map(repr, options[:most]))
    return shown if len(options) <= most else f"{shown}, ... ({len(options)} in all)"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
