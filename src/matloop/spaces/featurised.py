"""The candidate pool as the models see it: featurised once per session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matloop.features import featurizer_for
from matloop.spaces.pool import Pool


@dataclass(frozen=True)
class Featurised:
    """``features`` ``(N, d)``: the pool's feature columns that vary (constant ones are
    removed), named by ``names`` ``(d,)``; ``bounds`` ``(2, d)`` are their minima and
    maxima over the pool."""

    pool: Pool
    features: np.ndarray
    bounds: np.ndarray
    names: tuple[str, ...]


def featurise(pool: Pool) -> Featurised:
    """The pool's features; raises ``ConfigError`` on invalid input."""
    featurizer = featurizer_for(pool)
    raw = featurizer.transform(pool.values)
    varying = np.ptp(raw, axis=0) > 0
    if not varying.any():
        varying[:1] = True
    features = raw[:, varying]
    names = tuple(name for name, kept in zip(featurizer.names, varying, strict=True) if kept)
    bounds = np.stack([features.min(axis=0), features.max(axis=0)])
    return Featurised(pool, features, bounds, names)
