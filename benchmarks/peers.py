"""matloop next to its peers on the same pools, seeds and budgets.

    python benchmarks/peers.py examples/benchmarks/*.toml --seeds 10 \
        --baybe-python /path/to/env-with-baybe/bin/python

For every benchmark campaign (a table oracle and one maximise/minimise target) this runs
matloop's loop (the real loop on a benchmark copy, as ``matloop benchmark`` runs it), a
plain BoTorch loop (``SingleTaskGP`` + LogEI, random initial design) and BayBE's default
campaign, with the campaign's budget, initial-design size and batch size, seeds 0..S-1,
each seed stopping once it has measured a top-1 % candidate, and prints per dataset the
median evaluations to the first top-1 % candidate [5-95 %] and AF_first = random's
expected draws (N+1)/(K+1) over that median (a seed that never got there counts as
budget + 1); then the geometric mean of AF_first over datasets and the ratio of
matloop's to the better peer's. Without ``--baybe-python``
(or ``MATLOOP_BAYBE_PYTHON``) BayBE is left out. BayBE is installed apart from matloop:

    python -m venv peers && peers/bin/pip install torch==2.13.0 && peers/bin/pip install baybe

``--json FILE`` writes every seed's figure (after each dataset). ``--tabulate A.json
B.json ...`` runs nothing: it merges the rows of earlier ``--json`` files (a method found
in a later file fills in a dataset's row) and prints the table; runs split over several
processes or machines are put together so.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from matloop.benchmarking import metrics, peers
from matloop.benchmarking.levers import BASELINE, LeverJob, Setting, af_first, run_lever_job
from matloop.benchmarking.replay import benchmark_copy, one_thread
from matloop.campaigns import load
from matloop.errors import ConfigError

HERE = Path(__file__).resolve().parent
BAYBE_SCRIPT = HERE / "baybe_peer.py"


def _botorch_seed(args: tuple[peers.Problem, int]) -> list[int]:
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # jitter notes and input-scaling hints, per fit
    return peers.botorch_order(*args, stop_at_first=True)


def _baybe_seeds(args: tuple[peers.Problem, list[int], Path]) -> dict[int, list[int]]:
    problem, seeds, python = args
    return peers.baybe_orders(problem, seeds, python, BAYBE_SCRIPT, stop_at_first=True)


def _matloop(pool: ProcessPoolExecutor, path: Path, seeds: list[int],
             problem: peers.Problem, budget: int | None) -> dict[str, object]:
    overrides = {} if budget is None else {"loop.budget": budget}
    setting = Setting(BASELINE, "", overrides)
    with tempfile.TemporaryDirectory(prefix="matloop-peers-") as folder:
        jobs = [LeverJob(setting, path.resolve(), s, Path(folder) / f"seed{s}.db")
                for s in seeds]
        runs = list(pool.map(run_lever_job, jobs))
    return _summary(problem, np.array([r.first for r in runs]))


def _figures(problem: peers.Problem, orders: dict[int, list[int]]) -> dict[str, object]:
    return _summary(problem, np.array([peers.first_hit(problem, orders[s])
                                       for s in sorted(orders)]))


def _summary(problem: peers.Problem, firsts: np.ndarray) -> dict[str, object]:
    low, median, high = (float(v) for v in metrics.quantiles(firsts))
    af = af_first(firsts, problem.random_first_hit(), problem.budget)
    return {"first": [None if math.isinf(f) else f for f in firsts.tolist()],
            "median": median, "band": [low, high], "af": af}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--tabulate", nargs="+", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baybe-python", type=Path,
                        default=os.environ.get("MATLOOP_BAYBE_PYTHON"))
    parser.add_argument("--skip", action="append", default=[],
                        choices=["matloop", "botorch", "baybe"])
    parser.add_argument("--json", type=Path, default=None)
    options = parser.parse_args()
    if options.tabulate:
        rows, methods = _merged(options.tabulate)
        _print_summary(rows, methods)
        return
    seeds = list(range(options.seeds))
    methods = [m for m in ("matloop", "botorch", "baybe") if m not in options.skip
               and (m != "baybe" or options.baybe_python)]
    context = multiprocessing.get_context("spawn")
    rows = []
    for path in options.files:
        campaign = load(path)
        label = campaign.campaign.name
        try:
            problem = peers.problem_from_campaign(campaign, label, options.budget)
        except ConfigError as exc:  # a target set: no top-1 % to find
            print(f"skipped {path}: {exc}", file=sys.stderr, flush=True)
            continue
        benchmark_copy(campaign, 0, options.budget, "check.db")  # refuses a bad budget
        row: dict[str, object] = {"campaign": label, "n": problem.n,
                                  "budget": problem.budget, "batch": problem.batch,
                                  "random": problem.random_first_hit()}
        start = time.perf_counter()
        with ProcessPoolExecutor(options.workers, mp_context=context,
                                 initializer=one_thread) as pool:
            if "matloop" in methods:
                row["matloop"] = _matloop(pool, path, seeds, problem, options.budget)
            if "botorch" in methods:
                orders = list(pool.map(_botorch_seed, [(problem, s) for s in seeds]))
                row["botorch"] = _figures(problem, dict(zip(seeds, orders, strict=True)))
            if "baybe" in methods:
                halves = [seeds[i::options.workers] for i in range(options.workers)]
                found: dict[int, list[int]] = {}
                for part in pool.map(_baybe_seeds, [(problem, h, options.baybe_python)
                                                    for h in halves if h]):
                    found.update(part)
                row["baybe"] = _figures(problem, found)
        row["wall_s"] = time.perf_counter() - start
        rows.append(row)
        _print_row(row, methods)
        if options.json:  # after every dataset, so a long run that is stopped keeps them
            options.json.write_text(json.dumps({"seeds": options.seeds, "rows": rows},
                                               indent=1))
    _print_summary(rows, methods)


def _merged(paths: list[Path]) -> tuple[list[dict[str, object]], list[str]]:
    """Rows of several ``--json`` files by dataset (first-seen order), methods merged."""
    rows: dict[str, dict[str, object]] = {}
    for path in paths:
        for row in json.loads(path.read_text())["rows"]:
            merged = rows.setdefault(str(row["campaign"]), {})
            merged.update({k: v for k, v in row.items() if k not in merged})
    methods = [m for m in ("matloop", "botorch", "baybe")
               if any(m in row for row in rows.values())]
    return list(rows.values()), methods


def _cell(figures: object) -> str:
    assert isinstance(figures, dict)
    low, high = figures["band"]
    return f"{figures['median']:g} [{low:.3g}-{high:.3g}] x{figures['af']:.2f}"


def _print_row(row: dict[str, object], methods: list[str]) -> None:
    cells = " | ".join(f"{m} {_cell(row[m])}" for m in methods if m in row)
    print(f"{row['campaign']}: N={row['n']} budget={row['budget']} "
          f"random {float(row['random']):.1f} | {cells} ({float(row['wall_s']):.0f} s)",  # type: ignore[arg-type]
          flush=True)


def _print_summary(rows: list[dict[str, object]], methods: list[str]) -> None:
    print("\nmedian evaluations to the first top-1 % [5-95 %] xAF_first")
    header = "| campaign | N | budget (batch) | random | " + " | ".join(methods) + " |"
    print(header)
    print("|" + "---|" * (4 + len(methods)))
    for row in rows:
        cells = " | ".join(_cell(row[m]) if m in row else "not run" for m in methods)
        print(f"| {row['campaign']} | {row['n']} | {row['budget']} ({row['batch']}) | "
              f"{float(row['random']):.1f} | {cells} |")  # type: ignore[arg-type]
    complete = [r for r in rows if all(m in r for m in methods)]
    means = {m: peers.geometric_mean([float(r[m]["af"]) for r in complete])  # type: ignore[index]
             for m in methods}
    print(f"| geometric mean AF_first ({len(complete)} datasets with every method) | | | | "
          + " | ".join(f"x{means[m]:.2f}" for m in methods) + " |")
    others = [means[m] for m in methods if m != "matloop"]
    if "matloop" in means and others:
        print(f"matloop / better peer: {means['matloop'] / max(others):.2f}")
        behind = [str(r["campaign"]) for r in complete if float(r["matloop"]["median"])  # type: ignore[index]
                  > min(float(r[m]["median"]) for m in methods if m != "matloop")]  # type: ignore[index]
        print(f"matloop's median behind the better peer's on {len(behind)} of "
              f"{len(complete)}: {', '.join(behind) or 'none'}")
    for peer in (m for m in methods if m != "matloop" and "matloop" in methods):
        both = [r for r in rows if "matloop" in r and peer in r]
        if len(both) > len(complete):
            ratio = (peers.geometric_mean([float(r["matloop"]["af"]) for r in both])  # type: ignore[index]
                     / peers.geometric_mean([float(r[peer]["af"]) for r in both]))  # type: ignore[index]
            print(f"matloop / {peer} over the {len(both)} datasets with both: {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
