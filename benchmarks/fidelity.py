"""Multi-fidelity replay: an ML potential screens, DFT confirms (superhard binaries).

The pool is the 1,985 Materials Project binaries of ``examples/superhard-chgnet-mp.toml``
(at most 4 sites; its structure features). The target fidelity is their DFT (PBE)
K_VRH / G_VRH; the cheap one the ML potential's moduli computed once by
``benchmarks/ml_moduli.py`` (``--cheap``, default the CHGNet table; failed evaluations
fail here too). A hit is K >= 300 GPa and G >= 150 GPa at the DFT level (47 of the pool).
Strategies (``matloop.benchmarking.fidelity``): ``single`` (DFT only, matloop's loop),
``multi`` (multi-fidelity GP and cost-aware choice of candidate and fidelity) and
``funnel`` (screen all with the potential, confirm in its order); ``multi`` and ``funnel``
run again with the potential's values replaced by noise of the same mean and spread
(``noise``), to check that an uninformative cheap source costs nothing at the target.

Printed per strategy over the seeds: median [5-95 %] DFT evaluations to 5, 10 and 20 DFT
hits, median total cost in DFT evaluations (the potential's evaluations counted at their
measured seconds per structure against ``--dft-cost`` seconds per DFT evaluation) and the learnt
correlations of the two fidelities at the end (multi).

    .venv/bin/python benchmarks/fidelity.py [--seeds 10] [--workers 2] [--dft-cost 3600]
        [--cheap examples/data/mp_binary_moduli_chgnet.csv] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from ml_moduli import table_rows

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "examples" / "superhard-chgnet-mp.toml"
CHEAP = ROOT / "examples" / "data" / "mp_binary_moduli_chgnet.csv"
HITS = (5, 10, 20)
VARIANTS = (("single", False), ("multi", False), ("funnel", False), ("multi", True),
            ("funnel", True))


def build_problem(cheap_csv: Path, dft_cost: float, noise_seed: int | None) -> object:
    """The replay's problem; with ``noise_seed`` the cheap values are Gaussian noise with
    the potential's per-property mean and spread (failures kept where they were)."""
    from matloop.benchmarking.fidelity import FidelityProblem
    from matloop.campaigns import load
    from matloop.campaigns.targets import TargetSet
    from matloop.spaces.build import build_pool
    from matloop.spaces.featurised import featurise

    campaign = load(CAMPAIGN)
    space = featurise(build_pool(campaign.space, campaign.scratch_dir))
    keys = [space.pool.key(i) for i in range(len(space.pool))]
    moduli = ("bulk_modulus", "shear_modulus")  # the tables hold no DFT hull distances
    targets = TargetSet.from_targets([t for t in campaign.targets if t.property in moduli])
    dft = _table(ROOT / "examples" / "data" / "mp_binary_structures_le4.csv",
                 ("bulk_modulus_vrh_GPa", "shear_modulus_vrh_GPa"))
    cheap_rows = _table(cheap_csv, moduli)
    seconds = [float(r["seconds"]) for r in table_rows(cheap_csv)]
    target = np.array([dft[k] for k in keys])
    cheap = np.array([cheap_rows.get(k, (math.nan, math.nan)) for k in keys])
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        noise = rng.normal(np.nanmean(cheap, axis=0), np.nanstd(cheap, axis=0), cheap.shape)
        cheap = np.where(np.isfinite(cheap), noise, np.nan)
    return FidelityProblem(space.features, space.bounds, target, cheap,
                           (dft_cost, float(np.mean(seconds))), targets)


def _table(path: Path, columns: tuple[str, str]) -> dict[str, tuple[float, float]]:
    """mp_id -> the two columns as floats (NaN where empty)."""
    return {r["mp_id"]: tuple(float(r[c]) if r[c] else math.nan for c in columns)
            for r in table_rows(path)}


def one_seed(job: tuple[str, bool, int, str, float]) -> dict[str, object]:
    """One strategy and seed: DFT evaluations and cost to each of ``HITS``."""
    strategy, noise, seed, cheap_csv, dft_cost = job
    import torch

    torch.set_num_threads(1)
    from matloop.benchmarking.fidelity import replay

    problem = build_problem(Path(cheap_csv), dft_cost, seed if noise else None)
    start = time.perf_counter()
    trace = replay(problem, strategy, seed, hits_wanted=max(HITS))
    reached = {k: trace.to_hits(k) for k in HITS}
    return {"strategy": strategy, "noise": noise, "seed": seed,
            "target_evaluations": {k: v[0] for k, v in reached.items()},
            "cost_s": {k: v[1] for k, v in reached.items()},
            "cheap_evaluations": int(np.count_nonzero(trace.fidelity == 1)),
            "correlation": trace.correlation, "wall_s": time.perf_counter() - start}


def summarise(runs: Sequence[dict], dft_cost: float) -> None:
    """The table: one row per strategy (and noise variant)."""
    print("| strategy | cheap source | " + " | ".join(
        f"DFT evals to {k} hits" for k in HITS) + " | " + " | ".join(
        f"cost to {k} hits (DFT evals)" for k in HITS) + " | cheap evals | correlation K, G |")
    print("|---" * (3 + 2 * len(HITS) + 1) + "|")
    for strategy, noise in VARIANTS:
        chosen = [r for r in runs if r["strategy"] == strategy and r["noise"] == noise]
        if not chosen:
            continue
        cells = []
        for k in HITS:
            evals = [r["target_evaluations"][k] for r in chosen]
            cells.append(_band(evals))
        for k in HITS:
            cost = np.median([r["cost_s"][k] / dft_cost for r in chosen])
            cells.append("inf" if not np.isfinite(cost) else f"{cost:.1f}")
        cheap = np.median([r["cheap_evaluations"] for r in chosen])
        correlations = [r["correlation"] for r in chosen if r["correlation"]]
        rho = ("—" if not correlations else ", ".join(
            f"{np.median([c[j][1] for c in correlations]):.2f}" for j in range(2)))
        source = "—" if strategy == "single" else ("noise" if noise else "potential")
        print(f"| {strategy} | {source} | " + " | ".join(cells)
              + f" | {cheap:.0f} | {rho} |")


def _int_keys(run: dict) -> dict:
    """A run read back from JSON, its per-hit figures keyed by int again."""
    return {**run, **{name: {int(k): v for k, v in run[name].items()}
                      for name in ("target_evaluations", "cost_s")}}


def _band(values: Sequence[float]) -> str:
    """``median [5-95 %]``; "never" (inf) sorts last and prints as inf."""
    array = np.array(values, dtype=float)
    finite = array[np.isfinite(array)]
    top = finite.max() if len(finite) else -np.inf
    lo, mid, hi = np.percentile(np.where(np.isfinite(array), array, 1e12), [5, 50, 95])
    lo_text, hi_text = ("inf" if v > top else f"{v:.0f}" for v in (lo, hi))
    return f"{'inf' if mid > top else f'{mid:g}'} [{lo_text}-{hi_text}]"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dft-cost", type=float, default=3600.0,
                        help="seconds per DFT elastic evaluation")
    parser.add_argument("--cheap", type=Path, default=CHEAP)
    parser.add_argument("--strategies", nargs="+", default=None,
                        help="e.g. single multi funnel multi-noise funnel-noise")
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    parser.add_argument("--tabulate", type=Path, nargs="+", default=None,
                        help="print the table of earlier --json files; run nothing")
    args = parser.parse_args(argv)
    if args.tabulate:
        stored = [json.loads(path.read_text()) for path in args.tabulate]
        runs = [_int_keys(r) for data in stored for r in data["runs"]]
        summarise(runs, stored[0]["dft_cost"])
        return
    wanted = [(s, n) for s, n in VARIANTS if args.strategies is None
              or (f"{s}-noise" if n else s) in args.strategies]
    jobs = [(s, n, seed, str(args.cheap), args.dft_cost) for s, n in wanted
            for seed in range(args.seeds)]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    build_problem(args.cheap, args.dft_cost, None)  # the feature cache, once
    runs = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        for run in pool.map(one_seed, jobs):
            runs.append(run)
            print(f"{run['strategy']}{' (noise)' if run['noise'] else ''} seed "
                  f"{run['seed']}: DFT evals to {HITS} hits "
                  f"{[run['target_evaluations'][k] for k in HITS]}, "
                  f"{run['cheap_evaluations']} cheap, {run['wall_s']:.0f} s", flush=True)
            if args.json:
                args.json.write_text(json.dumps({"dft_cost": args.dft_cost,
                                                 "cheap": str(args.cheap), "runs": runs},
                                                indent=1))
    summarise(runs, args.dft_cost)


if __name__ == "__main__":
    sys.exit(main())
