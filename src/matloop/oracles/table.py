"""Table oracle: look each property up in a CSV (replaying a known dataset).

The oracle holds only the file path and column names; the table is read once per
process and indexed by candidate key. Repeated rows of one candidate are averaged.
A missing value is a failed evaluation (reason ``invalid``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matloop.protocols import Candidate, Outcome


@dataclass(frozen=True)
class TableOracle:
    """Properties of a candidate read from ``path``.

    ``inputs`` names the numeric input columns, or ``composition`` the formula column,
    and ``id`` the identifying column, exactly as in the table space; ``properties`` are
    the columns to return.
    """

    path: Path
    properties: tuple[str, ...]
    inputs: tuple[str, ...] | None = None
    composition: str | None = None
    id: str | None = None

    def evaluate(self, candidate: Candidate) -> Outcome:
        row = self._table().get(candidate.key)
        if row is None:
            return Outcome.failure("invalid", f"{candidate.label!r} is not in {self.path.name}")
        missing = [p for p, v in row.items() if not math.isfinite(v)]
        if missing:
            return Outcome.failure("invalid", f"{self.path.name} has no value of "
                                   f"{', '.join(missing)} for {candidate.label!r}")
        return Outcome.success(row, provenance={"oracle": "table", "file": str(self.path)})

    def check(self) -> None:
        """Raise ``ConfigError`` if the file lacks a property column (before any run)."""
        self._table()

    def _table(self) -> Mapping[str, dict[str, float]]:
        return _index(self.path, self.properties, self.inputs, self.composition, self.id)


@functools.lru_cache(maxsize=8)
def _index(path: Path, properties: tuple[str, ...], inputs: tuple[str, ...] | None,
           composition: str | None, id_column: str | None) -> Mapping[str, dict[str, float]]:
    """Candidate key -> mean value of each property over the rows of that candidate."""
    from matloop.campaigns.spaces import numeric_columns, read_table, read_table_pool

    frame = read_table(path, "oracle.path")
    values = numeric_columns(frame, list(properties), "oracle (target property columns)",
                             allow_missing=True)
    pool = read_table_pool(frame, inputs, composition, id_column)
    grouped: dict[str, list[np.ndarray]] = {}
    for i in range(len(pool)):
        grouped.setdefault(pool.key(i), []).append(values[i])
    return {key: {p: float(np.nanmean(col)) if np.isfinite(col).any() else math.nan
                  for p, col in zip(properties, np.array(rows).T, strict=True)}
            for key, rows in grouped.items()}
