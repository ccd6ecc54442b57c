"""The cycle's models: the surrogate (warm-started from the last cycle), the feasibility
classifier learnt from failures, and the surrogate's cross-validation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.campaigns.schema import Campaign
from matloop.protocols import Surrogate
from matloop.spaces.featurised import Featurised
from matloop.store import Store
from matloop.surrogates import make_surrogate
from matloop.surrogates.feasibility import FeasibilityClassifier

if TYPE_CHECKING:
    from matloop.loop.related import RelatedData


def numerical_failures() -> tuple[type[Exception], ...]:
    """The errors of a GP that cannot be fitted or scored on the data at hand."""
    from botorch.exceptions.errors import ModelFittingError
    from linear_operator.utils.errors import NotPSDError

    return ModelFittingError, NotPSDError


def model_seed(campaign: Campaign, cycle: int) -> int:
    """The seed of cycle ``cycle``'s models (one stream per campaign seed and cycle)."""
    return campaign.campaign.seed * 1_000_003 + cycle


def fit_surrogate(campaign: Campaign, store: Store, campaign_id: int, space: Featurised,
                  properties: tuple[str, ...], seed: int, cycle: int | None = None,
                  related: Sequence[RelatedData] | None = None) -> Surrogate:
    """The surrogate fitted on every observation of ``properties``.

    With ``cycle`` (a loop cycle) it is warm-started from the last cycle except every
    ``cold_start_every``-th, and ``auto`` re-compares kinds on validation cycles; without
    (ranking, reports) it starts from the latest hyperparameters and compares nothing.
    With ``[[campaign.related]]`` it is the transfer GP (``surrogates.transfer``) over
    ``related`` (loaded here when not given), once every property has two values."""
    settings = campaign.surrogate
    latest = store.latest_hyperparameters(campaign_id)
    rows, observed = store.observations(campaign_id, properties)
    Y = np.asarray(observed, dtype=float).reshape(len(rows), len(properties))
    if campaign.campaign.related and (np.isfinite(Y).sum(axis=0) >= 2).all():
        from matloop.loop.related import load_related
        from matloop.surrogates.transfer import fit_transfer

        if related is None:
            related = load_related(campaign.campaign.related, space, properties)
        return fit_transfer(space.bounds, space.features[rows], Y,
                            [(r.name, r.features, r.values) for r in related],
                            properties, seed, latest)
    if cycle is None:
        warm, compare = latest, False
    else:
        warm = latest if settings.warm_start and cycle % settings.cold_start_every else None
        compare = bool(settings.validate_every) and cycle % settings.validate_every == 0
        if settings.kind == "auto" and not warm:  # the last choice of kind, even when cold
            warm = {"auto": (latest or {}).get("auto")}
    surrogate = make_surrogate(settings.kind, bounds=space.bounds, seed=seed,
                               warm_start=warm, fit_points=settings.fit_points,
                               exact_limit=settings.exact_limit, folds=settings.folds,
                               reselect=compare, prior=settings.prior,
                               kernel=settings.kernel, restarts=settings.restarts,
                               noise=settings.noise, groups=space.groups,
                               warp=warped_columns(campaign, properties))
    surrogate.fit(space.features[rows], Y)
    return surrogate


def warped_columns(campaign: Campaign, properties: tuple[str, ...]) -> tuple[int, ...]:
    """Columns of ``properties`` the GP models after a Yeo-Johnson warp: with
    ``warp = "power"``, the one optimised property of a single-objective set when no
    range target is on it (a monotone warp keeps the order that expected improvement
    needs; ranges and hypervolumes are in the property's units)."""
    if campaign.surrogate.warp == "none":
        return ()
    optimised = [t for t in campaign.targets if t.optimised]
    if len(optimised) != 1 or optimised[0].property not in properties:
        return ()
    name = optimised[0].property
    if any(not t.optimised for t in campaign.targets if t.property == name):
        return ()
    return (properties.index(name),)


def feasibility_classifier(campaign: Campaign, store: Store, campaign_id: int,
                           space: Featurised, seed: int) -> FeasibilityClassifier | None:
    """P(success) learnt from the finished evaluations: successes against failures whose
    reason is in ``[surrogate] feasibility_reasons``; None when switched off or when there
    is no such failure (or no success) yet."""
    settings = campaign.surrogate
    if not settings.feasibility:
        return None
    labelled = [(f.pool_index, f.succeeded) for f in store.finished(campaign_id)
                if f.succeeded or f.reason in settings.feasibility_reasons]
    succeeded = np.array([ok for _, ok in labelled], dtype=bool)
    if not len(succeeded) or succeeded.all() or not succeeded.any():
        return None
    rows = [index for index, _ in labelled]
    return FeasibilityClassifier(space.bounds, seed=seed).fit(space.features[rows],
                                                              succeeded)


def cross_validation(campaign: Campaign, space: Featurised, properties: tuple[str, ...],
                     cycle: int, indices: list[int], values: np.ndarray,
                     hyperparameters: dict[str, Any], seed: int,
                     done: dict[int, dict[str, Any]] | None) -> dict[str, Any] | None:
    """k-fold cross-validation of each property's model on ``validate_every``-th cycles
    (None on the others): figures per property name, plus ``seconds``. GP folds start
    from this cycle's fitted hyperparameters. ``done``: the figures when fitting already
    cross-validated the model (``auto`` comparing kinds)."""
    from matloop.surrogates.validation import cross_validate

    settings = campaign.surrogate
    if not settings.validate_every or cycle % settings.validate_every:
        return None
    if hyperparameters.get("kind") == "transfer-gp":  # its folds would need the related
        return None                                    # tasks; not cross-validated
    raw = hyperparameters.get("raw") or []
    kind = (hyperparameters.get("auto") or {}).get("chosen", settings.kind)

    def make(j: int) -> Any:
        warm = {"raw": [raw[j]]} if j < len(raw) else None
        return make_surrogate(kind, bounds=space.bounds, seed=seed, warm_start=warm,
                              fit_points=settings.fit_points, exact_limit=settings.exact_limit,
                              prior=settings.prior, kernel=settings.kernel,
                              restarts=settings.restarts, noise=settings.noise,
                              groups=space.groups, warp=warped_columns(campaign, properties))

    start = time.perf_counter()
    figures = done if done is not None else cross_validate(
        make, space.features[indices], values, settings.folds, seed)
    return {"seconds": time.perf_counter() - start,
            **{properties[j]: f for j, f in figures.items()}}
