"""``matloop propose``: a lab batch as a file to fill in (CSV, and XLSX on request).

Columns: ``candidate_id``, ``candidate`` (in words), the columns that describe it (the
inputs, a categorical one by its option's name, or ``formula``; the id column when the
space has one; ``structure``, the structure's name, for a structure space), ``cycle``, the
model's ``predicted_<p> [unit]`` and ``std_<p> [unit]`` per target property (empty for
the initial design), ``hit_probability`` with range targets and
``success_probability`` once failures are learnt, then the EMPTY result columns
``<p> [unit]``, ``status`` (``ok`` / ``failed``) and ``note``. For a structure space,
each proposed structure is also written as ``<batch file stem>-structures/<candidate_id>.cif``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from matloop.campaigns.schema import Campaign
from matloop.lab.results import (
    FIDELITY_COLUMN,
    TARGET,
    describing_columns,
    formula_column,
    lab_fidelities,
)
from matloop.lab.sheets import result_header
from matloop.spaces.pool import Pool, integer_formula

if TYPE_CHECKING:
    import pandas as pd

    from matloop.store import AwaitingRow


@dataclass(frozen=True)
class Proposed:
    """The files written, how many candidates they list, whether the batch is new, and
    why nothing new was proposed (budget, pool exhausted, stopping rule) when so."""

    paths: list[Path]
    count: int
    new: bool
    stop_reason: str
    kept: list[Path] = field(default_factory=list)  # not rewritten: results filled in


def write_proposed(campaign: Campaign, pool: Pool, awaiting: Sequence[AwaitingRow],
                   new: bool, stop_reason: str, out: Path | None = None, xlsx: bool = False
                   ) -> Proposed:
    """Write the awaiting evaluations (``Session.propose_batch``) for the lab: only the
    newest batch when ``new`` (older ones have their files), else every awaiting batch
    (one file per cycle, or all in ``out``). A file with results filled in is kept."""
    cycles = sorted({row.cycle for row in awaiting})
    groups: list[tuple[int, list[AwaitingRow]]]
    if new:
        groups = [(cycles[-1], [r for r in awaiting if r.cycle == cycles[-1]])]
    elif out is not None:
        groups = [(cycles[-1], list(awaiting))] if cycles else []
    else:
        groups = [(c, [r for r in awaiting if r.cycle == c]) for c in cycles]
    paths, kept = [], []
    filled_in = {*result_columns(campaign), "status", "note"}
    for cycle, rows in groups:
        path = out if out is not None else default_path(campaign, cycle)
        filled = [p for p in _targets(path, xlsx) if has_results(p, filled_in)]
        if filled:  # the lab's work is never overwritten
            kept += filled
            continue
        paths += write_batch(campaign, pool, rows, path, xlsx)
    return Proposed(paths, sum(len(rows) for _, rows in groups), new, stop_reason, kept)


def batch_frame(campaign: Campaign, pool: Pool, awaiting: Sequence[AwaitingRow]
                ) -> pd.DataFrame:
    """The batch file as a DataFrame: the same columns, numbers as numbers (NaN where
    empty), the result columns empty for the lab to fill in."""
    import pandas as pd

    columns = header(campaign, pool)
    text_columns = {"candidate", "status", "note", FIDELITY_COLUMN,
                    *describing_columns(campaign, pool)}
    rows = [[cell if name in text_columns else _frame_number(cell)
             for name, cell in zip(columns, row, strict=True)]
            for row in rows_of(campaign, pool, awaiting)]
    frame = pd.DataFrame(rows, columns=columns)
    if pool.kind == "inputs":
        for name in describing_columns(campaign, pool):
            if name in pool.names and name not in pool.categories:
                frame[name] = pd.to_numeric(frame[name])
    return frame


def _frame_number(text: str) -> float | int:
    if text == "":
        return float("nan")
    return int(text) if text.lstrip("-").isdigit() else float(text)


def _targets(path: Path, xlsx: bool) -> list[Path]:
    csv_path = path.with_suffix(".csv") if path.suffix.lower() == ".xlsx" else path
    return [csv_path, csv_path.with_suffix(".xlsx")] if xlsx else [csv_path]


def has_results(path: Path, filled_in: set[str]) -> bool:
    """True when ``path`` exists and one of its ``filled_in`` columns (results, status,
    note) has a value."""
    from matloop.errors import ConfigError
    from matloop.lab.sheets import read_sheet

    if not path.exists():
        return False
    try:
        sheet = read_sheet(path)
    except ConfigError:
        return False
    columns = [j for j, text in enumerate(sheet.header) if text in filled_in]
    return any(row[j].strip() for row in sheet.rows for j in columns)


def default_path(campaign: Campaign, cycle: int) -> Path:
    """``<name>-batch-<cycle>.csv`` beside the campaign file."""
    return campaign.base_dir / f"{campaign.campaign.name}-batch-{cycle}.csv"


def header(campaign: Campaign, pool: Pool) -> list[str]:
    """The columns of a batch file, in order."""
    columns = ["candidate_id", "candidate", *describing_columns(campaign, pool),
               *([FIDELITY_COLUMN] if lab_fidelities(campaign) else []), "cycle"]
    units = _units(campaign)
    for name in campaign.properties:
        columns += [result_header(f"predicted_{name}", units[name]),
                    result_header(f"std_{name}", units[name])]
    if any(not t.optimised for t in campaign.targets):
        columns.append("hit_probability")
    columns.append("success_probability")
    return [*columns, *result_columns(campaign), "status", "note"]


def result_columns(campaign: Campaign) -> list[str]:
    """The columns a batch file leaves for the lab's values: ``<property> [unit]``."""
    units = _units(campaign)
    return [result_header(name, units[name]) for name in campaign.properties]


def rows_of(campaign: Campaign, pool: Pool, awaiting: Sequence[AwaitingRow]
            ) -> list[list[str]]:
    """One row per awaiting evaluation (text cells, numbers in full precision)."""
    out = []
    ranges = any(not t.optimised for t in campaign.targets)
    for item in awaiting:
        index = item.pool_index
        lab = item.provenance.get("lab", {})
        mean, std = lab.get("mean", {}), lab.get("std", {})
        cells = [str(item.candidate_id), item.label, *_description(campaign, pool, index),
                 *([item.fidelity or TARGET] if lab_fidelities(campaign) else []),
                 str(item.cycle)]
        for name in campaign.properties:
            cells += [_number(mean.get(name)), _number(std.get(name))]
        if ranges:
            cells.append(_number(lab.get("hit_probability")))
        cells.append(_number(lab.get("success_probability")))
        cells += [""] * len(campaign.properties) + ["", ""]
        out.append(cells)
    return out


def write_batch(campaign: Campaign, pool: Pool, awaiting: Sequence[AwaitingRow],
                path: Path, xlsx: bool = False) -> list[Path]:
    """Write the batch as CSV at ``path`` (and beside it as .xlsx when asked); the paths."""
    columns = header(campaign, pool)
    rows = rows_of(campaign, pool, awaiting)
    path.parent.mkdir(parents=True, exist_ok=True)
    csv_path = path.with_suffix(".csv") if path.suffix.lower() == ".xlsx" else path
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    paths = [csv_path]
    if xlsx:
        paths.append(_write_xlsx(csv_path.with_suffix(".xlsx"), columns, rows))
    if pool.kind == "structures":
        paths.append(_write_structures(csv_path.with_name(f"{csv_path.stem}-structures"),
                                       pool, awaiting))
    return paths


def _write_structures(folder: Path, pool: Pool, awaiting: Sequence[AwaitingRow]) -> Path:
    """Each awaiting structure as ``folder/<candidate_id>.cif``; the folder."""
    if pool.structures is None:
        raise ValueError("a structure pool without structures")
    folder.mkdir(parents=True, exist_ok=True)
    for item in awaiting:
        structure = pool.structures[item.pool_index]
        structure.to(filename=str(folder / f"{item.candidate_id}.cif"), fmt="cif")
    return folder


def _write_xlsx(path: Path, columns: list[str], rows: list[list[str]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "batch"
    sheet.append(columns)
    for row in rows:
        sheet.append([_cell(value) for value in row])
    book.save(path)
    return path


def _cell(text: str) -> float | int | str | None:
    """Numbers as numbers in a workbook, so that a spreadsheet can sort them."""
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if text.lstrip("-").isdigit() else value


def _description(campaign: Campaign, pool: Pool, index: int) -> list[str]:
    """The describing cells of pool row ``index``, in ``describing_columns`` order."""
    if pool.kind == "structures":
        return [pool.key(index)]
    out = []
    for column in describing_columns(campaign, pool):
        if pool.ids is not None and column not in pool.names and \
                column != formula_column(campaign):
            out.append(pool.ids[index])
        elif pool.kind == "inputs":
            value = pool.values[index, pool.names.index(column)]
            options = pool.categories.get(column)
            out.append(options[int(value)] if options else repr(float(value)))
        elif pool.labels is not None and pool.ids is None:
            out.append(pool.labels[index])
        else:
            out.append(integer_formula(pool.names, pool.values[index]))
    return out


def _units(campaign: Campaign) -> dict[str, str | None]:
    units: dict[str, str | None] = dict.fromkeys(campaign.properties)
    for target in campaign.targets:
        units[target.property] = units[target.property] or target.unit
    return units


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))
