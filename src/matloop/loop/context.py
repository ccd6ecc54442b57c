"""What every part of a cycle works on: the campaign, its open store and its pool."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.campaigns.targets import TargetSet
from matloop.errors import StoreError
from matloop.loop.progress import Scorekeeper
from matloop.spaces.featurised import Featurised
from matloop.spaces.pool import Pool
from matloop.store import Store

if TYPE_CHECKING:
    from matloop.loop.related import RelatedData


@dataclass
class Context:
    """A campaign opened once: its store and id, its featurised pool, its targets and
    the scorekeeper that reads its standing. Holds nothing the store cannot rebuild."""

    campaign: Campaign
    store: Store
    campaign_id: int
    space: Featurised
    targets: TargetSet
    keeper: Scorekeeper

    def __post_init__(self) -> None:
        if self.campaign.campaign.related:  # read now: a bad entry stops before any cycle
            self.related  # noqa: B018

    @cached_property
    def related(self) -> list[RelatedData]:
        """The ``[[campaign.related]]`` measurements in this pool's features, read once."""
        from matloop.loop.related import load_related

        return load_related(self.campaign.campaign.related, self.space,
                            self.targets.properties)

    def grow(self, rows: list[np.ndarray]) -> dict[int, dict[str, float | str]]:
        """Append candidates outside the pool (input values ``(k,)`` each, as the pool
        holds them) to ``space``; their new pool rows and input values by option."""
        from matloop.spaces.featurised import featurise
        from matloop.spaces.pool import candidate_key, extend, input_values

        pool = self.space.pool
        outside = [dict(input_values(pool.names, row, pool.categories)) for row in rows]
        self.space = featurise(extend(pool, [
            (candidate_key(pool.kind, pool.names, row, pool.categories), values)
            for row, values in zip(rows, outside, strict=True)]),
            getattr(self.campaign.space, "encoding", ""))
        return {len(pool) + j: values for j, values in enumerate(outside)}

    def untried(self, fidelity: str | None = None) -> np.ndarray:
        """``(N,)`` bool: pool rows never proposed in this campaign at ``fidelity``
        (None: the campaign's own ``[oracle]``)."""
        available = np.ones(len(self.space.pool), dtype=bool)
        available[list(self.store.evaluated_rows(self.campaign_id, fidelity))] = False
        return available

    def label(self, pool_index: int) -> str:
        return self.space.pool.candidate(pool_index).label


def campaign_pool(campaign: Campaign, opened: tuple[Store, int] | None) -> Pool:
    """The campaign's pool with the candidates from outside it that its store holds
    (``opened``: the store and campaign id; None before the first run) appended."""
    from matloop.campaigns.loader import located
    from matloop.errors import ConfigError
    from matloop.spaces.build import build_pool
    from matloop.spaces.pool import extend

    external = [(c.key, c.values) for c in opened[0].external_candidates(opened[1])] \
        if opened else []
    try:
        return extend(build_pool(campaign.space, campaign.scratch_dir), external)
    except ConfigError as exc:
        raise located(campaign.source, exc) from None


def check_pool_unchanged(store: Store, campaign_id: int, pool: Pool) -> None:
    """Raise ``StoreError`` unless every stored candidate is still the same row of ``pool``."""
    for key, index in store.tried_pool_indices(campaign_id).items():
        if index >= len(pool) or pool.key(index) != key:
            raise StoreError(f"the candidate pool changed since this campaign was "
                             f"started (candidate {key!r} is no longer row {index}); "
                             "use a new campaign name or another database")
