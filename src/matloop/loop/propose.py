"""Choosing a cycle's candidates: an initial design until the model has data, then
the acquisition derived from the targets (with learnt feasibility and pending points).

``Planner.choose`` picks and ``Planner.record_cycle`` records the cycle; the run
(``loop.run``) and a lab's ``propose`` (``loop.awaiting``) record and dispatch the
evaluations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matloop.campaigns.schema import BoxSpace
from matloop.loop.acquisition import derive
from matloop.loop.context import Context
from matloop.loop.initial import initial_design
from matloop.loop.model import (
    cross_validation,
    feasibility_classifier,
    fit_surrogate,
    model_seed,
    numerical_failures,
)
from matloop.store import Proposal
from matloop.surrogates import describe_model

AWAITING_LAB = "awaiting lab results"
RESULTS_IN = "lab results in: ready to propose the next batch"


@dataclass
class Choice:
    """A cycle's picks (pool rows) and how they were made. ``validate`` (the
    cross-validation, when due) runs after the picks are dispatched, so that workers do
    not wait for diagnostics the choice did not need; ``external``: the input values of
    picks refined outside the pool, by their new pool row."""

    strategy: str
    chosen: np.ndarray
    fit_s: float = 0.0
    select_s: float = 0.0
    hyperparameters: dict[str, Any] | None = None
    predicted: dict[str, Any] | None = None
    validate: Callable[[], dict[str, Any] | None] | None = None
    external: dict[int, dict[str, float | str]] = field(default_factory=dict)

    def validated_hyperparameters(self) -> dict[str, Any] | None:
        """The hyperparameters, with the cross-validation figures once it has run."""
        if self.validate is not None and self.hyperparameters is not None:
            validation = self.validate()
            self.validate = None
            if validation is not None:
                self.hyperparameters["validation"] = validation
        return self.hyperparameters

    def prediction_of(self, k: int, properties: tuple[str, ...]) -> dict[str, Any]:
        """What the model predicted for the k-th pick (JSON-able), with the strategy."""
        out: dict[str, Any] = {"strategy": self.strategy}
        if self.predicted:
            out["mean"] = dict(zip(properties, self.predicted["mean"][k], strict=True))
            out["std"] = dict(zip(properties, self.predicted["std"][k], strict=True))
            for name in ("hit_probability", "success_probability"):
                if name in self.predicted:
                    out[name] = self.predicted[name][k]
        return out


class Planner:
    """Chooses and records cycles of one opened campaign."""

    def __init__(self, context: Context) -> None:
        self.x = context
        self.c = context.campaign

    def choose(self, indices: list[int], values: np.ndarray, available: np.ndarray,
               planned: int, remaining: int, cycle: int, pending: list[int] | None = None,
               batch_size: int | None = None) -> Choice:
        """The cycle's picks. ``planned`` counts the evaluations planned so far;
        ``remaining`` caps the picks; ``pending`` are pool rows in flight, which the
        acquisition treats as pending points; ``batch_size`` overrides the campaign's."""
        loop = self.c.loop
        batch = batch_size or loop.batch_size
        too_few = len(indices) == 0 or np.isfinite(values).sum(axis=0).min() < 2
        if planned < loop.initial or too_few or loop.acquisition == "random":
            q = min(loop.initial - planned if planned < loop.initial else batch, remaining)
            if batch_size is not None:
                q = min(q, batch_size)
            if planned < loop.initial:
                return Choice("initial", initial_design(
                    loop.initial_design, self.x.space.features, available, q,
                    self.c.campaign.seed, cycle))
            return Choice("random", self.random(available, q, cycle))
        q = min(batch, remaining)
        try:
            return self.model_based(indices, values, available, q, cycle, pending)
        except numerical_failures() as exc:  # a random cycle beats a crash
            strategy = f"random (model failed: {type(exc).__name__}: {exc})"[:500]
            return Choice(strategy, self.random(available, q, cycle))

    def random(self, available: np.ndarray, q: int, cycle: int) -> np.ndarray:
        rng = np.random.default_rng([self.c.campaign.seed, cycle])
        choices = np.flatnonzero(available)
        return rng.choice(choices, size=min(q, len(choices)), replace=False)

    def model_based(self, indices: list[int], values: np.ndarray, available: np.ndarray,
                    q: int, cycle: int, pending: list[int] | None = None) -> Choice:
        """Fit, score and select; also the model's prediction for the chosen candidates."""
        from matloop.loop.acquisition import builder, select

        x, targets, features = self.x, self.x.targets, self.x.space.features
        seed = model_seed(self.c, cycle)
        start = time.perf_counter()
        surrogate = fit_surrogate(self.c, x.store, x.campaign_id, x.space, targets.properties,
                                  seed, cycle, x.related if self.c.campaign.related else None)
        classifier = feasibility_classifier(self.c, x.store, x.campaign_id, x.space, seed)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        choices = np.flatnonzero(available)
        reference = x.keeper.reference_point(values, choose=True)
        success = None if classifier is None else classifier.probability
        picked = select(self.c.loop.acquisition, surrogate, features[choices],
                        features[indices], values, targets, q, seed=seed,
                        X_pending=features[pending] if pending else None,
                        beta=self.c.loop.beta, incumbent=self.c.loop.incumbent,
                        reference=reference, success=success,
                        min_success=self.c.surrogate.min_success_probability)
        chosen, external = choices[picked], dict[int, dict[str, Any]]()
        if isinstance(self.c.space, BoxSpace) and self.c.space.refine and \
                derive(targets, self.c.loop.acquisition) != "thompson":
            chosen, external = self.refined(builder(
                self.c.loop.acquisition, surrogate, features[indices], values, targets,
                seed, self.c.loop.beta, reference, success, self.c.loop.incumbent, True),
                chosen, pending)
            features = x.space.features
        select_s = time.perf_counter() - start
        prediction = surrogate.predict(features[chosen])
        predicted = {"mean": prediction.mean.tolist(), "std": prediction.std.tolist()}
        if targets.bounds:
            predicted["hit_probability"] = targets.hit_probability(
                prediction.mean, prediction.std).tolist()
        hyperparameters = surrogate.hyperparameters()
        if classifier is not None:
            predicted["success_probability"] = classifier.probability(
                features[chosen]).tolist()
            hyperparameters["feasibility"] = classifier.hyperparameters()
        if external:
            hyperparameters["refined"] = len(external)
        done = getattr(surrogate, "cross_validation", None)
        return Choice(derive(targets, self.c.loop.acquisition), chosen, fit_s, select_s,
                      hyperparameters, predicted,
                      lambda: cross_validation(self.c, x.space, targets.properties, cycle,
                                               indices, values, hyperparameters, seed, done),
                      external)

    def refined(self, build: Callable[[Any], Any], chosen: np.ndarray,
                pending: list[int] | None) -> tuple[np.ndarray, dict[int, dict[str, Any]]]:
        """A box space's picks ``chosen`` refined continuously (``loop.refine``): the
        picks, with new pool rows for those refined, and the new rows' input values."""
        from matloop.loop.refine import refine
        from matloop.spaces.region import Region

        space = self.x.space
        assert isinstance(self.c.space, BoxSpace)
        found = refine(build, Region.of(self.c.space, space), chosen,
                       space.features[pending] if pending else None)
        new = {k: values for k, values in enumerate(found) if values is not None}
        if not new:
            return chosen, {}
        external = self.x.grow(list(new.values()))
        chosen = chosen.copy()
        chosen[list(new)] = list(external)
        return chosen, external

    def proposals(self, choice: Choice) -> list[Proposal]:
        pool = self.x.space.pool
        return [Proposal(int(i), pool.key(int(i)), pool.candidate(int(i)).label,
                         external=choice.external.get(int(i)))
                for i in choice.chosen]

    def record_cycle(self, cycle: int, choice: Choice, n_train: int, n_proposed: int,
                     values: np.ndarray) -> None:
        x = self.x
        x.store.record_cycle(x.campaign_id, cycle, choice.strategy, n_train=n_train,
                             n_proposed=n_proposed, fit_s=choice.fit_s,
                             select_s=choice.select_s,
                             hyperparameters=choice.validated_hyperparameters(),
                             best=x.keeper.best_record(values), predicted=choice.predicted)

    def describe(self, choice: Choice, cycle: int, proposed: int | str, in_flight: int
                 ) -> str:
        """The progress line of a launched cycle."""
        model = describe_model(choice.hyperparameters or {})
        return (f"cycle {cycle}: {choice.strategy} proposed {proposed}"
                + (f" ({model})" if model else "")
                + (f", {in_flight} more in flight" if in_flight else ""))
