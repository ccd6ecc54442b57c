"""Surrogate models with a fit/predict contract, each exposed as a BoTorch ``Model``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matloop.protocols import Surrogate


def _gp(bounds: np.ndarray | None, seed: int) -> Surrogate:
    from matloop.surrogates.gp import GaussianProcess

    return GaussianProcess(bounds=bounds, seed=seed)


SURROGATES: dict[str, Callable[[np.ndarray | None, int], Surrogate]] = {"gp": _gp}


def make_surrogate(kind: str, bounds: np.ndarray | None = None, seed: int = 0) -> Surrogate:
    """A fresh surrogate of ``kind``; ``bounds`` ``(2, d)`` are the pool's feature bounds."""
    try:
        factory = SURROGATES[kind]
    except KeyError:
        raise ValueError(f"unknown surrogate {kind!r}; known: {sorted(SURROGATES)}") from None
    return factory(bounds, seed)
