"""Inputs with categorical columns: one-hot options beside min-max scaled numbers.

For pools of kind ``"inputs"`` with ``categories`` (column -> its options, as
``Pool.categories``), whose ``values`` hold such a column as codes 0, 1, ... into them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matloop.features.numeric import PoolLike, ScaledInputs


@dataclass(frozen=True)
class _Numbers:
    """The numeric columns of a pool, for ``ScaledInputs``."""

    kind: str
    names: tuple[str, ...]
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class OneHotInputs:
    """Each categorical column as one 0/1 feature per option (named ``column=option``),
    each numeric column min-max scaled over the pool (as ``ScaledInputs``), in the
    pool's column order; so every feature lies in ``[0, 1]`` on the pool.

    ``columns`` are the pool's column names ``(k,)``, ``options[j]`` the options of
    column j (empty for a numeric column) and ``scaled`` scales the numeric ones.
    """

    columns: tuple[str, ...]
    options: tuple[tuple[str, ...], ...]
    scaled: ScaledInputs
    names: tuple[str, ...]

    @classmethod
    def from_pool(cls, pool: PoolLike, categories: Mapping[str, Sequence[str]]
                  ) -> OneHotInputs:
        """Options from ``categories`` (column -> options), bounds of the numeric columns
        from ``pool.values`` ``(N, k)``."""
        if pool.kind != "inputs":
            raise ValueError(f"OneHotInputs needs a pool of kind 'inputs', not {pool.kind!r}")
        values = np.asarray(pool.values, dtype=np.float64)
        columns = tuple(pool.names)
        if values.ndim != 2 or values.shape[1] != len(columns):
            raise ValueError(f"pool values of shape {values.shape} do not match "
                             f"{len(columns)} input names")
        unknown = sorted(set(categories) - set(columns))
        if unknown:
            raise ValueError(f"categories of {unknown}, which are not columns of the pool")
        options = tuple(tuple(categories.get(name, ())) for name in columns)
        numeric = [j for j, choices in enumerate(options) if not choices]
        scaled = ScaledInputs.from_pool(_Numbers("inputs", tuple(columns[j] for j in numeric),
                                                 values[:, numeric]))
        names = tuple(name for column, choices in zip(columns, options, strict=True)
                      for name in ([f"{column}={o}" for o in choices] or [column]))
        return cls(columns, options, scaled, names)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Inputs ``(n, k)`` (codes in categorical columns) -> features ``(n, d)``
        float64, ``d = len(names)``; ``ValueError`` for a code that is no option."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.columns):
            raise ValueError(f"expected values of shape (n, {len(self.columns)}), "
                             f"got {x.shape}")
        numeric = [j for j, choices in enumerate(self.options) if not choices]
        scaled = self.scaled.transform(x[:, numeric])
        blocks = []
        for j, choices in enumerate(self.options):
            if not choices:
                blocks.append(scaled[:, [numeric.index(j)]])
                continue
            codes = x[:, j]
            if not np.all((codes == np.round(codes)) & (codes >= 0) & (codes < len(choices))):
                raise ValueError(f"column {self.columns[j]!r} holds codes that are not one "
                                 f"of its {len(choices)} options")
            blocks.append((codes[:, None] == np.arange(len(choices))).astype(np.float64))
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(x), 0))
