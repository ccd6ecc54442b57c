"""Planning an import: checked results -> the store writes they become, and the report.

Nothing here reads or writes the store: ``Session.add_results`` reads what the store
knows (``Known``), checks the sheet (``matloop.lab.results.check``), plans the writes
here and stores them in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matloop.lab.results import Checked, Known, Result
from matloop.store import Proposal
from matloop.store.store import Recorded


@dataclass(frozen=True)
class ImportReport:
    """What an import stored (or, with ``dry_run``, would store): one line per result,
    counts by kind (``filled`` awaiting evaluations, ``replicate``, ``unsolicited`` pool
    candidates never proposed, ``new`` candidates outside the pool; ``failed`` of all),
    blank rows (not measured yet), evaluations still awaiting afterwards, and the
    results' ``content_digest``."""

    path: Path
    lines: list[str]
    kinds: dict[str, int]
    failed: int
    blank: list[int]
    still_awaiting: int
    dry_run: bool
    digest: str

    @property
    def stored(self) -> int:
        return sum(self.kinds.values())


def plan(checked: Checked, known: Known, path: Path, digest: str, kind: str, prior: bool
         ) -> tuple[list[Recorded], list[str], Counter[str]]:
    """Each result as a store write: the first results of a candidate fill its awaiting
    evaluations (oldest first), any further one is a new evaluation (a replicate)."""
    waiting = {pair: list(ids) for pair, ids in known.awaiting.items()}
    seen = {key for key, _, _ in known.candidates.values()}
    kinds: Counter[str] = Counter(dict.fromkeys(("filled", "replicate", "unsolicited", "new"),
                                                0))
    recorded, lines = [], []
    for result in checked.results:
        pair = (result.key, result.fidelity)
        evaluation = waiting[pair].pop(0) if waiting.get(pair) else None
        kind_of = ("filled" if evaluation is not None else "replicate" if result.key in seen
                   else "new" if result.external is not None else "unsolicited")
        kinds[kind_of] += 1
        what = {"filled": "fills its awaiting evaluation",
                "replicate": "a replicate (new evaluation)",
                "new": "a new candidate from outside the pool",
                "unsolicited": "never proposed (new evaluation)"}[kind_of]
        seen.add(result.key)
        provenance = {"import": {"file": str(path), "sha256": digest, "row": result.row,
                                 "note": result.note, "prior": prior}}
        recorded.append(Recorded(evaluation, Proposal(result.pool_index, result.key,
                                                      result.label),
                                 result.values, checked.units, result.failed, result.note,
                                 known.cycle, provenance, result.external, kind,
                                 result.fidelity))
        source = f" [{result.fidelity}]" if result.fidelity else ""
        lines.append(f"row {result.row}: {result.label}{source}: "
                     f"{_outcome(result, checked)} — {what}")
    return recorded, lines, kinds


def _outcome(result: Result, checked: Checked) -> str:
    if result.failed:
        return "failed" + (f" ({result.note})" if result.note else "")
    return ", ".join(f"{name} = {value:g}" + (f" {checked.units[name]}"
                                             if name in checked.units else "")
                     for name, value in result.values.items())


DIGEST_DIGITS = 12  # significant digits of a value in the digest: above any measurement's,
# below the last-bit noise of parsing and unit conversion (15.56 read back as 15.559999999999999)


def content_digest(results: Sequence[Result], exact: bool = False) -> str:
    """sha256 (64 hex digits) of the results a sheet holds, not of its bytes: one entry
    per measured row — its candidate (by key, however the row names it), status, values
    (as numbers in the target units, to ``DIGEST_DIGITS`` significant digits) and note —
    sorted, duplicates kept. So the same results give the same digest in any file format,
    line endings, row or column order and number spelling, with or without extra columns
    (predictions) and rows left blank (not measured yet). ``exact``: values to the last
    bit, as digests were recorded before the rounding (still compared)."""

    def spelled(value: float) -> str:
        return repr(float(value)) if exact else f"{float(value):.{DIGEST_DIGITS}g}"

    def entry(result: Result) -> str:
        values = sorted((name, spelled(v)) for name, v in result.values.items())
        source = [result.fidelity] if result.fidelity else []  # older digests: none
        return json.dumps([result.key, result.failed, values, result.note, *source])

    text = "\n".join(sorted(entry(result) for result in results))
    return hashlib.sha256(text.encode()).hexdigest()


def cells_digest(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """sha256 of a sheet's cells (header and rows as CSV text, in order): the digest
    imports recorded before schema revision 0003, still compared so that those imports
    are refused again."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return hashlib.sha256(text.getvalue().encode()).hexdigest()
