"""The multi-fidelity replay through the campaign file: ``matloop run`` on
``examples/superhard-multifidelity-replay.toml`` (CHGNet screens, DFT confirms; both
table oracles), against the same campaign without its cheap source and with the CHGNet
values replaced by noise of the same mean and spread — each seed in this process, one
after the other, on fresh databases.

Unlike ``benchmarks/fidelity.py`` (the library pieces in a replay loop, structure
features), this runs the whole loop a user runs: the campaign file's composition
features, its stores, its cycles. Printed per variant over the seeds: median [min–max]
DFT evaluations to 5 and 10 DFT hits, CHGNet evaluations, the cost spent (in DFT
evaluations) and the loop's seconds per cycle.

    .venv/bin/python benchmarks/fidelity_run.py [--seeds 5] [--hits 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from matloop.benchmarking.variants import by_variant, run_variants, spread

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "examples" / "superhard-multifidelity-replay.toml"
VARIANTS = ("single", "multi", "noise")


def noise_table(source: Path, out: Path, seed: int) -> Path:
    """``source`` with each modulus replaced by Gaussian noise of its mean and spread
    (failed rows stay failed)."""
    with source.open() as handle:
        rows = list(csv.DictReader(handle))
    rng = np.random.default_rng(seed)
    for name in ("bulk_modulus", "shear_modulus"):
        values = np.array([float(r[name]) for r in rows if r[name]])
        for row in rows:
            if row[name]:
                row[name] = f"{rng.normal(values.mean(), values.std()):.3f}"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def campaign_for(variant: str, seed: int, folder: Path, hits: int) -> Any:
    import matloop

    campaign = matloop.Campaign.from_file(CAMPAIGN)
    loop = campaign.loop.model_copy(update={"stop_after_hits": hits, "budget": 150})
    changes: dict[str, Any] = {"loop": loop}
    if variant == "single":
        changes["fidelities"] = []
    elif variant == "noise":
        source = campaign.fidelities[0]
        table = noise_table(source.oracle.path, folder / f"noise-{seed}.csv", seed)
        changes["fidelities"] = [source.model_copy(update={
            "name": "noise", "oracle": source.oracle.model_copy(update={"path": table})})]
    campaign = campaign.model_copy(update=changes)
    return campaign.with_overrides(seed=seed, database=str(folder / f"{variant}-{seed}.db"))


def run_one(variant: str, seed: int, folder: Path, hits: int) -> dict[str, Any]:
    from matloop.campaigns.targets import TargetSet
    from matloop.store import EVERY_FIDELITY, Store

    campaign = campaign_for(variant, seed, folder, hits)
    start = time.perf_counter()
    with campaign.session() as session:
        session.run()
    seconds = time.perf_counter() - start
    store = Store(campaign.database_url, create=False)
    cid = store.campaign_id(campaign.campaign.name)
    targets = TargetSet.from_targets(campaign.targets)
    every = store.evaluations(cid, EVERY_FIDELITY)
    top = [e for e in every if e.fidelity is None]
    values = np.array([[e.values.get(p, math.nan) for p in targets.properties] for e in top])
    found = np.cumsum(targets.hits(values))
    to = {k: int(np.argmax(found >= k)) + 1 if found[-1] >= k else None for k in (5, 10)}
    cheap = len(every) - len(top)
    cycles = store.cycles(cid)
    loop_s = [c.fit_s + c.select_s for c in cycles if c.strategy != "initial"]
    costs = {None: campaign.oracle.cost or 1.0,
             **{f.name: f.cost or 0.0 for f in campaign.fidelities}}
    spent = sum(costs[e.fidelity] for e in every if e.status in ("succeeded", "failed"))
    store.engine.dispose()
    return {"variant": variant, "seed": seed, "to_5": to[5], "to_10": to[10],
            "target": len(top), "cheap": cheap, "cost_dft": spent / costs[None],
            "loop_s_per_cycle": float(np.mean(loop_s)) if loop_s else 0.0,
            "seconds": seconds}


def tabulate(results: list[dict[str, Any]]) -> None:
    print("| variant | DFT evals to 5 hits | DFT evals to 10 hits | CHGNet evals | "
          "cost (DFT evals) | loop s/cycle |")
    print("|---|---|---|---|---|---|")
    for variant, mine in by_variant(results, VARIANTS):
        print(f"| {variant} | {spread(mine, 'to_5')} | {spread(mine, 'to_10')} | "
              f"{np.median([r['cheap'] for r in mine]):g} | "
              f"{np.median([r['cost_dft'] for r in mine]):.1f} | "
              f"{np.median([r['loop_s_per_cycle'] for r in mine]):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hits", type=int, default=10, help="stop after this many hits")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--json", type=Path, help="write every run here (and read the "
                        "runs already in it)")
    parser.add_argument("--tabulate", type=Path, help="print the table of a JSON file")
    args = parser.parse_args()
    if args.tabulate:
        tabulate(json.loads(args.tabulate.read_text()))
        return
    results = run_variants(range(args.seeds), args.variants, args.json,
                           lambda variant, seed, folder: run_one(variant, seed, folder, args.hits))
    tabulate(results)


if __name__ == "__main__":
    main()
