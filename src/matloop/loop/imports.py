"""Importing measured results into a campaign: what the store already knows of it, then
every row checked and planned before anything is written (``Session.add_results``)."""

from __future__ import annotations

from matloop.campaigns.schema import RUN_SETTINGS, SEARCH_SECTIONS, Campaign
from matloop.errors import AlreadyImported, StoreError
from matloop.lab.importer import ImportReport, cells_digest, content_digest, plan
from matloop.lab.results import Known, check
from matloop.lab.sheets import Sheet
from matloop.spaces.pool import Pool
from matloop.store import Store, changed_settings
from matloop.store.store import Recorded


def import_sheet(sheet: Sheet, campaign: Campaign, pool: Pool, known: Known | None,
                 allow_new: bool, prior: bool) -> tuple[ImportReport, list[Recorded], bool]:
    """Check every row of ``sheet`` against the campaign and what the store knows
    (``known``; None before the campaign's first write) and plan the store writes: the
    report, the writes, and whether candidates from outside the pool are among them.
    ``DataError`` lists every problem, ``AlreadyImported`` when the store holds the same
    results (``content_digest``); nothing is written here."""
    known = known or Known()
    keys: dict[str, int] = {}

    def pool_keys() -> dict[str, int]:
        if not keys:
            keys.update({pool.key(i): i for i in range(len(pool))})
        return keys

    if cells_digest(sheet.header, sheet.rows) in known.imported:  # before revision 0003
        raise AlreadyImported(sheet.path)
    checked = check(sheet, campaign, pool, known, allow_new, pool_keys)
    digest = content_digest(checked.results)
    # the store checks again as it writes (at the same moment)
    if {digest, content_digest(checked.results, exact=True)} & known.imported:
        raise AlreadyImported(sheet.path)
    recorded, lines, kinds = plan(checked, known, sheet.path, digest, pool.kind, prior)
    awaiting = sum(len(ids) for ids in known.awaiting.values()) - kinds["filled"]
    report = ImportReport(sheet.path, lines, dict(kinds), sum(r.failed for r in recorded),
                          checked.blank, awaiting, dry_run=False, digest=digest)
    return report, recorded, kinds["new"] > 0


def known_of(campaign: Campaign, opened: tuple[Store, int], pool: Pool) -> Known:
    """What the store knows of the campaign's candidates; ``StoreError`` when the
    database belongs to another search or the pool changed."""
    store, campaign_id = opened
    changed = changed_settings(store.config(campaign_id), campaign.model_dump(mode="json"),
                               SEARCH_SECTIONS, RUN_SETTINGS)
    if changed:
        raise StoreError(f"campaign {campaign.campaign.name!r} in {store.safe_url} "
                         f"was run with different settings ({', '.join(changed)}); "
                         "nothing was imported")
    candidates = {}
    for record in store.candidates(campaign_id):
        if record.pool_index >= len(pool) or pool.key(record.pool_index) != record.key:
            raise StoreError(f"the candidate pool changed since this campaign was "
                             f"started (candidate {record.key!r} is no longer row "
                             f"{record.pool_index}); nothing was imported")
        candidates[record.candidate_id] = (record.key, record.label, record.pool_index)
    awaiting: dict[tuple[str, str | None], list[int]] = {}
    for row in store.awaiting(campaign_id):
        awaiting.setdefault((row.key, row.fidelity), []).append(row.evaluation_id)
    external = {c.key: c.pool_index for c in store.external_candidates(campaign_id)}
    return Known(candidates, awaiting, external, store.next_cycle(campaign_id) - 1,
                 frozenset(store.imported_files(campaign_id)))


def settle_lab_state(store: Store, campaign_id: int) -> None:
    """After an import: a campaign that was waiting for the lab and now has every result
    in says so, instead of still "awaiting lab results"."""
    from matloop.loop.propose import AWAITING_LAB, RESULTS_IN

    if store.stop_reason(campaign_id) == AWAITING_LAB and not store.awaiting(campaign_id):
        store.set_stop_reason(campaign_id, RESULTS_IN)
