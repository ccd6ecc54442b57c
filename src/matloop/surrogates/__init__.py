"""Surrogate models with a fit/predict contract, each exposed as a BoTorch ``Model``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from matloop.protocols import Surrogate

FIT_POINTS = 1000
EXACT_LIMIT = 2000


@dataclass(frozen=True)
class SurrogateOptions:
    """How to build a surrogate.

    ``bounds`` ``(2, d)``: the pool's feature bounds (inputs are normalised to them);
    ``seed`` fixes the fit; ``warm_start``: a previous fit's ``hyperparameters()`` to start
    from; ``fit_points``: the most observations an exact GP fits its hyperparameters on;
    ``exact_limit``: beyond this many observations of a property the GP is a sparse
    variational one; ``folds``: k of the cross-validation that ``auto`` compares kinds
    by; ``reselect``: whether ``auto`` compares kinds in this fit (else it keeps the kind
    ``warm_start`` records); ``prior``, ``kernel``, ``warp`` (columns modelled after a fitted
    Yeo-Johnson transform), ``restarts`` and ``noise`` (``"homoscedastic"`` or
    ``"heteroscedastic"``), ``groups`` (one-hot blocks whose option correlations are
    learnt): a GP's, see ``gp.GaussianProcess``.
    """

    bounds: np.ndarray | None = None
    seed: int = 0
    warm_start: Mapping[str, Any] | None = None
    fit_points: int = FIT_POINTS
    exact_limit: int = EXACT_LIMIT
    folds: int = 5
    reselect: bool = True
    prior: str = "dimension-scaled"
    kernel: str = "rbf"
    warp: tuple[int, ...] = ()
    restarts: int = 1
    noise: str = "homoscedastic"
    groups: tuple[tuple[int, ...], ...] = ()


def _gp(options: SurrogateOptions) -> Surrogate:
    from matloop.surrogates.gp import GaussianProcess

    return GaussianProcess(bounds=options.bounds, seed=options.seed,
                           warm_start=options.warm_start, fit_points=options.fit_points,
                           exact_limit=options.exact_limit, prior=options.prior,
                           kernel=options.kernel, warp=options.warp,
                           restarts=options.restarts, noise=options.noise,
                           groups=options.groups)


def _ensemble(options: SurrogateOptions) -> Surrogate:
    from matloop.surrogates.ensemble import DeepEnsemble

    return DeepEnsemble(bounds=options.bounds, seed=options.seed)


def _forest(options: SurrogateOptions) -> Surrogate:
    from matloop.surrogates.ensemble import Forest

    return Forest(seed=options.seed)


def _auto(options: SurrogateOptions) -> Surrogate:
    from matloop.surrogates.auto import AutoSurrogate

    return AutoSurrogate(options)


SurrogateFactory = Callable[[SurrogateOptions], Surrogate]
SURROGATES: dict[str, SurrogateFactory] = {"gp": _gp, "ensemble": _ensemble, "forest": _forest,
                                           "auto": _auto}


def make_surrogate(kind: str, **options: Any) -> Surrogate:
    """A fresh surrogate of ``kind``; ``options`` are fields of ``SurrogateOptions``."""
    try:
        factory = SURROGATES[kind]
    except KeyError:
        raise ValueError(f"unknown surrogate {kind!r}; known: {sorted(SURROGATES)}") from None
    return factory(SurrogateOptions(**options))


def describe_model(hyperparameters: Mapping[str, Any]) -> str:
    """A cycle's model in words, from its recorded hyperparameters: the kind ``auto``
    chose and why, a transfer GP's related campaigns, or a GP's sparse approximation;
    "" for the plain default."""
    words = []
    auto = hyperparameters.get("auto")
    if auto:
        scores = ", ".join(f"{kind} {score:.2f}" for kind, score in auto["scores"].items())
        words.append(f"auto chose {auto['chosen']}: {auto['reason']}"
                     + (f"; nlpd {scores}" if scores else ""))
    if hyperparameters.get("kind") == "transfer-gp":
        words.append("multi-task GP with the related "
                     + ", ".join(hyperparameters["transfer"]["related"]))
    if hyperparameters.get("approximation"):
        inducing = "/".join(str(m) for m in hyperparameters["inducing"])
        words.append(f"sparse variational GP, {inducing} inducing points (more "
                     "observations than exact_limit)")
    return "; ".join(words)
