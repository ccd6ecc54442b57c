"""Benchmark: learning where candidates fail, on real data with a hidden rule.

The OER catalyst plate (Rohr et al. 2020; 2,121 Ni-Fe-Co-Mn-Ce-La compositions, measured
overpotential, lower is better; ``examples/data/olympus_oer_plate_3496.csv``) is replayed
by a ``python`` oracle that applies a rule the engine is not told: **films with more than
30 % Ni loading fail** (``Infeasible``, "delaminated"). 18 % of the plate fails, but 82 %
of its 50 best catalysts do, so a loop that learns only from successes is drawn into the
failing region. Each seed runs the same campaign with the feasibility classifier on and
off; the script prints, per setting, the fraction of the budget spent on failures and the
best overpotential found (the best feasible on the plate is 0.3445 V).

    .venv/bin/python benchmarks/failures.py [--seeds 10] [--budget 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "olympus_oer_plate_3496.csv"
INPUTS = ["ni_load", "fe_load", "co_load", "mn_load", "ce_load", "la_load"]

ORACLE = '''
import csv
from functools import lru_cache

from matloop.errors import Infeasible

INPUTS = {inputs!r}


@lru_cache(maxsize=1)
def plate():
    with open({data!r}, newline="") as handle:
        return {{tuple(round(float(row[name]), 6) for name in INPUTS):
                float(row["overpotential"]) for row in csv.DictReader(handle)}}


def measure(**loads):
    if loads["ni_load"] > 0.3:  # the hidden rule
        raise Infeasible("film delaminated")
    return {{"overpotential": plate()[tuple(round(loads[name], 6) for name in INPUTS)]}}
'''


def campaign_text(seed: int, budget: int, learn: bool) -> str:
    return textwrap.dedent(f"""
        [campaign]
        name = "oer-hidden-rule"
        seed = {seed}

        [space]
        kind = "table"
        path = "{DATA}"
        inputs = {INPUTS!r}

        [[targets]]
        property = "overpotential"
        unit = "V"
        goal = "minimize"

        [oracle]
        kind = "python"
        function = "plate_oracle:measure"

        [surrogate]
        feasibility = {str(learn).lower()}

        [loop]
        initial = 10
        batch_size = 2
        budget = {budget}
        max_failure_rate = 1.0
    """)


def one_run(seed: int, budget: int, learn: bool) -> dict[str, float]:
    """Run one seed in a fresh folder; the figures of that run."""
    import torch

    from matloop.campaigns import load
    from matloop.loop.session import run
    from matloop.store import Store

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "oer.toml"
        (Path(folder) / "plate_oracle.py").write_text(
            ORACLE.format(inputs=INPUTS, data=str(DATA)))
        path.write_text(campaign_text(seed, budget, learn))
        start = time.perf_counter()
        campaign = load(path)
        result = run(campaign)
        store = Store(campaign.database_url, create=False)
        campaign_id = store.campaign_id(campaign.campaign.name)
        cycles = [c for c in store.cycles(campaign_id) if c.strategy not in ("initial",)]
        model_rows = [e for e in store.evaluations(campaign_id) if e.cycle > 0]
        return {"failed": result.counts["failed"] / budget,
                "failed_model": sum(e.status == "failed" for e in model_rows)
                / max(len(model_rows), 1),
                "best": float("nan") if result.best is None else result.best,
                "fit_s": statistics.mean(c.fit_s for c in cycles) if cycles else 0.0,
                "select_s": statistics.mean(c.select_s for c in cycles) if cycles else 0.0,
                "wall_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    jobs = [(seed, learn) for seed in range(args.seeds) for learn in (True, False)]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        futures = {job: pool.submit(one_run, job[0], args.budget, job[1]) for job in jobs}
        results = {job: future.result() for job, future in futures.items()}
    print(f"OER plate, hidden rule ni_load > 0.3 fails; {args.seeds} seeds, budget "
          f"{args.budget}, 10 random then batches of 2")
    print(f"{'feasibility model':>18} {'budget failed':>14} {'model picks failed':>19} "
          f"{'best V (median, min-max)':>26} {'fit s':>7} {'select s':>9}")
    for learn in (True, False):
        rows = [results[(seed, learn)] for seed in range(args.seeds)]
        best = [r["best"] for r in rows]
        print(f"{'on' if learn else 'off':>18} "
              f"{statistics.median(r['failed'] for r in rows):>14.0%} "
              f"{statistics.median(r['failed_model'] for r in rows):>19.0%} "
              f"{statistics.median(best):>12.4f} ({min(best):.4f}-{max(best):.4f}) "
              f"{statistics.mean(r['fit_s'] for r in rows):>7.2f} "
              f"{statistics.mean(r['select_s'] for r in rows):>9.2f}")
    for learn in (True, False):
        print(f"per seed, model {'on' if learn else 'off'}: failed "
              + " ".join(f"{results[(s, learn)]['failed']:.0%}" for s in range(args.seeds))
              + "; best " + " ".join(f"{results[(s, learn)]['best']:.4f}"
                                     for s in range(args.seeds)))


if __name__ == "__main__":
    main()
