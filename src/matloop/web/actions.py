"""What the page and the API do to a campaign, in plain Python: list, propose, import.

Each function takes the ``CampaignFolder`` and a campaign name and returns plain data;
``Refused`` carries an HTTP status and every problem, and nothing was stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matloop.errors import ConfigError, DataError, MatloopError
from matloop.web.folder import CampaignFolder, awaiting_rows, records, summary_or_none

if TYPE_CHECKING:
    import pandas as pd

    from matloop.lab.importer import ImportReport
    from matloop.loop.session import Session

SHEET_SUFFIXES = (".csv", ".xlsx")


@dataclass
class Refused(Exception):
    """A request that changed nothing: its HTTP status and every problem."""

    status: int
    message: str
    problems: list[str] = field(default_factory=list)


def campaign_list(folder: CampaignFolder) -> list[dict[str, Any]]:
    """Every campaign file of the folder: name, file, state and counts (or its error)."""
    from matloop.loop.status_rows import state_of

    out: list[dict[str, Any]] = []
    for entry in folder.entries():
        if entry.name is None:
            out.append({"name": None, "file": entry.path.name, "error": entry.error})
            continue
        with folder.session(entry.name) as session:
            summary = summary_or_none(session)
            campaign = session.campaign
        counts = summary["evaluations"] if summary else {}
        out.append({
            "name": entry.name, "file": entry.path.name, "oracle": campaign.oracle.kind,
            "state": state_of(summary) if summary else "not started",
            "finished": counts.get("succeeded", 0) + counts.get("failed", 0),
            "failed": counts.get("failed", 0), "awaiting": counts.get("awaiting", 0),
            "budget": campaign.loop.budget, "targets": [t.describe() for t in
                                                       campaign.targets],
            "best": summary["best"] if summary else {},
            "hits": summary["hits"] if summary else None})
    return out


def status(folder: CampaignFolder, name: str) -> dict[str, Any]:
    """``matloop status --json`` of the campaign; 404 when it was never run."""
    with opened(folder, name) as session:
        summary = summary_or_none(session)
    if summary is None:
        raise Refused(404, f"campaign {name!r} has not started: propose a batch first")
    return summary


def propose(folder: CampaignFolder, name: str, n: int | None, more: bool = False
            ) -> list[dict[str, Any]]:
    """The batch awaiting the lab's results, proposed first when none awaits (or
    another one with ``more``), as records (``Session.propose``'s columns)."""
    with opened(folder, name) as session:
        if session.campaign.oracle.kind != "lab":
            raise Refused(409, f"campaign {name!r} has an oracle of its own "
                          f"({session.campaign.oracle.kind}); run it with `matloop run`")
        try:
            return records(session.propose(n, more))
        except MatloopError as exc:
            raise Refused(422, str(exc)) from None


def batch_file(folder: CampaignFolder, name: str, xlsx: bool, into: Path) -> Path:
    """The awaiting batch written as the sheet ``matloop propose`` writes, in ``into``."""
    from matloop.lab.proposals import write_batch

    with opened(folder, name) as session:
        awaiting = awaiting_rows(session)
        if not awaiting:
            raise Refused(404, "no batch is awaiting results")
        path = into / f"{name}-batch-{max(a.cycle for a in awaiting)}.csv"
        written = write_batch(session.campaign, session.pool, awaiting, path, xlsx)
    return next(p for p in written if p.suffix == (".xlsx" if xlsx else ".csv"))


def add_results(folder: CampaignFolder, name: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Store the results given as a table with ``propose``'s columns, all or nothing."""
    with opened(folder, name) as session:
        return imported(lambda: session.add_results(frame))


def import_upload(folder: CampaignFolder, name: str, filename: str, content: bytes
                  ) -> dict[str, Any]:
    """Store the results of an uploaded CSV or XLSX sheet, all or nothing (the checks of
    ``matloop import``). Only the file name's suffix is used, never its path."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        raise Refused(422, f"{Path(filename).name or 'the upload'}: a results sheet is a "
                      ".csv or .xlsx file")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"results{suffix}"
        path.write_bytes(content)
        with opened(folder, name) as session:
            return imported(lambda: session.import_file(path))


def evaluations(folder: CampaignFolder, name: str) -> list[dict[str, Any]]:
    """Every evaluation, as ``matloop export`` writes it (404 when never run)."""
    from matloop.errors import StoreError

    with opened(folder, name) as session:
        try:
            return records(session.evaluations())
        except StoreError:
            raise Refused(404, f"campaign {name!r} has not started") from None


def imported(run: Any) -> dict[str, Any]:
    """Run an import; what landed, or ``Refused`` with every problem."""
    try:
        report: ImportReport = run()
    except DataError as exc:
        raise Refused(422, str(exc).splitlines()[0], exc.problems or [str(exc)]) from None
    except ConfigError as exc:
        raise Refused(422, str(exc), [str(exc)]) from None
    return {"stored": report.stored, "kinds": report.kinds, "failed": report.failed,
            "blank_rows": report.blank, "still_awaiting": report.still_awaiting,
            "lines": report.lines}


@contextmanager
def opened(folder: CampaignFolder, name: str) -> Iterator[Session]:
    """``folder.session(name)``, an unknown name refused as 404."""
    try:
        folder.path_of(name)
    except KeyError:
        raise Refused(404, f"no campaign {name!r} in this folder") from None
    with folder.session(name) as session:
        yield session
