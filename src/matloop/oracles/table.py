"""Table oracle: look each property up in a table of known values (replaying a dataset).

The oracle holds where the table comes from (its file's path, for messages and
provenance), the property names and ``rows``, a picklable function without arguments that
returns candidate key -> {property: value}. The campaign's builder (``matloop.loop.build``)
gives one that reads the CSV once per process and keys its rows exactly as the table space
does, averaging repeated rows of a candidate. A missing value (NaN) is a failed
evaluation (reason ``invalid``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from matloop.protocols import Candidate, Outcome

Rows = Mapping[str, Mapping[str, float]]
"""Candidate key -> property -> value (NaN where the table has none)."""


@dataclass(frozen=True)
class TableOracle:
    """Properties of a candidate looked up in ``rows()``, read from ``source``.

    ``rows`` must pickle (a module-level function, or a ``functools.partial`` of one) and
    should cache what it reads: it is called for every evaluation.
    """

    source: str
    properties: tuple[str, ...]
    rows: Callable[[], Rows]

    def evaluate(self, candidate: Candidate) -> Outcome:
        row = self.rows().get(candidate.key)
        name = Path(self.source).name
        if row is None:
            return Outcome.failure("invalid", f"{candidate.label!r} is not in {name}")
        missing = [p for p in self.properties if not math.isfinite(row.get(p, math.nan))]
        if missing:
            return Outcome.failure("invalid", f"{name} has no value of "
                                   f"{', '.join(missing)} for {candidate.label!r}")
        return Outcome.success({p: row[p] for p in self.properties},
                               provenance={"oracle": "table", "file": self.source})

    def check(self) -> None:
        """Read the table now, so that its errors (``ConfigError``) come before any run."""
        self.rows()
