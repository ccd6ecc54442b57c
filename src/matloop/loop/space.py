"""The candidate pool as the models see it: built, extended and featurised once per run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.campaigns.spaces import Pool, build_pool
from matloop.features import featurizer_for


@dataclass(frozen=True)
class Featurised:
    """``features`` ``(N, d)``: the pool's feature columns that vary (constant ones are
    removed), named by ``names`` ``(d,)``; ``bounds`` ``(2, d)`` are their minima and
    maxima over the pool."""

    pool: Pool
    features: np.ndarray
    bounds: np.ndarray
    names: tuple[str, ...]


def featurise(campaign: Campaign) -> Featurised:
    """The campaign's pool and its features; raises ``ConfigError`` on invalid input.

    Measured candidates outside the pool (``matloop import --allow-new``), when the
    campaign's database has any, are appended to the pool (see ``matloop.lab.external``)."""
    from matloop.lab.external import extend, stored

    pool = extend(build_pool(campaign.space, campaign.scratch_dir),
                  stored(campaign.database_url, campaign.campaign.name))
    featurizer = featurizer_for(pool)
    raw = featurizer.transform(pool.values)
    varying = np.ptp(raw, axis=0) > 0
    if not varying.any():
        varying[:1] = True
    features = raw[:, varying]
    names = tuple(name for name, kept in zip(featurizer.names, varying, strict=True) if kept)
    bounds = np.stack([features.min(axis=0), features.max(axis=0)])
    return Featurised(pool, features, bounds, names)
