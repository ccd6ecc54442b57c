"""Surrogate models with a fit/predict contract, each exposed as a BoTorch ``Model``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from matloop.protocols import Surrogate


def _gp(bounds: np.ndarray | None, seed: int, warm_start: Mapping[str, Any] | None,
        fit_points: int) -> Surrogate:
    from matloop.surrogates.gp import GaussianProcess

    return GaussianProcess(bounds=bounds, seed=seed, warm_start=warm_start,
                           fit_points=fit_points)


def _ensemble(bounds: np.ndarray | None, seed: int, warm_start: Mapping[str, Any] | None,
              fit_points: int) -> Surrogate:
    from matloop.surrogates.ensemble import DeepEnsemble

    return DeepEnsemble(bounds=bounds, seed=seed)


def _forest(bounds: np.ndarray | None, seed: int, warm_start: Mapping[str, Any] | None,
            fit_points: int) -> Surrogate:
    from matloop.surrogates.ensemble import Forest

    return Forest(seed=seed)


# (bounds, seed, warm_start, fit_points) -> surrogate
SurrogateFactory = Callable[[np.ndarray | None, int, Mapping[str, Any] | None, int], Surrogate]
FIT_POINTS = 1000
SURROGATES: dict[str, SurrogateFactory] = {"gp": _gp, "ensemble": _ensemble, "forest": _forest}


def make_surrogate(kind: str, bounds: np.ndarray | None = None, seed: int = 0,
                   warm_start: Mapping[str, Any] | None = None,
                   fit_points: int = FIT_POINTS) -> Surrogate:
    """A fresh surrogate of ``kind``; ``bounds`` ``(2, d)`` are the pool's feature bounds,
    ``warm_start`` a previous fit's ``hyperparameters()`` to start from, ``fit_points``
    the most observations a GP fits its hyperparameters on."""
    try:
        factory = SURROGATES[kind]
    except KeyError:
        raise ValueError(f"unknown surrogate {kind!r}; known: {sorted(SURROGATES)}") from None
    return factory(bounds, seed, warm_start, fit_points)
