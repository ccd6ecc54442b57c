"""Benchmark: one loop cycle (fit, score the pool, select the batch) against plain BoTorch.

Synthetic data: pool features uniform on [0, 1]^d, objective a smooth random function
(random Fourier features), n measured points. For every case (d, N, n, q):

* matloop: cold fit on n - 1 points, then the fit on n points warm-started from it (what
  the loop does in 9 cycles of 10; beyond 1,000 observations both fit the hyperparameters
  on a random 1,000 and condition the posterior on all n), the analytic score of every
  candidate of the pool (``scores``, what ``predict`` and ``report`` pay) and the full
  ``select`` (exact analytic scores where their bound leaves a candidate a chance, then
  for q > 1 the Monte Carlo batch among the 256 best, or more); cycle = warm fit +
  select (peak memory read after it); then, on pools up to ``--exhaustive`` candidates,
  scoring every candidate ("score all") and ``select`` without pruning ("unpruned"),
  and whether that picked the same candidates;
* baseline: a minimal hand-written BoTorch loop on the same data — ``SingleTaskGP`` +
  ``fit_gpytorch_mll``, analytic ``LogExpectedImprovement`` (q = 1) or
  ``qLogNoisyExpectedImprovement`` (q > 1), ``optimize_acqf_discrete`` over the whole
  pool with its default ``max_batch_size``; ratio = baseline cycle / matloop cycle.

Each (d, N, n) matloop case runs in a fresh process (q values in order, peak RSS read
after each), each baseline case in another, under a time limit and an address-space
limit; a baseline whose projected time (from the previous pool size) exceeds the budget
is not started. Prints a markdown table, then fit time against n (the exact GP's n^3).

    .venv/bin/python benchmarks/overhead.py [--pools 1000 10000 100000 1000000]
        [--dims 6 30] [--train 20 100 500 2000] [--batch 1 5] [--no-baseline]
        [--surrogate gp|ensemble|forest|auto] [--exhaustive 1000000]

``--surrogate`` times another kind in the matloop column (the baseline stays the exact
GP loop); for ``auto`` the timed fit is one that compares the kinds (every
``validate_every``-th cycle in a run), the warm fit then keeps the winner.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

FEATURES = 64  # random Fourier features of the objective


def data(d: int, N: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool ``(N, d)``, measured features ``(n, d)`` (nested in n) and values ``(n, 1)``."""
    pool = np.random.default_rng([seed, d, 1]).random((N, d))
    X = np.random.default_rng([seed, d, 2]).random((n, d))
    rng = np.random.default_rng([seed, d, 3])
    W = rng.normal(size=(d, FEATURES)) / (0.3 * np.sqrt(d))
    b = rng.uniform(0, 2 * np.pi, FEATURES)
    a = rng.normal(size=FEATURES) * np.sqrt(2 / FEATURES)
    return pool, X, (np.cos(X @ W + b) @ a)[:, None]


def peak_mb() -> float:
    """This process's peak resident set size so far, MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_matloop(d: int, N: int, n: int, qs: list[int], kind: str = "gp",
                exhaustive: bool = True) -> list[dict[str, Any]]:
    """Time matloop's cycle phases for each q (one fit, shared by the q values), with a
    ``kind`` surrogate; "cold" is a first fit on n - 1 points, "warm" the next one;
    ``exhaustive`` False skips scoring every candidate (and selecting unpruned)."""
    from matloop.campaigns.schema import Target
    from matloop.campaigns.targets import TargetSet
    from matloop.loop.acquisition import scores, select
    from matloop.surrogates import make_surrogate

    pool, X, Y = data(d, N, n)
    bounds = np.stack([np.zeros(d), np.ones(d)])
    targets = TargetSet.from_targets([Target(property="y", goal="maximize")])
    warm_up = make_surrogate("gp", bounds=bounds, seed=0).fit(X[:8], Y[:8])
    for q in qs:  # first calls load modules and fill caches: not part of a cycle
        select("logei", warm_up, pool[:64], X[:8], Y[:8], targets, q, 0)
    start = time.perf_counter()
    previous = make_surrogate(kind, bounds=bounds, seed=0).fit(X[:-1], Y[:-1])
    cold = time.perf_counter() - start
    start = time.perf_counter()
    surrogate = make_surrogate(kind, bounds=bounds, seed=0, reselect=False,
                               warm_start=previous.hyperparameters()).fit(X, Y)
    warm = time.perf_counter() - start
    rows = []
    for q in qs:
        start = time.perf_counter()
        picks = select("logei", surrogate, pool, X, Y, targets, q, 0)
        chosen = time.perf_counter() - start
        row = {"q": q, "cold": cold, "warm": warm, "select": chosen, "cycle": warm + chosen,
               "peak": peak_mb(), "score": None, "unpruned": None, "same": None}
        if exhaustive:
            start = time.perf_counter()
            scores("logei", surrogate, pool, X, Y, targets)
            row["score"] = time.perf_counter() - start
            start = time.perf_counter()
            unpruned = select("logei", surrogate, pool, X, Y, targets, q, 0, prune=False)
            row["unpruned"] = time.perf_counter() - start
            row["same"] = picks.tolist() == unpruned.tolist()
        rows.append(row)
    return rows


def run_baseline(d: int, N: int, n: int, q: int) -> dict[str, Any]:
    """Time the minimal BoTorch loop: cold fit, then the discrete optimiser over the pool."""
    import warnings

    import torch
    from botorch.acquisition import LogExpectedImprovement, qLogNoisyExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.optim import optimize_acqf_discrete
    from gpytorch.mlls import ExactMarginalLogLikelihood

    warnings.simplefilter("ignore")
    pool, X, Y = data(d, N, n)
    choices = torch.as_tensor(pool)
    train_X, train_Y = torch.as_tensor(X), torch.as_tensor(Y)
    warm_up = SingleTaskGP(train_X[:8], train_Y[:8])  # first calls: not part of a cycle
    fit_gpytorch_mll(ExactMarginalLogLikelihood(warm_up.likelihood, warm_up))
    optimize_acqf_discrete(LogExpectedImprovement(warm_up, best_f=train_Y[:8].max()) if q == 1
                           else qLogNoisyExpectedImprovement(warm_up, X_baseline=train_X[:8]),
                           q=q, choices=choices[:64])
    start = time.perf_counter()
    gp = SingleTaskGP(train_X, train_Y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    fit = time.perf_counter() - start
    start = time.perf_counter()
    acquisition = (LogExpectedImprovement(gp, best_f=train_Y.max()) if q == 1
                   else qLogNoisyExpectedImprovement(gp, X_baseline=train_X))
    optimize_acqf_discrete(acquisition, q=q, choices=choices)
    select = time.perf_counter() - start
    return {"fit": fit, "select": select, "cycle": fit + select, "peak": peak_mb()}


def worker(kind: str, d: int, N: int, n: int, qs: list[int], timeout: float,
           memory_gb: float, threads: int, surrogate: str = "gp", exhaustive: bool = True
           ) -> tuple[Any, str | None]:
    """Run one case in a fresh process; (result, None) or (None, reason it failed)."""
    import signal

    def limit() -> None:
        size = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    command = [sys.executable, os.path.abspath(__file__), "--worker", kind,
               json.dumps([d, N, n, qs, surrogate, exhaustive])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "OMP_NUM_THREADS": str(threads),
                                   "MKL_NUM_THREADS": str(threads)},
                              preexec_fn=limit if kind == "baseline" else None)
    except subprocess.TimeoutExpired:
        return None, f"skipped (too slow, > {timeout:.0f} s)"
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1]), None
    text = done.stderr.lower()
    if done.returncode == -signal.SIGKILL or "memory" in text or "alloc" in text:
        return None, "out of memory"
    return None, "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:60]


def cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, nargs="+",
                        default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[6, 30])
    parser.add_argument("--train", type=int, nargs="+", default=[20, 100, 500, 2000])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds a baseline case may take (projected or run)")
    parser.add_argument("--memory", type=float, default=12.0,
                        help="address-space limit of a baseline process, GB")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per case (more than free cores thrashes OpenMP)")
    parser.add_argument("--surrogate", default="gp",
                        choices=["gp", "ensemble", "forest", "auto"],
                        help="the kind timed in the matloop column")
    parser.add_argument("--exhaustive", type=int, default=1_000_000,
                        help="largest pool also scored without pruning (for comparison)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:  # inside a fresh process: one case, JSON on stdout
        d, N, n, qs, kind, exhaustive = json.loads(args.worker[1])
        result = (run_matloop(d, N, n, qs, kind, exhaustive) if args.worker[0] == "matloop"
                  else run_baseline(d, N, n, qs[0]))
        print(json.dumps(result))
        return

    import torch

    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, torch "
          f"{torch.__version__}, {args.threads} thread(s) per case, one fresh process "
          f"per case, surrogate {args.surrogate}")
    columns = ["d", "N", "n", "q", "cold fit s", "warm fit s", "score all s", "select s",
               "unpruned s", "same picks", "cycle s", "peak MB", "baseline s",
               "baseline MB", "ratio"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    fits: dict[tuple[int, int], tuple[float, float]] = {}
    for d in args.dims:
        for n in args.train:
            last: dict[int, tuple[int, float, float] | None] = {}  # q -> (N, fit, select)
            for N in sorted(args.pools):
                rows, error = worker("matloop", d, N, n, args.batch, 3600, 0,
                                     args.threads, args.surrogate, args.exhaustive >= N)
                if rows is None:
                    print(f"| {d} | {N} | {n} | - | matloop {error} |")
                    continue
                fits.setdefault((d, n), (rows[0]["cold"], rows[0]["warm"]))
                for row in rows:
                    q = row["q"]
                    base, reason = None, "not run"
                    if not args.no_baseline:
                        previous = last.get(q, (0, 0.0, 0.0))
                        if previous is None:
                            reason = "skipped (too slow)"
                        elif previous[0] and (previous[1] + previous[2] * N / previous[0]
                                              > args.budget):
                            reason = "skipped (too slow, projected)"
                        else:
                            base, reason = worker("baseline", d, N, n, [q], args.budget,
                                                  args.memory, args.threads)
                        last[q] = None if base is None else (N, base["fit"], base["select"])
                    shown = reason if base is None else cell(base["cycle"])
                    print(f"| {d} | {N} | {n} | {q} | {cell(row['cold'])} | "
                          f"{cell(row['warm'])} | {cell(row['score'], 3)} | "
                          f"{cell(row['select'], 3)} | {cell(row['unpruned'], 3)} | "
                          f"{ {True: 'yes', False: 'NO', None: '-'}[row['same']]} | "
                          f"{cell(row['cycle'])} | "
                          f"{row['peak']:.0f} | {shown} | "
                          f"{'-' if base is None else format(base['peak'], '.0f')} | "
                          f"{'-' if base is None else format(base['cycle'] / row['cycle'], '.1f')}"
                          f" |", flush=True)
    print()
    print(f"{args.surrogate} fit time against n (a GP fits its hyperparameters on at most "
          "1,000 observations):")
    print("| d | n | cold fit s | warm fit s |")
    print("|---|---|---|---|")
    for (d, n), (cold, warm) in sorted(fits.items()):
        print(f"| {d} | {n} | {cold:.2f} | {warm:.2f} |")


if __name__ == "__main__":
    main()
