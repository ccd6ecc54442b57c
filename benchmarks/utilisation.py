"""Benchmark: how busy the workers are, batch against async mode, local pool against Dask.

The oracle sleeps for a duration drawn per candidate, uniform on [0.1, 2] s (fixed by the
candidate, so every configuration meets the same durations), and returns a smooth
function of the candidate's 4 inputs; the pool is 2,000 random points. Each configuration
runs the same campaign (the exact GP, qLogNEI, ``initial`` random points, ``budget``
evaluations) from an empty database with ``workers`` workers, and reports:

* utilisation = sum of the evaluations' own durations / (workers × wall time of the run),
  with the run's wall time from start to return (pool or cluster start-up included), and
  "after start-up": the same with the executor's start-up time (measured alone, in the
  same process: start the executor, run one trivial task on every worker) taken off;
* evaluations per minute over the whole run;
* the loop's own time per proposal (fit + select, from the cycle records).

    .venv/bin/python benchmarks/utilisation.py [--budget 60] [--workers 2]
        [--configs local:batch local:async dask:batch dask:async]
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ORACLE = '''
import math
import time
import zlib


def duration(x1, x2, x3, x4):
    """0.1-2 s, fixed by the candidate."""
    key = f"{x1:.6f},{x2:.6f},{x3:.6f},{x4:.6f}".encode()
    return 0.1 + 1.9 * (zlib.crc32(key) / 2**32)


def evaluate(x1, x2, x3, x4):
    time.sleep(duration(x1, x2, x3, x4))
    y = math.sin(3 * x1) + math.cos(2 * x2) - (x3 - 0.6) ** 2 + 0.3 * x4
    return {"y": y}
'''


def write_campaign(folder: Path, executor: str, mode: str, workers: int, budget: int,
                   initial: int) -> Path:
    rng = np.random.default_rng(0)
    points = rng.random((2000, 4))
    (folder / "pool.csv").write_text("x1,x2,x3,x4\n" + "\n".join(
        ",".join(f"{v:.6f}" for v in row) for row in points) + "\n")
    (folder / "slow_oracle.py").write_text(ORACLE)
    batch = f"batch_size = {workers}" if mode == "batch" else ""
    path = folder / "utilisation.toml"
    path.write_text(textwrap.dedent(f"""
        [campaign]
        name = "utilisation"
        seed = 1

        [space]
        kind = "table"
        path = "pool.csv"
        inputs = ["x1", "x2", "x3", "x4"]

        [[targets]]
        property = "y"
        goal = "maximize"

        [oracle]
        kind = "python"
        function = "slow_oracle:evaluate"

        [executor]
        kind = "{executor}"
        workers = {workers}

        [loop]
        mode = "{mode}"
        initial = {initial}
        budget = {budget}
        {batch}
    """))
    return path


def startup_s(executor: str, workers: int) -> float:
    """Seconds to start the executor and get one trivial result back from each worker."""
    from matloop.campaigns.schema import ExecutorSection
    from matloop.loop.executor import make_executor

    start = time.perf_counter()
    pool = make_executor(ExecutorSection(kind=executor, workers=workers))  # type: ignore[arg-type]
    try:
        futures = [pool.submit(time.sleep, 0.3, timeout=None) for _ in range(workers)]
        for future in futures:
            future.result()
        return time.perf_counter() - start - 0.3
    finally:
        pool.shutdown()


def measure(executor: str, mode: str, workers: int, budget: int, initial: int
            ) -> dict[str, float]:
    from matloop.campaigns import load
    from matloop.loop.session import run
    from matloop.store import Store

    with tempfile.TemporaryDirectory() as folder:
        path = write_campaign(Path(folder), executor, mode, workers, budget, initial)
        campaign = load(path)
        start = time.perf_counter()
        result = run(campaign)
        wall = time.perf_counter() - start
        store = Store(campaign.database_url, create=False)
        rows = store.evaluations(result.campaign_id)
        cycles = store.cycles(result.campaign_id)
    busy = sum(r.duration_s or 0.0 for r in rows)
    startup = startup_s(executor, workers)
    model = [c for c in cycles if c.strategy != "initial"]
    return {"evaluations": len(rows), "wall": wall, "busy": busy,
            "utilisation": busy / (workers * wall), "startup": startup,
            "after_startup": busy / (workers * (wall - startup)),
            "per_minute": 60 * len(rows) / wall,
            "loop_s": float(np.mean([c.fit_s + c.select_s for c in model])) if model else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--initial", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=["local:batch", "local:async",
                                                          "dask:batch", "dask:async"])
    args = parser.parse_args()
    print(f"budget {args.budget}, {args.workers} workers, oracle 0.1-2 s per candidate\n")
    print("| executor | mode | evaluations | wall s | busy s | utilisation | start-up s "
          "| after start-up | evals/min | loop s per proposal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for config in args.configs:
        executor, mode = config.split(":")
        r = measure(executor, mode, args.workers, args.budget, args.initial)
        print(f"| {executor} | {mode} | {r['evaluations']} | {r['wall']:.1f} | "
              f"{r['busy']:.1f} | {r['utilisation']:.1%} | {r['startup']:.1f} | "
              f"{r['after_startup']:.1%} | "
              f"{r['per_minute']:.1f} | {r['loop_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
