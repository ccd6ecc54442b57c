"""Candidates outside the pool (``import --allow-new``): stored with their values and
appended to the pool, after its own rows, whenever a campaign is prepared.

The choice: an outside candidate gets ``pool_index = len(pool) + j`` where j counts the
outside candidates imported before it, so the extended pool is the same on every run and
``check_pool_unchanged`` checks them like any other row. The base pool must not change
(the same rule as for every campaign).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from matloop.campaigns.spaces import Pool


def extend(pool: Pool, external: Sequence[tuple[int, str, str, Mapping[str, float]]]) -> Pool:
    """``pool`` with the outside candidates ``(pool_index, key, kind, {name: value})``
    appended in pool-index order; new elements of a composition become new columns."""
    if not external:
        return pool
    names = list(pool.names)
    for _, _, _, values in external:
        names += [name for name in values if name not in names]
    rows = np.zeros((len(external), len(names)))
    for i, (_, _, _, values) in enumerate(external):
        for name, value in values.items():
            rows[i, names.index(name)] = value
    base = np.zeros((len(pool), len(names)))
    base[:, :len(pool.names)] = pool.values
    labels = None
    if pool.labels is not None:
        labels = (*pool.labels, *(_label(pool.kind, values) for *_, values in external))
    ids = None if pool.ids is None else (*pool.ids, *(key for _, key, _, _ in external))
    return Pool(kind=pool.kind, names=tuple(names), values=np.concatenate([base, rows]),
                labels=labels, ids=ids)


def _label(kind: str, values: Mapping[str, float]) -> str:
    from matloop.campaigns.spaces import integer_formula

    if kind == "inputs":
        return ", ".join(f"{n}={v:g}" for n, v in values.items())
    return integer_formula(list(values), np.array(list(values.values())))


def stored(url: str, name: str) -> list[tuple[int, str, str, dict]]:
    """The outside candidates stored for campaign ``name`` at ``url`` (none when there is
    no such database or campaign yet). Reads only."""
    from sqlalchemy.exc import OperationalError

    from matloop.errors import StoreError
    from matloop.store import Store

    try:
        store = Store(url, create=False)
    except (StoreError, OperationalError):
        return []
    try:
        return store.external_candidates(store.campaign_id(name))
    except (StoreError, OperationalError):  # no such campaign; a database from before
        return []                            # outside candidates existed
    finally:
        store.engine.dispose()
