"""Numeric inputs scaled to the unit box, for pools of kind ``"inputs"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from matloop.protocols import Featurizer


class PoolLike(Protocol):
    """What a featuriser reads of a candidate pool (``matloop.spaces.pool.Pool`` is one):
    its ``kind``, column ``names`` and ``values`` ``(N, k)``."""

    @property
    def kind(self) -> str: ...

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def values(self) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class ScaledInputs:
    """Min-max scaling of numeric inputs with bounds taken from the whole pool.

    ``minimum`` and ``span`` have shape ``(k,)``; a constant column has span 0 and maps
    to 0. Values outside the pool's range fall outside ``[0, 1]`` (they are not clipped).
    """

    names: tuple[str, ...]
    minimum: np.ndarray
    span: np.ndarray

    @classmethod
    def from_pool(cls, pool: PoolLike) -> ScaledInputs:
        """Bounds from a pool of kind ``"inputs"`` with ``values`` shaped ``(N, k)``."""
        if pool.kind != "inputs":
            raise ValueError(f"ScaledInputs needs a pool of kind 'inputs', not {pool.kind!r}")
        values = np.asarray(pool.values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(pool.names):
            raise ValueError(f"pool values of shape {values.shape} do not match "
                             f"{len(pool.names)} input names")
        if values.shape[0] == 0:
            raise ValueError("cannot scale inputs over an empty pool")
        minimum = values.min(axis=0)
        span = values.max(axis=0) - minimum
        minimum.setflags(write=False)
        span.setflags(write=False)
        return cls(names=tuple(pool.names), minimum=minimum, span=span)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Inputs ``(n, k)`` -> scaled inputs ``(n, k)`` float64, in ``[0, 1]`` on the pool."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise ValueError(f"expected values of shape (n, {len(self.names)}), got {x.shape}")
        safe = np.where(self.span > 0, self.span, 1.0)
        out: np.ndarray = (x - self.minimum) / safe
        out[:, self.span <= 0] = 0.0
        return out


@dataclass(frozen=True, eq=False)
class LogColumns:
    """Another featuriser of inputs (``inner``), fed the base-10 logarithm of the input
    columns ``columns`` (indices into the pool's columns, all > 0); their features are
    named ``log10(<column>)``."""

    inner: Featurizer
    columns: tuple[int, ...]
    logged: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"log10({n})" if n in self.logged else n for n in self.inner.names)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Inputs ``(n, k)`` -> the inner featuriser's features of their logarithms."""
        x = np.array(values, dtype=np.float64)
        x[:, list(self.columns)] = np.log10(x[:, list(self.columns)])
        return np.asarray(self.inner.transform(x))
