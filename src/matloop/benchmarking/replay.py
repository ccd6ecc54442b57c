"""Replaying a campaign once per seed, seeds in parallel worker processes.

Each seed runs ``matloop.loop.run.run`` on a copy of the campaign with that seed, the
benchmark's budget and its own SQLite database, and returns what the store recorded: the
evaluations in the order they were proposed (evaluation ids) with their measured values,
and the loop's own fit and selection seconds. Workers are spawned (no inherited torch
threads) and use one BLAS/OpenMP thread each, so ``workers`` seeds share ``workers`` cores.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from matloop.campaigns.schema import Campaign

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    """One seed of one campaign file; ``database`` is a fresh SQLite file path."""

    label: str
    source: Path
    seed: int
    budget: int | None
    database: Path
    surrogate: str | None = None


@dataclass(frozen=True)
class SeedRun:
    """What one seed's store holds, in evaluation order.

    ``values`` ``(n, m)`` are the measured values of ``properties`` (NaN where an
    evaluation failed or lacks one); ``fit_s`` / ``select_s`` are summed over the
    ``model_cycles`` cycles that fitted a model (seconds); ``wall_s`` is the whole
    ``run`` call, pool and features included.
    """

    label: str
    seed: int
    properties: tuple[str, ...]
    pool_index: tuple[int, ...]
    succeeded: tuple[bool, ...]
    values: tuple[tuple[float, ...], ...]
    model_cycles: int
    fit_s: float
    select_s: float
    wall_s: float
    stop_reason: str

    @property
    def evaluations(self) -> int:
        return len(self.pool_index)


def benchmark_copy(campaign: Campaign, seed: int, budget: int | None,
                   database: str, surrogate: str | None = None) -> Campaign:
    """The campaign as one benchmark seed runs it.

    Seed, budget, database and (if given) the surrogate kind are overridden;
    ``stop_after_hits`` and ``patience`` are dropped so every seed spends its budget (a
    stopping rule only ends a run, it never changes a choice, so the evaluations up to
    where it would have stopped are the same); one oracle worker (a table lookup is
    instant, and ``replay_seed`` runs it in the seed's own process).
    """
    copy = campaign.with_overrides(seed=seed, budget=budget, database=database,
                                   surrogate=surrogate)
    loop = copy.loop.model_copy(update={"stop_after_hits": None, "patience": None})
    executor = copy.executor.model_copy(update={"workers": 1})
    return copy.model_copy(update={"loop": loop, "executor": executor})


def replay_seed(job: Job) -> SeedRun:
    """Run one seed to its budget in a new database and read back its history."""
    import warnings

    import torch
    from linear_operator.utils.warnings import NumericalWarning

    from matloop.campaigns import load
    from matloop.loop.session import Session
    from matloop.store import Store

    torch.set_num_threads(1)
    # "added jitter to the diagonal" notes from every seed would drown the progress lines
    warnings.filterwarnings("ignore", category=NumericalWarning)
    campaign = benchmark_copy(load(job.source), job.seed, job.budget, str(job.database),
                              job.surrogate)
    start = time.perf_counter()
    with Session(campaign) as session:
        # the table lookups run in this process: a seed starts no oracle process pool
        # of its own, which a stopped benchmark would have to stop mid-start
        result = session.run(oracle=session.oracle)
    wall_s = time.perf_counter() - start
    store = Store(campaign.database_url, create=False)
    evaluations = [e for e in store.evaluations(result.campaign_id)
                   if e.status in ("succeeded", "failed")]
    model = [c for c in store.cycles(result.campaign_id) if c.hyperparameters]
    nan = float("nan")
    properties = campaign.properties
    return SeedRun(
        label=job.label, seed=job.seed, properties=properties,
        pool_index=tuple(e.pool_index for e in evaluations),
        succeeded=tuple(e.status == "succeeded" for e in evaluations),
        values=tuple(tuple(float(e.values.get(p, nan)) for p in properties)
                     for e in evaluations),
        model_cycles=len(model), fit_s=float(sum(c.fit_s for c in model)),
        select_s=float(sum(c.select_s for c in model)), wall_s=wall_s,
        stop_reason=result.stop_reason)


def one_thread() -> None:
    """Worker initializer: one BLAS/OpenMP thread (set before torch is imported)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"


def replay(jobs: Sequence[Job], workers: int,
           on_done: Callable[[SeedRun], None] | None = None) -> list[SeedRun]:
    """Run every job, ``workers`` at a time; results in the order of ``jobs``.

    ``on_done`` is called in this process as each seed finishes. The first failure
    cancels the jobs not yet started and is raised; an interruption (Ctrl-C, SIGTERM)
    also stops the seeds that are running, so no worker outlives the command.
    """
    executor = ProcessPoolExecutor(max_workers=workers, initializer=one_thread,
                                   mp_context=multiprocessing.get_context("spawn"))
    try:
        futures: dict[Future[SeedRun], int] = {executor.submit(replay_seed, job): i
                                               for i, job in enumerate(jobs)}
        results: list[SeedRun | None] = [None] * len(jobs)
        for future in as_completed(futures):
            run = future.result()
            results[futures[future]] = run
            if on_done is not None:
                on_done(run)
    except BaseException as exc:
        executor.shutdown(wait=False, cancel_futures=True)
        if not isinstance(exc, Exception):
            for child in multiprocessing.active_children():
                child.terminate()
        raise
    executor.shutdown(wait=True)
    return [r for r in results if r is not None]
