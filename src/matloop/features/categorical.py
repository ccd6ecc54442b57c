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
    or, for a column with descriptors, as its option's descriptors min-max scaled over
    the options (named ``column:descriptor``); each numeric column min-max scaled over
    the pool (as ``ScaledInputs``); in the pool's column order, so every feature lies in
    ``[0, 1]`` on the pool.

    ``columns`` are the pool's column names ``(k,)``, ``options[j]`` the options of
    column j (empty for a numeric column), ``scaled`` scales the numeric ones and
    ``described[j]`` is column j's scaled descriptor matrix ``(options, e)`` (None:
    one-hot).
    """

    columns: tuple[str, ...]
    options: tuple[tuple[str, ...], ...]
    scaled: ScaledInputs
    names: tuple[str, ...]
    described: tuple[np.ndarray | None, ...]

    @classmethod
    def from_pool(cls, pool: PoolLike, categories: Mapping[str, Sequence[str]],
                  descriptors: Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None
                  ) -> OneHotInputs:
        """Options from ``categories`` (column -> options), bounds of the numeric columns
        from ``pool.values`` ``(N, k)``; ``descriptors``: column -> (names, matrix
        ``(options, e)``) for the columns described instead of one-hot."""
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
        descriptors = descriptors or {}
        options = tuple(tuple(categories.get(name, ())) for name in columns)
        numeric = [j for j, choices in enumerate(options) if not choices]
        scaled = ScaledInputs.from_pool(_Numbers("inputs", tuple(columns[j] for j in numeric),
                                                 values[:, numeric]))
        described = tuple(_scaled(descriptors[name][1], len(choices), name)
                          if name in descriptors else None
                          for name, choices in zip(columns, options, strict=True))
        names = tuple(name for column, choices in zip(columns, options, strict=True)
                      for name in (
                          [f"{column}:{d}" for d in descriptors[column][0]]
                          if column in descriptors else
                          [f"{column}={o}" for o in choices] or [column]))
        return cls(columns, options, scaled, names, described)

    def one_hot_blocks(self) -> dict[str, range]:
        """Each one-hot column (categorical, without descriptors) -> its features'
        indices, in ``names``' order."""
        blocks, start = {}, 0
        for column, choices, table in zip(self.columns, self.options, self.described,
                                          strict=True):
            width = len(choices) if table is None else table.shape[1]
            if choices and table is None:
                blocks[column] = range(start, start + width)
            start += max(width, 1)
        return blocks

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
            table = self.described[j]
            blocks.append(table[codes.astype(int)] if table is not None else
                          (codes[:, None] == np.arange(len(choices))).astype(np.float64))
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(x), 0))


def _scaled(matrix: np.ndarray, n_options: int, column: str) -> np.ndarray:
    """Descriptors ``(options, e)`` min-max scaled per descriptor over the options (a
    descriptor equal for all of them becomes 0)."""
    table = np.asarray(matrix, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] != n_options:
        raise ValueError(f"descriptors of {column!r}: expected {n_options} rows, got "
                         f"shape {table.shape}")
    low, span = table.min(axis=0), np.ptp(table, axis=0)
    return (table - low) / np.where(span > 0, span, 1.0)
