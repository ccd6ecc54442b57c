"""The candidate pool as the models see it: featurised once per session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matloop.features import featurizer_for
from matloop.features.categorical import OneHotInputs
from matloop.features.numeric import LogColumns
from matloop.spaces.pool import Pool


@dataclass(frozen=True)
class Featurised:
    """``features`` ``(N, d)``: the pool's feature columns that vary (constant ones are
    removed), named by ``names`` ``(d,)``; ``bounds`` ``(2, d)`` are their minima and
    maxima over the pool. ``groups``: with ``[space] encoding = "learned"``, the
    one-hot block (feature indices) of each categorical column whose options'
    correlations the GP learns (``surrogates.option_kernel``)."""

    pool: Pool
    features: np.ndarray
    bounds: np.ndarray
    names: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...] = ()


def featurise(pool: Pool, encoding: str = "") -> Featurised:
    """The pool's features; ``encoding``: a table space's ``[space] encoding`` (other
    spaces have none). Raises ``ConfigError`` on invalid input."""
    featurizer = featurizer_for(pool)
    raw = featurizer.transform(pool.values)
    varying = np.ptp(raw, axis=0) > 0
    if not varying.any():
        varying[:1] = True
    features = raw[:, varying]
    names = tuple(name for name, kept in zip(featurizer.names, varying, strict=True) if kept)
    bounds = np.stack([features.min(axis=0), features.max(axis=0)])
    groups: tuple[tuple[int, ...], ...] = ()
    base = featurizer.inner if isinstance(featurizer, LogColumns) else featurizer
    if encoding == "learned" and isinstance(base, OneHotInputs):
        kept = np.cumsum(varying) - 1  # raw feature index -> its index among the kept
        groups = tuple(tuple(int(kept[i]) for i in block if varying[i])
                       for block in base.one_hot_blocks().values())
        groups = tuple(g for g in groups if len(g) > 1)
    return Featurised(pool, features, bounds, names, groups)
