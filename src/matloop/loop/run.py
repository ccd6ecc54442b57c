"""The run: cycles of fit -> select -> evaluate -> record, resumable from the store alone.

Every proposal is written before it is dispatched and every outcome as it arrives, so a
run killed at any moment resumes with ``run`` again: unfinished evaluations are run again
(their ``attempt`` counted when they had started), finished ones never.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

from matloop.campaigns.schema import SEARCH_SECTIONS, Campaign
from matloop.campaigns.spaces import Pool
from matloop.campaigns.targets import TargetSet
from matloop.errors import ExecutorLost, OracleFailing, StoreError
from matloop.loop.acquisition import derive
from matloop.loop.evaluate import evaluate
from matloop.loop.executor import Executor, check_executor, make_executor
from matloop.loop.space import Featurised, featurise
from matloop.oracles import build_oracle
from matloop.protocols import Oracle, Outcome
from matloop.store import Pending, Proposal, Store
from matloop.surrogates import describe_model, make_surrogate
from matloop.surrogates.feasibility import FeasibilityClassifier


@dataclass(frozen=True)
class Prepared(Featurised):
    """Everything a run needs besides the store: checked before a database is touched."""

    campaign: Campaign
    oracle: Oracle


@dataclass(frozen=True)
class Progress:
    """Reported after each cycle is planned and after each evaluation is recorded."""

    cycle: int
    finished: int
    failed: int
    budget: int
    best: float | None  # best objective value (among hits when there are range targets)
    hits: int | None  # None when the set has no range targets
    message: str
    hypervolume: float | None = None  # of the measured Pareto front (multi-objective)
    in_flight: int = 0  # evaluations proposed or running


@dataclass(frozen=True)
class RunResult:
    campaign_id: int
    stop_reason: str
    counts: dict[str, int]
    best: float | None
    hits: int
    hypervolume: float | None = None


ProgressCallback = Callable[[Progress], None]


def numerical_failures() -> tuple[type[Exception], ...]:
    """The errors of a GP that cannot be fitted or scored on the data at hand."""
    from botorch.exceptions.errors import ModelFittingError
    from linear_operator.utils.errors import NotPSDError

    return ModelFittingError, NotPSDError


def feasibility_classifier(campaign: Campaign, store: Store, campaign_id: int,
                           prepared: Featurised, seed: int) -> FeasibilityClassifier | None:
    """P(success) learned from the finished evaluations: successes against failures whose
    reason is in ``[surrogate] feasibility_reasons``; None when switched off or when there
    is no such failure (or no success) yet."""
    settings = campaign.surrogate
    if not settings.feasibility:
        return None
    labelled = [(index, ok) for index, ok, reason in store.finished(campaign_id)
                if ok or reason in settings.feasibility_reasons]
    succeeded = np.array([ok for _, ok in labelled], dtype=bool)
    if not len(succeeded) or succeeded.all() or not succeeded.any():
        return None
    rows = [index for index, _ in labelled]
    return FeasibilityClassifier(prepared.bounds, seed=seed).fit(prepared.features[rows],
                                                                 succeeded)


def check_pool_unchanged(store: Store, campaign_id: int, pool: Pool) -> None:
    """Raise ``StoreError`` unless every stored candidate is still the same row of ``pool``."""
    for key, index in store.tried_pool_indices(campaign_id).items():
        if index >= len(pool) or pool.key(index) != key:
            raise StoreError(f"the candidate pool changed since this campaign was "
                             f"started (candidate {key!r} is no longer row {index}); "
                             "use a new campaign name or --db")


def prepare(campaign: Campaign) -> Prepared:
    """Check the executor, build the oracle, then the featurised pool (``featurise``);
    raises ``ConfigError`` on any invalid input."""
    check_executor(campaign.executor)
    oracle = build_oracle(campaign)  # first: a bad oracle section leaves no feature cache
    space = featurise(campaign)
    return Prepared(space.pool, space.features, space.bounds, space.names, campaign, oracle)


def run(campaign: Campaign, on_progress: ProgressCallback | None = None) -> RunResult:
    """Start or resume ``campaign`` until its budget is spent or its pool exhausted.

    A lab campaign (``[oracle] kind = "lab"``) records one batch as awaiting instead and
    stops ("awaiting lab results"); ``matloop.lab.proposals`` writes its file."""
    if campaign.oracle.kind == "lab":
        return propose_lab(campaign, on_progress=on_progress).result
    prepared, store, campaign_id = _open(campaign)
    with store.lock(campaign_id):
        _import_prior(campaign, store, campaign_id)
        return _Runner(prepared, store, campaign_id, on_progress or (lambda _: None)).run()


def _open(campaign: Campaign) -> tuple[Prepared, Store, int]:
    prepared = prepare(campaign)
    store = Store(campaign.database_url)
    campaign_id = store.campaign_id(campaign.campaign.name, campaign.model_dump(mode="json"),
                                    fixed=SEARCH_SECTIONS)
    return prepared, store, campaign_id


def _import_prior(campaign: Campaign, store: Store, campaign_id: int) -> None:
    """Import ``[campaign] prior`` once: before the first cycle of the first run (when
    the campaign has no evaluation yet)."""
    if campaign.campaign.prior is None or store.next_cycle(campaign_id) > 0 or \
            sum(store.counts(campaign_id).values()) > 0:
        return
    from matloop.lab.importer import import_results

    import_results(campaign, campaign.campaign.prior, allow_new=False, prior=True)


@dataclass(frozen=True)
class LabBatch:
    """A lab campaign's awaiting batch (``awaiting`` rows as ``Store.awaiting`` gives them,
    with the model's predictions in their provenance); ``new`` is False when nothing was
    proposed (a batch was already awaiting, or the campaign is done: ``result.stop_reason``)."""

    result: RunResult
    awaiting: list[dict[str, Any]]
    new: bool
    prepared: Prepared


AWAITING_LAB = "awaiting lab results"


def propose_lab(campaign: Campaign, batch: int | None = None, more: bool = False,
                on_progress: ProgressCallback | None = None) -> LabBatch:
    """Propose one batch of a lab campaign (the cycle's usual choice: random design, then
    the acquisition with the feasibility classifier) and record it as ``awaiting``.

    While a batch awaits results nothing new is proposed unless ``more``; ``batch`` sets
    the number of candidates (the initial design is never exceeded)."""
    prepared, store, campaign_id = _open(campaign)
    with store.lock(campaign_id):
        _import_prior(campaign, store, campaign_id)
        runner = _Runner(_with_batch(prepared, store, campaign_id, batch), store, campaign_id,
                         on_progress or (lambda _: None))
        new = runner.propose_lab(more)
        awaiting = store.awaiting(campaign_id)
        reason = AWAITING_LAB if awaiting else (new or "nothing awaiting")
        store.set_stop_reason(campaign_id, reason)
        _, values = runner._training()
        result = RunResult(campaign_id, reason, store.counts(campaign_id),
                           runner.targets.best(values), int(runner.targets.hits(values).sum()),
                           runner._hypervolume(values))
        return LabBatch(result, awaiting, new == AWAITING_LAB, prepared)


def _with_batch(prepared: Prepared, store: Store, campaign_id: int, batch: int | None
                ) -> Prepared:
    """``prepared`` whose loop proposes ``batch`` candidates (``--batch``)."""
    if batch is None:
        return prepared
    from dataclasses import replace

    if batch < 1:
        from matloop.errors import ConfigError

        raise ConfigError("--batch must be at least 1")
    loop = prepared.campaign.loop
    counts = store.counts(campaign_id)
    planned = counts["succeeded"] + counts["failed"] + counts.get("awaiting", 0)
    initial = min(loop.initial, planned + batch) if planned < loop.initial else loop.initial
    changed = loop.model_copy(update={"batch_size": batch, "initial": initial})
    return replace(prepared, campaign=prepared.campaign.model_copy(update={"loop": changed}))


def _lab_prediction(strategy: str, predicted: dict | None, k: int,
                    properties: tuple[str, ...]) -> dict[str, Any]:
    """What the model predicted for the k-th pick of a lab batch (JSON-able)."""
    out: dict[str, Any] = {"strategy": strategy}
    if predicted:
        out["mean"] = dict(zip(properties, predicted["mean"][k], strict=True))
        out["std"] = dict(zip(properties, predicted["std"][k], strict=True))
        for name in ("hit_probability", "success_probability"):
            if name in predicted:
                out[name] = predicted[name][k]
    return out


@dataclass
class _Choice:
    """A cycle's picks (pool rows) and how they were made. ``validate`` (the
    cross-validation, when due) runs after the picks are dispatched, so that workers do
    not wait for diagnostics the choice did not need."""

    strategy: str
    chosen: np.ndarray
    fit_s: float = 0.0
    select_s: float = 0.0
    hyperparameters: dict[str, Any] | None = None
    predicted: dict[str, Any] | None = None
    validate: Callable[[], dict[str, Any] | None] | None = None

    def validated_hyperparameters(self) -> dict[str, Any] | None:
        """The hyperparameters, with the cross-validation figures once it has run."""
        if self.validate is not None and self.hyperparameters is not None:
            validation = self.validate()
            self.validate = None
            if validation is not None:
                self.hyperparameters["validation"] = validation
        return self.hyperparameters


@dataclass(frozen=True)
class _Task:
    """An evaluation handed to the executor: its attempt, re-runs so far and cycle."""

    item: Pending
    attempt: int
    retried: int
    cycle: int


class _Runner:
    """One run of one campaign; holds only what can be rebuilt from the store."""

    def __init__(self, prepared: Prepared, store: Store, campaign_id: int,
                 on_progress: ProgressCallback) -> None:
        self.p = prepared
        self.c = prepared.campaign
        self.store = store
        self.id = campaign_id
        self.on_progress = on_progress
        self.targets = TargetSet.from_targets(self.c.targets)
        self.executor: Executor | None = None  # started on first use
        self.reference: np.ndarray | None = None  # signed, fixed once chosen (multi-objective)
        self.finished_before = len(store.finished(campaign_id))  # by earlier runs

    def run(self) -> RunResult:
        self._check_pool_unchanged()
        self.store.set_stop_reason(self.id, None)
        removed = self.p.pool.duplicates_removed
        if removed:
            self._report(self.store.next_cycle(self.id),
                         f"pool: {len(self.p.pool)} candidates, {removed} repeated "
                         f"structure{'s' if removed != 1 else ''} removed")
        try:
            resumed = self.store.requeue_in_flight(self.id)
            if self.c.loop.mode == "async":
                reason = self._async(resumed)
            else:
                if resumed:
                    self._dispatch(resumed, cycle=self.store.next_cycle(self.id) - 1)
                reason = self._cycles()
        except (OracleFailing, ExecutorLost) as exc:
            self.store.set_stop_reason(self.id, str(exc))
            raise
        finally:
            if self.executor is not None:
                self.executor.shutdown()
        self.store.set_stop_reason(self.id, reason)
        _, values = self._training()
        return RunResult(self.id, reason, self.store.counts(self.id),
                         self.targets.best(values), int(self.targets.hits(values).sum()),
                         self._hypervolume(values))

    def propose_lab(self, more: bool) -> str:
        """Record the next batch as awaiting lab results; returns ``AWAITING_LAB``, or why
        nothing was proposed (a batch awaits and not ``more``, budget, pool exhausted, a
        stopping rule)."""
        self._check_pool_unchanged()
        loop = self.c.loop
        waiting = len(self.store.awaiting(self.id))
        if waiting and not more:
            return "a batch is awaiting results"
        counts = self.store.counts(self.id)
        finished = counts["succeeded"] + counts["failed"]
        remaining = loop.budget - finished - waiting
        if remaining <= 0:
            return "budget"
        available = self._untried()
        if not available.any():
            return "pool exhausted"
        indices, values = self._training()
        cycle = self.store.next_cycle(self.id)
        if cycle > 0:  # the last batch's results are in (as far as they came)
            self.store.finish_cycle(self.id, cycle - 1, self._best_record(values))
        stop = self._stop_rule(values)
        if stop is not None:
            return stop
        choice = self._choose(indices, values, available, finished + waiting, remaining,
                              cycle)
        proposals = self._proposals(choice)
        self.store.propose_awaiting(self.id, cycle, proposals,
                                    [{"lab": _lab_prediction(choice.strategy, choice.predicted,
                                                             k, self.targets.properties)}
                                     for k in range(len(proposals))])
        self._record_cycle(cycle, choice, len(indices), len(proposals), values)
        self._report(cycle, f"cycle {cycle}: {choice.strategy} proposed {len(proposals)} to "
                     "the lab")
        return AWAITING_LAB

    def _cycles(self) -> str:
        while True:
            running: dict[Future[Outcome], _Task] = {}
            stop = self._propose(running)
            if stop is not None:
                return stop
            cycle = next(iter(running.values())).cycle
            while running:
                self._collect(running)
            self.store.finish_cycle(self.id, cycle, self._best_record(self._training()[1]))

    def _choose(self, indices: list[int], values: np.ndarray, available: np.ndarray,
                finished: int, remaining: int, cycle: int, pending: list[int] | None = None
                ) -> _Choice:
        """The cycle's picks: a random design until the model has data, then the
        acquisition.

        ``finished`` counts the evaluations planned so far; ``remaining`` caps the picks;
        ``pending`` are pool rows in flight (async mode), which the acquisition treats as
        pending points."""
        loop = self.c.loop
        too_few = len(indices) == 0 or np.isfinite(values).sum(axis=0).min() < 2
        if finished < loop.initial or too_few or loop.acquisition == "random":
            q = min(loop.initial - finished if finished < loop.initial else loop.batch_size,
                    remaining)
            strategy = "initial" if finished < loop.initial else "random"
            return _Choice(strategy, self._random(available, q, cycle))
        q = min(loop.batch_size, remaining)
        try:
            return self._model_based(indices, values, available, q, cycle, pending)
        except numerical_failures() as exc:  # a random cycle beats a crash
            strategy = f"random (model failed: {type(exc).__name__}: {exc})"[:500]
            return _Choice(strategy, self._random(available, q, cycle))

    def _training(self) -> tuple[list[int], np.ndarray]:
        """Pool rows of measured candidates and their mean values ``(n, m)``."""
        properties = self.targets.properties
        indices, values = self.store.training_data(self.id, properties)
        return indices, np.asarray(values, dtype=float).reshape(len(indices), len(properties))

    def _untried(self) -> np.ndarray:
        """``(N,)`` bool: pool rows never proposed in this campaign."""
        available = np.ones(len(self.p.pool), dtype=bool)
        available[list(self.store.tried_pool_indices(self.id).values())] = False
        return available

    def _stop_rule(self, values: np.ndarray, available: np.ndarray | None = None
                   ) -> str | None:
        """The reason to stop before the next cycle (pool exhausted, hits found, no
        progress), if any."""
        if available is not None and not available.any():
            return "pool exhausted"
        loop = self.c.loop
        hits = int(self.targets.hits(values).sum())
        if loop.stop_after_hits is not None and hits >= loop.stop_after_hits:
            return f"found {hits} hits (stop_after_hits = {loop.stop_after_hits})"
        if loop.patience is not None:
            history = [json.loads(c.best or "{}").get("progress") for c in
                       self.store.cycles(self.id) if c.strategy != "initial"]
            history = [h for h in history if h is not None]
            if len(history) > loop.patience and \
                    max(history[-loop.patience:]) <= max(history[:-loop.patience]):
                return f"no progress in {loop.patience} cycles (patience)"
        return None

    def _random(self, available: np.ndarray, q: int, cycle: int) -> np.ndarray:
        rng = np.random.default_rng([self.c.campaign.seed, cycle])
        choices = np.flatnonzero(available)
        return rng.choice(choices, size=min(q, len(choices)), replace=False)

    def _model_based(self, indices: list[int], values: np.ndarray, available: np.ndarray,
                     q: int, cycle: int, pending: list[int] | None = None) -> _Choice:
        """Fit, score and select; also the model's prediction for the chosen candidates."""
        from matloop.loop.acquisition import select

        seed = self.c.campaign.seed * 1_000_003 + cycle
        start = time.perf_counter()
        settings = self.c.surrogate
        warm = None
        if settings.warm_start and cycle % settings.cold_start_every != 0:
            warm = self.store.latest_hyperparameters(self.id)
        compare = bool(settings.validate_every) and cycle % settings.validate_every == 0
        if settings.kind == "auto" and not warm:  # the last choice of kind, even when cold
            warm = {"auto": (self.store.latest_hyperparameters(self.id) or {}).get("auto")}
        surrogate = make_surrogate(settings.kind, bounds=self.p.bounds, seed=seed,
                                   warm_start=warm, fit_points=settings.fit_points,
                                   exact_limit=settings.exact_limit, folds=settings.folds,
                                   reselect=compare)
        rows, observed = self.store.observations(self.id, self.targets.properties)
        surrogate.fit(self.p.features[rows], np.asarray(observed, dtype=float))
        classifier = feasibility_classifier(self.c, self.store, self.id, self.p, seed)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        choices = np.flatnonzero(available)
        picked = select(self.c.loop.acquisition, surrogate, self.p.features[choices],
                        self.p.features[indices], values, self.targets, q, seed=seed,
                        X_pending=self.p.features[pending] if pending else None,
                        beta=self.c.loop.beta, reference=self._reference(values, choose=True),
                        success=None if classifier is None else classifier.probability,
                        min_success=settings.min_success_probability)
        select_s = time.perf_counter() - start
        chosen = choices[picked]
        prediction = surrogate.predict(self.p.features[chosen])
        predicted = {"mean": prediction.mean.tolist(), "std": prediction.std.tolist()}
        if self.targets.bounds:
            predicted["hit_probability"] = self.targets.hit_probability(
                prediction.mean, prediction.std).tolist()
        hyperparameters = surrogate.hyperparameters()
        if classifier is not None:
            predicted["success_probability"] = classifier.probability(
                self.p.features[chosen]).tolist()
            hyperparameters["feasibility"] = classifier.hyperparameters()
        done = getattr(surrogate, "cross_validation", None)
        return _Choice(derive(self.targets, self.c.loop.acquisition), chosen, fit_s, select_s,
                       hyperparameters, predicted,
                       lambda: self._validate(cycle, indices, values, hyperparameters, seed,
                                              done))

    def _validate(self, cycle: int, indices: list[int], values: np.ndarray,
                  hyperparameters: dict[str, Any], seed: int,
                  done: dict[int, dict[str, Any]] | None) -> dict[str, Any] | None:
        """k-fold cross-validation of each property's model (every ``validate_every``-th
        cycle): figures per property name, plus ``seconds``. GP folds start from this
        cycle's fitted hyperparameters. ``done``: the figures when fitting already
        cross-validated the model (``auto`` comparing kinds)."""
        from matloop.surrogates.validation import cross_validate

        settings = self.c.surrogate
        if not settings.validate_every or cycle % settings.validate_every:
            return None
        raw = hyperparameters.get("raw") or []
        kind = (hyperparameters.get("auto") or {}).get("chosen", settings.kind)

        def make(j: int) -> Any:
            warm = {"raw": [raw[j]]} if j < len(raw) else None
            return make_surrogate(kind, bounds=self.p.bounds, seed=seed, warm_start=warm,
                                  fit_points=settings.fit_points,
                                  exact_limit=settings.exact_limit)

        start = time.perf_counter()
        figures = done if done is not None else cross_validate(
            make, self.p.features[indices], values, settings.folds, seed)
        return {"seconds": time.perf_counter() - start,
                **{self.targets.properties[j]: f for j, f in figures.items()}}

    def _dispatch(self, pending: Iterable[Pending], cycle: int) -> None:
        """Run a batch of evaluations, recording each outcome as it arrives."""
        running: dict[Future[Outcome], _Task] = {}
        for item in pending:
            self._start(running, _Task(item, item.attempt, 0, cycle))
        while running:
            self._collect(running)

    def _async(self, resumed: list[Pending]) -> str:
        """Asynchronous mode: keep ``[executor] workers`` evaluations running and
        ``[loop] queued`` more waiting for a free worker. Each one that finishes is
        recorded and replaced by one new proposal, chosen by a model refit on everything
        finished, with the ones still in flight as pending points."""
        running: dict[Future[Outcome], _Task] = {}
        cycle = self.store.next_cycle(self.id) - 1
        for item in resumed:
            self._start(running, _Task(item, item.attempt, 0, cycle))
        stop: str | None = None
        while True:
            while stop is None and len(running) < self._slots():
                stop = self._propose(running, free=self._slots() - len(running))
            if not running:
                assert stop is not None
                return stop
            recorded = self._collect(running)
            if recorded:
                best = self._best_record(self._training()[1])
                for number in {task.cycle for task in recorded}:
                    self.store.finish_cycle(self.id, number, best)

    def _slots(self) -> int:
        return self.c.executor.workers + self.c.loop.queued

    def _propose(self, running: dict[Future[Outcome], _Task], free: int | None = None
                 ) -> str | None:
        """Propose the next cycle and start its evaluations (added to ``running``);
        returns why nothing more will be proposed, if so. ``free``: how many may start
        (async mode: one past the initial design, the others in flight being pending
        points); None: a whole batch."""
        loop = self.c.loop
        counts = self.store.counts(self.id)
        planned = counts["succeeded"] + counts["failed"] + len(running)
        if loop.budget - planned <= 0:
            return "budget"
        remaining = loop.budget - planned if free is None else min(loop.budget - planned,
                                                                    free)
        available = self._untried()
        indices, values = self._training()
        stop = self._stop_rule(values, available)
        if stop is not None:
            return stop
        cycle = self.store.next_cycle(self.id)
        in_flight = [task.item.pool_index for task in running.values()]
        choice = self._choose(indices, values, available, planned, remaining, cycle,
                              in_flight)
        self._launch(cycle, choice, len(indices), values, running)
        return None

    def _proposals(self, choice: _Choice) -> list[Proposal]:
        return [Proposal(int(i), self.p.pool.key(int(i)), self.p.pool.candidate(int(i)).label)
                for i in choice.chosen]

    def _launch(self, cycle: int, choice: _Choice, n_train: int, values: np.ndarray,
                running: dict[Future[Outcome], _Task]) -> None:
        """Record the cycle's proposals, start them, then (while they run) validate the
        model and record the cycle."""
        before = len(running)
        pending = self.store.propose(self.id, cycle, self._proposals(choice))
        for item in pending:
            self._start(running, _Task(item, item.attempt, 0, cycle))
        self._record_cycle(cycle, choice, n_train, len(pending), values)
        model = describe_model(choice.hyperparameters or {})
        self._report(cycle, f"cycle {cycle}: {choice.strategy} proposed {len(pending)}"
                     + (f" ({model})" if model else "")
                     + (f", {before} more in flight" if before else ""))

    def _record_cycle(self, cycle: int, choice: _Choice, n_train: int, n_proposed: int,
                      values: np.ndarray) -> None:
        self.store.record_cycle(self.id, cycle, choice.strategy, n_train=n_train,
                                n_proposed=n_proposed, fit_s=choice.fit_s,
                                select_s=choice.select_s,
                                hyperparameters=choice.validated_hyperparameters(),
                                best=self._best_record(values), predicted=choice.predicted)

    def _start(self, running: dict[Future[Outcome], _Task], task: _Task) -> None:
        running[self._submit(task.item)] = task
        self.store.mark_running(task.item.evaluation_id, task.attempt)

    def _collect(self, running: dict[Future[Outcome], _Task]) -> list[_Task]:
        """Wait for at least one evaluation to end and record it; returns the recorded.

        A failure whose reason is in the oracle's ``retry_on`` (by default a timeout or a
        dead worker) is run again, up to ``retries`` times, as a new attempt; only the last
        outcome is recorded. Raises ``OracleFailing`` when too many recent evaluations
        failed (in-flight ones are left to be re-run by the next ``run``).
        """
        settings = self.c.oracle
        assert self.executor is not None
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        recorded = []
        for future in done:
            task = running.pop(future)
            outcome = self.executor.outcome(future)
            if (not outcome.ok and outcome.reason in settings.retry_on
                    and task.retried < settings.retries):
                self._report(task.cycle, f"{self._label(task.item)}: {outcome.reason}, "
                             "retrying")
                self._start(running, _Task(task.item, task.attempt + 1, task.retried + 1,
                                           task.cycle))
                continue
            self._record(task.item, outcome, task.cycle)
            recorded.append(task)
            self._check_failure_rate()
        return recorded

    def _check_failure_rate(self) -> None:
        """Abort when too many of this run's latest evaluations failed (a new run, e.g.
        after the oracle was fixed, starts with a clean window)."""
        loop = self.c.loop
        recent = [ok for _, ok, _ in
                  self.store.finished(self.id)[self.finished_before:][-loop.failure_window:]]
        failed = recent.count(False)
        if len(recent) == loop.failure_window and failed > loop.max_failure_rate * len(recent):
            raise OracleFailing(
                f"aborted: {failed} of the last {len(recent)} evaluations failed (more than "
                f"max_failure_rate = {loop.max_failure_rate:g}); the oracle looks broken — "
                "see the failures with `matloop status` or `matloop export`, fix it and run "
                "again to resume")

    def _record(self, item: Pending, outcome: Outcome, cycle: int) -> None:
        self.store.record(item.evaluation_id, outcome)
        self._report(cycle, f"{self._label(item)}: "
                     + ("ok" if outcome.ok else f"failed ({outcome.reason})"))

    def _label(self, item: Pending) -> str:
        return self.p.pool.candidate(item.pool_index).label

    def _submit(self, item: Pending) -> Future[Outcome]:
        if self.executor is None:
            self.executor = make_executor(self.c.executor, self.c.oracle.timeout_s)
        return self.executor.submit(evaluate, self.p.oracle,
                                    self.p.pool.candidate(item.pool_index),
                                    self.p.oracle.properties, timeout=self.c.oracle.timeout_s)

    def _best_record(self, values: np.ndarray) -> dict[str, Any]:
        """Best value and hit count so far; ``progress`` grows when the campaign improves
        (the signed best value, the hit count for a range search, the hypervolume for
        several objectives, which also records its reference point and front size)."""
        from matloop.loop.pareto import raw_reference

        best = self.targets.best(values)
        hits = int(self.targets.hits(values).sum())
        record: dict[str, Any] = {"best": best, "hits": hits}
        if self.targets.kind == "thresholds":
            record["progress"] = hits
        elif self.targets.kind == "single":
            record["progress"] = None if best is None else best * self.targets.objectives[0][1]
        else:
            hypervolume = self._hypervolume(values)
            record["progress"] = record["hypervolume"] = hypervolume
            record["pareto"] = int(self.targets.pareto(values).sum())
            if self.reference is not None:
                record["reference"] = raw_reference(self.targets, self.reference)
        return record

    def _reference(self, values: np.ndarray, choose: bool = False) -> np.ndarray | None:
        """The signed hypervolume reference point of a multi-objective campaign: the one
        stored with its cycles, else the targets' own when all are given, else (with
        ``choose``, at the first model cycle) inferred from ``values``; then kept fixed so
        that hypervolumes stay comparable across cycles."""
        from matloop.loop.pareto import reference_point, stored_reference

        if self.targets.kind != "multi" or self.reference is not None:
            return self.reference
        self.reference = stored_reference(self.store, self.id, self.targets)
        if self.reference is None and (choose or len(self.targets.references) ==
                                       len(self.targets.objectives)):
            try:
                self.reference = reference_point(self.targets, values)
            except ValueError:
                return None
        return self.reference

    def _hypervolume(self, values: np.ndarray) -> float | None:
        from matloop.loop.pareto import hypervolume

        reference = self._reference(values)
        return None if reference is None else hypervolume(self.targets, values, reference)

    def _report(self, cycle: int, message: str) -> None:
        counts = self.store.counts(self.id)
        _, values = self._training()
        self.on_progress(Progress(cycle, counts["succeeded"] + counts["failed"],
                                  counts["failed"], self.c.loop.budget,
                                  self.targets.best(values),
                                  int(self.targets.hits(values).sum())
                                  if self.targets.bounds else None, message,
                                  self._hypervolume(values),
                                  counts["proposed"] + counts["running"]))

    def _check_pool_unchanged(self) -> None:
        check_pool_unchanged(self.store, self.id, self.p.pool)
