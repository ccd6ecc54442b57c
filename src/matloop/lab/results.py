"""Reading a lab's results file (CSV or XLSX) and checking every cell against a campaign.

Nothing here writes: ``check`` turns a ``Sheet`` into the list of results to store, or
raises one ``ConfigError`` that lists every problem (spreadsheet row numbers: the header
is row 1, the first result row 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matloop.campaigns.schema import Campaign, TableSpace
from matloop.errors import DataError
from matloop.lab import cells
from matloop.lab.sheets import Sheet, result_header, same_unit, split_header
from matloop.spaces.pool import Pool, candidate_key, input_key, input_label

STATUSES = ("ok", "failed")
STRUCTURE_COLUMN = "structure"  # a structure pool's candidate name, in batch files
FIDELITY_COLUMN = "fidelity"  # which source measured a row, with lab sources
TARGET = "target"  # that column's name for the campaign's own oracle


def lab_fidelities(campaign: Campaign) -> list[str]:
    """The ``[[fidelities]]`` sources that are labs too: their evaluations await results
    as the campaign's own do, and sheets then have a ``fidelity`` column."""
    return [f.name for f in campaign.fidelities if f.oracle.kind == "lab"]


@dataclass(frozen=True)
class Problem:
    """One bad cell (or row, or file): where it is, what it holds, why it is wrong."""

    why: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        value = f"{self.value!r}: " if self.value is not None else ""
        return (", ".join(where) + ": " if where else "") + value + self.why


@dataclass(frozen=True)
class Known:
    """What the store knows of the campaign (empty before its first run or import).

    ``candidates``: store candidate id -> (key, label, pool index); ``awaiting``: (key,
    fidelity: None for the campaign's own oracle) -> awaiting evaluation ids, oldest
    first; ``external``: outside-pool candidates already stored, key -> pool index;
    ``cycle``: the cycle a new evaluation is filed under."""

    candidates: Mapping[int, tuple[str, str, int]] = field(default_factory=dict)
    awaiting: Mapping[tuple[str, str | None], list[int]] = field(default_factory=dict)
    external: Mapping[str, int] = field(default_factory=dict)
    cycle: int = -1
    imported: frozenset[str] = frozenset()  # digests of the results imported before


@dataclass(frozen=True)
class Result:
    """One checked row: the candidate (key, label, pool index, values when outside the
    pool), its values in the target units, or a failure with its note, and the source
    that measured it (``fidelity``: None for the campaign's own oracle)."""

    row: int
    key: str
    label: str
    pool_index: int
    values: dict[str, float]
    failed: bool
    note: str
    external: dict[str, float | str] | None = None
    fidelity: str | None = None


@dataclass(frozen=True)
class Checked:
    """A valid file: its ``results`` in file order and the rows left blank (not measured)."""

    results: list[Result]
    blank: list[int]
    units: dict[str, str]


def describing_columns(campaign: Campaign, pool: Pool) -> list[str]:
    """The columns that name a candidate in words: the inputs (numeric, then
    categorical), the formula column (and the id column when the space has one), or
    ``structure`` (the structure's name in the pool)."""
    space = campaign.space
    id_column = space.id if isinstance(space, TableSpace) else None
    if pool.kind == "structures":
        return [STRUCTURE_COLUMN]
    if pool.kind == "inputs":
        names = space.columns if isinstance(space, TableSpace) else list(pool.names)
    else:
        names = [formula_column(campaign)]
    return ([id_column] if id_column else []) + names


def formula_column(campaign: Campaign) -> str:
    space = campaign.space
    return (space.composition or "formula") if isinstance(space, TableSpace) else "formula"


class _Checker:
    """Checks one sheet; collects every problem instead of stopping at the first."""

    def __init__(self, sheet: Sheet, campaign: Campaign, pool: Pool, known: Known,
                 allow_new: bool, pool_keys: Callable[[], Mapping[str, int]]) -> None:
        self.sheet, self.campaign, self.pool, self.known = sheet, campaign, pool, known
        self.allow_new = allow_new
        self.pool_keys = pool_keys
        self.problems: list[Problem] = []
        self.columns = {name: j for j, name in enumerate(sheet.header)}
        self.new_external: dict[str, int] = {}

    def problem(self, why: str, row: int | None = None, column: str | None = None,
                value: str | None = None) -> None:
        self.problems.append(Problem(why, row, column, value))

    # --- the header ------------------------------------------------------------------

    def result_columns(self) -> tuple[dict[str, int], dict[str, str]]:
        """Target property -> column index and unit (the target's)."""
        found: dict[str, int] = {}
        units: dict[str, str] = {}
        wanted = {t.property: t.unit for t in self.campaign.targets}
        for j, text in enumerate(self.sheet.header):
            name, unit = split_header(text)
            if name not in wanted:
                continue
            target_unit = wanted[name]
            if name in found:
                self.problem(f"a second column for {name}", 1, text)
            elif target_unit and unit is None:
                self.problem(f"write the unit: {result_header(name, target_unit)!r} "
                             "(the campaign's unit)", 1, text)
            elif target_unit and unit is not None and not same_unit(unit, target_unit):
                self.problem(f"the unit {unit!r} is not the campaign's unit {target_unit!r} "
                             f"for {name}; convert the values and write "
                             f"{result_header(name, target_unit)!r}", 1, text)
            else:
                found[name] = j
                units[name] = target_unit or unit or ""
        for name, unit in wanted.items():
            if name not in found and not any(split_header(h)[0] == name
                                             for h in self.sheet.header):
                self.problem(f"missing required column {result_header(name, unit)!r}")
        return found, {k: v for k, v in units.items() if v}

    def identity_columns(self) -> list[str]:
        describing = describing_columns(self.campaign, self.pool)
        if "candidate_id" not in self.columns:
            missing = [c for c in describing if c not in self.columns]
            if missing:
                self.problem("missing required column(s): 'candidate_id' or "
                             + ", ".join(map(repr, missing)))
        return describing

    # --- rows ------------------------------------------------------------------------

    def cell(self, row: list[str], column: str) -> str:
        j = self.columns.get(column)
        return "" if j is None else row[j].strip()

    def check(self) -> Checked:
        results_at, units = self.result_columns()
        describing = self.identity_columns()
        results: list[Result] = []
        blank: list[int] = []
        if self.problems:
            self.raise_problems()
        for i, row in enumerate(self.sheet.rows):
            number = i + 2
            result = self.check_row(number, row, results_at, describing)
            if result == "blank":
                blank.append(number)
            elif isinstance(result, Result):
                results.append(result)
        self.check_contradictions(results)
        if self.problems:
            self.raise_problems()
        return Checked(results, blank, units)

    def source(self, number: int, row: list[str]) -> tuple[str | None, set[str]] | None:
        """The row's source (None: the campaign's own oracle) and the properties it
        measures; None (with a problem) when the campaign has no such source."""
        text = self.cell(row, FIDELITY_COLUMN)
        if text in ("", TARGET):
            return None, set(self.campaign.properties)
        for fidelity in self.campaign.fidelities:
            if fidelity.name == text:
                return text, set(self.campaign.measured_by(fidelity))
        names = [TARGET, *(f.name for f in self.campaign.fidelities)]
        self.problem(f"is not a source of this campaign ({', '.join(names)})", number,
                     FIDELITY_COLUMN, text)
        return None

    def check_row(self, number: int, row: list[str], results_at: Mapping[str, int],
                  describing: list[str]) -> Result | str | None:
        status = self.cell(row, "status").lower()
        note = self.cell(row, "note")
        found = self.source(number, row)
        if found is None:
            return None
        fidelity, measured = found
        values: dict[str, float] = {}
        empty: list[str] = []
        for name, j in results_at.items():
            text = row[j].strip()
            if name not in measured:
                if text:
                    self.problem(f"{fidelity} does not measure {name}: leave it empty",
                                 number, self.sheet.header[j], text)
                continue
            if not text:
                empty.append(name)
                continue
            value = cells.number(text)
            if value is None:
                self.problem("is not a number", number, self.sheet.header[j], text)
            elif not math.isfinite(value):
                self.problem("is not a finite number (a failed sample is status 'failed')",
                             number, self.sheet.header[j], text)
            elif cells.too_large(value):
                self.problem(f"is beyond {cells.MAX_MAGNITUDE:g} in size (not a "
                             "measurement the models can use)", number,
                             self.sheet.header[j], text)
            else:
                values[name] = value
        if status not in ("", *STATUSES):
            self.problem("status must be 'ok', 'failed' or empty (not measured yet)",
                         number, "status", status)
            return None
        wanted = len([name for name in results_at if name in measured])
        if status == "" and len(empty) == wanted and not note:
            return "blank"
        failed = status == "failed"
        if not failed and empty:
            why = ("the row is ok but has no values" if len(empty) == wanted
                   else "empty: an ok row needs every property its source measures")
            for name in empty:
                self.problem(why, number, self.sheet.header[results_at[name]], "")
        if failed and (values or len(empty) < wanted):
            self.problem("a failed row must not have values (leave them empty, or mark "
                         "the row 'ok')", number, "status", status)
        candidate = self.identify(number, row, describing)
        if candidate is None or (not failed and empty):
            return None
        key, label, index, external = candidate
        return Result(number, key, label, index, values, failed, note, external, fidelity)

    def identify(self, number: int, row: list[str], describing: list[str]
                 ) -> tuple[str, str, int, dict[str, float | str] | None] | None:
        """The row's candidate: by ``candidate_id``, else by its description; both must
        agree when both are given."""
        given = [c for c in describing if self.cell(row, c)]
        described = self.describe(number, row, describing) if given else None
        if given and described is None:
            return None
        text = self.cell(row, "candidate_id")
        if text:
            ident = cells.integer(text)
            stored = self.known.candidates.get(ident) if ident is not None else None
            if stored is None:
                self.problem("unknown candidate id (not a candidate of this campaign)",
                             number, "candidate_id", text)
                return None
            key, label, index = stored
            if described is not None and described[0] != key:
                self.problem(f"candidate {ident} is {label!r}, but the row describes "
                             f"{described[1]!r}", number, "candidate_id", text)
                return None
            return key, label, index, None
        if described is None:
            self.problem("no candidate: give candidate_id or " + ", ".join(describing),
                         number)
            return None
        return self.locate(number, *described)

    def describe(self, number: int, row: list[str], describing: list[str]
                 ) -> tuple[str, str, dict[str, float | str]] | None:
        """(key, label, values) of the candidate the row describes, keyed as the pool
        keys it; None (with problems) when a cell is missing or bad."""
        space = self.campaign.space
        id_column = space.id if isinstance(space, TableSpace) else None
        names = [c for c in describing if c != id_column]
        bad = len(self.problems)
        if self.pool.kind == "structures":
            key = self.cell(row, STRUCTURE_COLUMN)
            index = self.pool_keys().get(key)
            if index is None:
                self.problem("is not a structure of this campaign's pool (a structure "
                             "space takes only its own candidates: add new structures to "
                             "its files)", number, STRUCTURE_COLUMN, key)
                return None
            return key, self.pool.candidate(index).label, {}
        values: dict[str, float | str] = {}
        if self.pool.kind == "inputs":
            for name in names:
                value = self.input_value(number, name, self.cell(row, name))
                if value is not None:
                    values[name] = value
            if len(self.problems) > bad:
                return None
            key = input_key(values.items())
            label = input_label(values.items())
        else:
            text = self.cell(row, names[0])
            parsed = cells.formula(text)
            if parsed is None:
                self.problem("is not a chemical formula", number, names[0], text)
                return None
            values = dict(parsed)
            key = candidate_key("composition", list(parsed), np.array(list(parsed.values())))
            label = text
        if id_column is not None:
            key = self.cell(row, id_column)
            if not key:
                self.problem("empty id", number, id_column, "")
                return None
            label = f"{label} ({key})"
        return key, label, values

    def input_value(self, number: int, name: str, text: str) -> float | str | None:
        """A row's input ``name``: a finite number, or one of a categorical column's
        options; None (with a problem) otherwise."""
        value, why = cells.input_cell(text, self.pool.categories.get(name), name)
        if value is None:
            self.problem(why, number, name, text)
        return value

    def locate(self, number: int, key: str, label: str, values: dict[str, float | str]
               ) -> tuple[str, str, int, dict[str, float | str] | None] | None:
        """The pool row (or stored outside candidate) of ``key``; with ``allow_new`` a
        new outside candidate, else a problem."""
        index = self.pool_keys().get(key)
        if index is not None:
            return key, self.pool.candidate(index).label, index, None
        if key in self.known.external:
            return key, label, self.known.external[key], None
        if not self.allow_new:
            self.problem(f"{label!r} is not a candidate of this campaign's pool (allow new "
                         "candidates to add measured ones from outside it)", number)
            return None
        if key not in self.new_external:
            self.new_external[key] = len(self.pool) + len(self.new_external)
        return key, label, self.new_external[key], values

    def check_contradictions(self, results: Sequence[Result]) -> None:
        """Rows of one candidate (at one source) must agree on whether it could be made."""
        first: dict[tuple[str, str | None], Result] = {}
        for result in results:
            seen = first.setdefault((result.key, result.fidelity), result)
            if seen.failed != result.failed:
                self.problem(f"contradicts row {seen.row} for {result.label!r} (one says "
                             "'ok', the other 'failed')", result.row, "status",
                             "failed" if result.failed else "ok")

    def raise_problems(self) -> None:
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        raise DataError(f"{self.sheet.path}: {count} problem{'s' * (count != 1)}; nothing "
                        f"was imported:\n{lines}", [str(p) for p in self.problems])


def check(sheet: Sheet, campaign: Campaign, pool: Pool, known: Known, allow_new: bool,
          pool_keys: Callable[[], Mapping[str, int]]) -> Checked:
    """Every row checked: the results to store, or ``DataError`` listing every problem.

    ``pool_keys()`` gives candidate key -> pool row (built only when a row needs it)."""
    return _Checker(sheet, campaign, pool, known, allow_new, pool_keys).check()
