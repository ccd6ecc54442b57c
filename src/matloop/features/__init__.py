"""Featurisers: turn the rows of a candidate ``Pool`` into numeric feature vectors.

``featurizer_for(pool)`` picks the featuriser for the pool's ``kind``:

* ``"inputs"`` -> ``ScaledInputs`` (numeric inputs min-max scaled to ``[0, 1]`` over the
  pool), or ``OneHotInputs`` when the pool has categorical columns (one 0/1 feature per
  option, or the option's descriptors when the space gives them; numeric columns scaled
  as before);
* ``"composition"`` -> ``CompositionStatistics`` (mean, min, max, range and spread of
  elemental properties from pymatgen's periodic table over the atomic fractions);
* ``"structures"`` -> ``StructureColumns`` (the identity: the pool's values are the
  ``StructureFeaturizer`` columns, computed and cached when the pool is built).

Importing this package is cheap: the submodules (and pymatgen) load only when a
featuriser is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matloop.features.numeric import PoolLike as Pool
    from matloop.protocols import Featurizer

__all__ = ["featurizer_for"]


def _inputs(pool: Pool) -> Featurizer:
    logged = tuple(getattr(pool, "log_inputs", ()))
    if logged:  # the inner featuriser scales the logarithms over the pool
        import dataclasses

        import numpy as np

        from matloop.features.numeric import LogColumns

        columns = tuple(pool.names.index(name) for name in logged)
        values = np.array(pool.values, dtype=np.float64)
        values[:, list(columns)] = np.log10(values[:, list(columns)])
        inner = _inputs(dataclasses.replace(pool, values=values, log_inputs=()))  # type: ignore[type-var]
        return LogColumns(inner, columns, logged)
    categories = getattr(pool, "categories", None)
    if categories:
        from matloop.features.categorical import OneHotInputs

        return OneHotInputs.from_pool(pool, categories, getattr(pool, "descriptors", None))
    from matloop.features.numeric import ScaledInputs

    return ScaledInputs.from_pool(pool)


def _composition_statistics(pool: Pool) -> Featurizer:
    from matloop.features.composition import CompositionStatistics

    return CompositionStatistics.from_elements(pool.names)


def _structure_columns(pool: Pool) -> Featurizer:
    from matloop.features.structure import StructureColumns

    return StructureColumns(pool.names)


_REGISTRY: dict[str, Callable[[Pool], Featurizer]] = {
    "inputs": _inputs,
    "composition": _composition_statistics,
    "structures": _structure_columns,
}


def featurizer_for(pool: Pool) -> Featurizer:
    """The featuriser for ``pool.kind``; its ``transform`` maps ``pool.values`` ``(N, k)``
    to features ``(N, d)``. Raises ``ValueError`` for an unknown kind."""
    try:
        build = _REGISTRY[pool.kind]
    except KeyError:
        raise ValueError(f"no featuriser for pool kind {pool.kind!r}; "
                         f"known kinds: {sorted(_REGISTRY)}") from None
    return build(pool)
