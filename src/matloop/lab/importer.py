"""``matloop import``: check a results file completely, then store it in one transaction.

The importer never takes the run lock (a computational run may be writing at the same
time: SQLite in WAL mode lets both proceed) and reads the store before it writes nothing
at all when the file has a problem. A campaign that was never run is created by a valid
import (prior data before the first run).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from matloop.campaigns.schema import SEARCH_SECTIONS, Campaign
from matloop.campaigns.spaces import Pool, build_pool
from matloop.errors import ConfigError, StoreError
from matloop.lab.results import Checked, Known, Result, check, read_sheet
from matloop.store import DatabaseUnavailable, Proposal, Store, sqlite_path
from matloop.store.store import Recorded


@dataclass(frozen=True)
class ImportReport:
    """What an import stored (or, with ``dry_run``, would store): one line per result,
    counts by kind (``filled`` awaiting evaluations, ``replicate``, ``unsolicited`` pool
    candidates never proposed, ``new`` candidates outside the pool; ``failed`` of all),
    blank rows (not measured yet) and evaluations still awaiting afterwards."""

    path: Path
    lines: list[str]
    kinds: dict[str, int]
    failed: int
    blank: list[int]
    still_awaiting: int
    dry_run: bool

    @property
    def stored(self) -> int:
        return sum(self.kinds.values())


def import_results(campaign: Campaign, path: Path, dry_run: bool = False,
                   allow_new: bool = False, prior: bool = False) -> ImportReport:
    """Check every row of ``path`` and store the results in one transaction (nothing on
    any problem: ``ConfigError`` listing them all, or ``StoreError``)."""
    from matloop.lab.external import extend, stored

    sheet = read_sheet(Path(path))
    pool = extend(build_pool(campaign.space, campaign.scratch_dir),
                  stored(campaign.database_url, campaign.campaign.name))
    known = read_known(campaign, pool)
    keys: dict[str, int] = {}

    def pool_keys() -> dict[str, int]:
        if not keys:
            keys.update({pool.key(i): i for i in range(len(pool))})
        return keys

    digest = hashlib.sha256(sheet.path.read_bytes()).hexdigest()
    if digest in known.imported:
        raise ConfigError(f"{sheet.path}: this file was imported before (same contents); "
                          "nothing was imported")
    checked = check(sheet, campaign, pool, known, allow_new, pool_keys)
    recorded, lines, kinds = plan(checked, known, sheet.path, digest, pool.kind, prior)
    awaiting = sum(len(ids) for ids in known.awaiting.values()) - kinds["filled"]
    report = ImportReport(sheet.path, lines, dict(kinds), sum(r.failed for r in recorded),
                          checked.blank, awaiting, dry_run)
    if dry_run or not recorded:
        return report
    store = Store(campaign.database_url)
    campaign_id = store.campaign_id(campaign.campaign.name, campaign.model_dump(mode="json"),
                                    fixed=SEARCH_SECTIONS)
    store.import_results(campaign_id, recorded)
    return report


def read_known(campaign: Campaign, pool: Pool) -> Known:
    """The campaign's candidates, awaiting evaluations and latest cycle, read without
    creating anything; ``StoreError`` when the database belongs to another search."""
    path = sqlite_path(campaign.database_url)
    if path is not None and not path.exists():
        return Known()
    try:
        store = Store(campaign.database_url, create=False)
        campaign_id = store.campaign_id(campaign.campaign.name)
    except DatabaseUnavailable:  # no server, no such database: not "no campaign yet"
        raise
    except StoreError:  # not a matloop database yet, or no such campaign in it
        return Known()
    stored = store.config(campaign_id)
    current = campaign.model_dump(mode="json")
    changed = sorted(k for k in SEARCH_SECTIONS if stored.get(k) != current.get(k))
    if changed:
        raise StoreError(f"campaign {campaign.campaign.name!r} in {store.safe_url} was run "
                         f"with different {', '.join(changed)} settings; nothing was "
                         "imported")
    candidates = {}
    for record in store.candidates(campaign_id):
        assert record.id is not None
        if record.pool_index >= len(pool) or pool.key(record.pool_index) != record.key:
            raise StoreError(f"the candidate pool changed since this campaign was started "
                             f"(candidate {record.key!r} is no longer row "
                             f"{record.pool_index}); nothing was imported")
        candidates[record.id] = (record.key, record.label, record.pool_index)
    awaiting: dict[str, list[int]] = {}
    for row in store.awaiting(campaign_id):
        awaiting.setdefault(row["key"], []).append(row["evaluation_id"])
    external = {key: index for index, key, _, _ in store.external_candidates(campaign_id)}
    return Known(candidates, awaiting, external, store.next_cycle(campaign_id) - 1,
                 frozenset(store.imported_files(campaign_id)))


def plan(checked: Checked, known: Known, path: Path, digest: str, kind: str, prior: bool
         ) -> tuple[list[Recorded], list[str], Counter[str]]:
    """Each result as a store write: the first results of a candidate fill its awaiting
    evaluations (oldest first), any further one is a new evaluation (a replicate)."""
    waiting = {key: list(ids) for key, ids in known.awaiting.items()}
    seen = {key for key, _, _ in known.candidates.values()}
    kinds: Counter[str] = Counter(dict.fromkeys(("filled", "replicate", "unsolicited", "new"),
                                                0))
    recorded, lines = [], []
    for result in checked.results:
        evaluation = waiting[result.key].pop(0) if waiting.get(result.key) else None
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
                                 known.cycle, provenance, result.external, kind))
        lines.append(f"row {result.row}: {result.label}: {_outcome(result, checked)} — {what}")
    return recorded, lines, kinds


def _outcome(result: Result, checked: Checked) -> str:
    if result.failed:
        return "failed" + (f" ({result.note})" if result.note else "")
    return ", ".join(f"{name} = {value:g}" + (f" {checked.units[name]}"
                                             if name in checked.units else "")
                     for name, value in result.values.items())
