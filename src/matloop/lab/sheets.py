"""Results sheets as text cells: read from CSV or XLSX files or from a pandas DataFrame,
and the ``<property> [unit]`` column headers they use."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matloop.errors import ConfigError, DataError

SUFFIXES = (".csv", ".xlsx")
_HEADER = re.compile(r"^\s*([^\[\]]*?)\s*(?:\[\s*([^\[\]]*?)\s*\])?\s*$")


@dataclass(frozen=True)
class Sheet:
    """A results file as text cells: ``header`` (row 1) and ``rows`` (rows 2, 3, ...),
    every row as long as the header ("" for an empty cell)."""

    path: Path
    header: list[str]
    rows: list[list[str]]


def read_sheet(path: Path) -> Sheet:
    """The cells of a CSV or XLSX file; ``ConfigError`` when it is missing, of another
    kind, unreadable or empty."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        got = suffix or "no suffix"
        raise ConfigError(f"{path}: results files are .csv or .xlsx (got {got}); nothing "
                          "was imported")
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; nothing was imported")
    table = _read_csv(path) if suffix == ".csv" else _read_xlsx(path)
    table = [row for row in table if any(cell.strip() for cell in row)]
    if not table:
        raise ConfigError(f"{path}: the file is empty; nothing was imported")
    header = [cell.strip() for cell in table[0]]
    width = len(header)
    rows = [row + [""] * (width - len(row)) for row in table[1:]]
    if not rows:
        raise ConfigError(f"{path}: the file has a header but no rows; nothing was imported")
    return Sheet(path, header, rows)


def sheet_from_frame(frame: Any, name: str = "<DataFrame>") -> Sheet:
    """A pandas DataFrame as a sheet: its columns are the header, each row a result row
    (numbers in full precision, NaN and None as empty cells); ``DataError`` when empty."""
    header = [str(column).strip() for column in frame.columns]
    rows = [[_frame_cell(value) for value in row]
            for row in frame.itertuples(index=False, name=None)]
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{name}: no rows with results; nothing was imported")
    return Sheet(Path(name), header, rows)


def _frame_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    text = str(value)
    return "" if text in ("nan", "NaN", "<NA>", "NaT") else text


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return [list(row) for row in csv.reader(handle)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read it as CSV text ({exc}); nothing was "
                          "imported") from None


def _read_xlsx(path: Path) -> list[list[str]]:
    """The first worksheet's cells as text (numbers as Python writes them)."""
    try:
        from openpyxl import load_workbook
    except ImportError:
        raise ConfigError("reading .xlsx needs openpyxl (pip install openpyxl)") from None
    from zipfile import BadZipFile

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable .xlsx workbook ({exc}); nothing was "
                          "imported") from None
    try:
        sheet = book.worksheets[0]
        return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def split_header(text: str) -> tuple[str, str | None]:
    """``"bulk_modulus [GPa]"`` -> ``("bulk_modulus", "GPa")``; no brackets -> unit None."""
    match = _HEADER.match(text)
    if match is None:
        return text.strip(), None
    return match.group(1), match.group(2)


def result_header(name: str, unit: str | None) -> str:
    """The header of a result column: ``bulk_modulus [GPa]``, or the name without a unit."""
    return f"{name} [{unit}]" if unit else name


def same_unit(a: str, b: str) -> bool:
    """Units equal up to spaces, ``Å``/``A``, ``^`` and ``**``."""
    def plain(unit: str) -> str:
        return unit.replace(" ", "").replace("Å", "A").replace("^", "").replace("**", "")

    return plain(a) == plain(b)
