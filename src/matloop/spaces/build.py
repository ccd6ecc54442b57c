"""Building a campaign's pool from its ``[space]`` section: a composition grid, the rows
of a table (a CSV or a DataFrame), crystal structures read or made by substitution, or a
draw from a box of parameters with linear constraints.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.schema import (
    BoxSpace,
    CompositionSpace,
    Space,
    StructureSpace,
    SubstitutionSpace,
    TableSpace,
)
from matloop.errors import ConfigError
from matloop.spaces.box import box_pool
from matloop.spaces.pool import Pool
from matloop.spaces.tables import table_pool

if TYPE_CHECKING:
    from pymatgen.core import Structure


def build_pool(space: Space, cache_dir: Path | None = None) -> Pool:
    """The candidate pool of a space; raises ``ConfigError`` when it is empty or invalid.

    ``cache_dir`` (the campaign's scratch folder) keeps structure features between runs.
    """
    builders: dict[type, Callable[..., Pool]] = {
        TableSpace: table_pool,
        CompositionSpace: composition_grid,
        StructureSpace: lambda s: structure_pool(s, cache_dir),
        SubstitutionSpace: lambda s: structure_pool(s, cache_dir),
        BoxSpace: lambda s: box_pool(s, cache_dir),
    }
    pool = builders[type(space)](space)
    if len(pool) == 0:
        raise ConfigError(f"space.{space.kind}: the candidate space is empty")
    return pool


def composition_grid(space: CompositionSpace) -> Pool:
    """Every composition over ``space.elements`` in steps of ``space.step``.

    Rows have between ``min_elements`` and ``max_elements`` non-zero fractions; ordered
    by number of elements, then element subset, then fractions (deterministic).
    """
    check_elements(space.elements, "space.elements")
    elements = tuple(space.elements)
    n = space.divisions
    blocks = []
    for k in range(space.min_elements, min(space.max_elements, len(elements), n) + 1):
        parts = positive_compositions(n, k)  # (P, k) integer steps summing to n
        for subset in itertools.combinations(range(len(elements)), k):
            block = np.zeros((len(parts), len(elements)))
            block[:, subset] = parts / n
            blocks.append(block)
    values = np.concatenate(blocks) if blocks else np.zeros((0, len(elements)))
    return Pool(kind="composition", names=elements, values=values)


def positive_compositions(n: int, k: int) -> np.ndarray:
    """All ways to write n as an ordered sum of k positive integers, shape ``(C(n-1,k-1), k)``."""
    combinations = list(itertools.combinations(range(1, n), k - 1))
    cuts = np.array(combinations, dtype=np.int64).reshape(len(combinations), k - 1)
    bounds = np.concatenate([np.zeros((len(cuts), 1), np.int64), cuts,
                             np.full((len(cuts), 1), n, np.int64)], axis=1)
    return np.diff(bounds, axis=1).astype(float)


def check_elements(symbols: Iterable[str], field: str) -> None:
    """Raise ``ConfigError`` naming ``field`` for any symbol that is not a chemical element."""
    from pymatgen.core.periodic_table import Element

    unknown = [s for s in symbols if not Element.is_valid_symbol(s)]
    if unknown:
        raise ConfigError(f"{field}: unknown element(s) {', '.join(map(repr, unknown))}")


FEATURES_FILE = "structure-features.npz"


def structure_pool(space: StructureSpace | SubstitutionSpace, cache_dir: Path | None = None
                   ) -> Pool:
    """Structures read (``structures``) or generated (``substitution``), repeats removed,
    featurised by ``StructureFeaturizer`` (cached in ``cache_dir/structure-features.npz``
    under ``feature_cache_key``, so a resumed run reuses them)."""
    from matloop.features.structure import StructureFeaturizer, cached_features
    from matloop.spaces.structures import StructureSet, load_structures
    from matloop.spaces.substitution import substitute

    dedupe = None if space.dedupe == "none" else space.dedupe
    if isinstance(space, StructureSpace):
        found = load_structures(space.path, field="space.path",
                                structure_column=space.structure_column, id_column=space.id,
                                dedupe=dedupe)
    else:
        structures: list[Structure] = []
        names: list[str] = []
        for path in space.prototypes:
            part = load_structures(path, field="space.prototypes")
            structures += part.structures
            names += part.names
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"space.prototypes: prototype name(s) {repeated} repeat; "
                              "rename the files or entries")
        found = substitute(StructureSet(tuple(structures), tuple(names)),
                           space.substitutions, space.oxidation_filter, volume=space.volume,
                           dedupe=dedupe, field="space.substitutions")
    field = "space.id" if isinstance(space, StructureSpace) else "space.prototypes"
    seen: set[str] = set()
    for name in found.names:
        if name in seen:
            raise ConfigError(f"{field}: the name {name!r} is given to two structures; "
                              "names identify candidates and must be unique")
        seen.add(name)
    featurizer = StructureFeaturizer()
    cache = None if cache_dir is None else Path(cache_dir) / FEATURES_FILE
    values = cached_features(featurizer, found.structures, cache)
    labels = tuple(f"{s.composition.reduced_formula} ({name})"
                   for s, name in zip(found.structures, found.names, strict=True))
    return Pool(kind="structures", names=featurizer.names, values=values, labels=labels,
                ids=tuple(found.names), structures=tuple(found.structures),
                duplicates_removed=found.duplicates_removed)
