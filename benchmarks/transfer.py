"""Transfer replay between two related public pools: an earlier campaign searched
Matbench's log10 bulk moduli (``examples/benchmarks/matbench-log-kvrh.toml``, its own
seed, 100 evaluations by default); a new campaign searches Matbench's log10 shear moduli
(``matbench-log-gvrh.toml``, ~10^4 compositions) with the earlier database as a
``[[campaign.related]]`` entry, against the same campaign without it and with a related
table of the earlier campaign's values shuffled among its candidates (a related campaign
that tells nothing). Both pools are Matbench's 9,723 elastic compositions, so the earlier
campaign's candidates are this pool's, but it measured another property, on the ones its
own search chose; they map through the composition features.

Printed per variant over the seeds: median [min–max] evaluations to the first top-1 %
candidate of the shear-modulus pool, top-1 % candidates found within the budget, and the
loop's seconds per cycle.

    .venv/bin/python benchmarks/transfer.py [--seeds 10] [--start 0] [--budget 100]
        [--earlier-budget 100] [--json FILE]
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
EARLIER = ROOT / "examples" / "benchmarks" / "matbench-log-kvrh.toml"
TARGET = ROOT / "examples" / "benchmarks" / "matbench-log-gvrh.toml"
EARLIER_PROPERTY = "log10_K_VRH_GPa"
VARIANTS = ("none", "transfer", "shuffled")
TOP = 0.01


def earlier_database(seed: int, folder: Path, budget: int = 100) -> Path:
    """The earlier (bulk-modulus) campaign's database, run once per seed."""
    import matloop

    path = folder / f"earlier-{seed}.db"
    if not path.exists():
        campaign = matloop.Campaign.from_file(EARLIER).with_overrides(
            seed=1000 + seed, database=str(path))
        with campaign.session() as session:
            session.run(budget=budget)
    return path


def shuffled_table(database: Path, out: Path, seed: int) -> Path:
    """The earlier campaign's succeeded evaluations as a CSV, values shuffled."""
    from matloop.store import Store

    store = Store(f"sqlite:///{database}", create=False)
    rows = [e for e in store.evaluations(store.campaign_id("matbench-log-kvrh"))
            if e.status == "succeeded"]
    store.close()
    values = np.random.default_rng(seed).permutation([e.values[EARLIER_PROPERTY]
                                                      for e in rows])
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["formula", EARLIER_PROPERTY])
        writer.writerows((e.key, v) for e, v in zip(rows, values, strict=True))
    return out


def campaign_for(variant: str, seed: int, folder: Path, budget: int, earlier: int) -> Any:
    import matloop
    from matloop.campaigns.campaign_schema import Related

    campaign = matloop.Campaign.from_file(TARGET)
    related: list[Related] = []
    mapping = {"log10_G_VRH_GPa": EARLIER_PROPERTY}
    if variant == "transfer":
        related = [Related(name="bulk", path=earlier_database(seed, folder, earlier),
                           properties=mapping)]
    elif variant == "shuffled":
        table = shuffled_table(earlier_database(seed, folder, earlier),
                               folder / f"shuffled-{seed}.csv", seed)
        related = [Related(name="shuffled", path=table, properties=mapping)]
    section = campaign.campaign.model_copy(update={"related": related})
    loop = campaign.loop.model_copy(update={"budget": budget})
    campaign = campaign.model_copy(update={"campaign": section, "loop": loop})
    return campaign.with_overrides(seed=seed, database=str(folder / f"{variant}-{seed}.db"))


def run_one(variant: str, seed: int, folder: Path, budget: int, earlier: int,
            top: np.ndarray) -> dict[str, Any]:
    from matloop.store import Store

    campaign = campaign_for(variant, seed, folder, budget, earlier)
    start = time.perf_counter()
    with campaign.session() as session:
        session.run()
        correlation = [r["model_correlation"] for r in session.status().get("related", [])]
    seconds = time.perf_counter() - start
    store = Store(campaign.database_url, create=False)
    cid = store.campaign_id(campaign.campaign.name)
    found = np.array([top[e.pool_index] for e in store.evaluations(cid)
                      if e.status == "succeeded"])
    cycles = store.cycles(cid)
    loop_s = [c.fit_s + c.select_s for c in cycles if c.strategy != "initial"]
    store.close()
    return {"variant": variant, "seed": seed,
            "first_top1": int(np.argmax(found)) + 1 if found.any() else None,
            "top1_found": int(found.sum()), "evaluations": len(found),
            "correlation": correlation[0] if correlation else None,
            "loop_s_per_cycle": float(np.mean(loop_s)) if loop_s else 0.0,
            "seconds": seconds}


def top_set() -> np.ndarray:
    """``(N,)`` bool: the shear-modulus pool's top 1 %."""
    import matloop
    from matloop.benchmarking.analysis import known_answers
    from matloop.benchmarking.metrics import top_set as top_of

    campaign = matloop.Campaign.from_file(TARGET)
    truth = known_answers(campaign, "transfer")
    return top_of(truth.values[:, 0], 1.0, TOP)[0]


def tabulate(results: list[dict[str, Any]]) -> None:
    print("| variant | evals to the first top-1 % | top-1 % found | learnt correlation "
          "| loop s/cycle |")
    print("|---|---|---|---|---|")
    for variant, mine in by_variant(results, VARIANTS):
        learnt = [r["correlation"]["log10_G_VRH_GPa"] for r in mine if r["correlation"]]
        print(f"| {variant} | {spread(mine, 'first_top1')} | {spread(mine, 'top1_found')} | "
              + (f"{np.median(learnt):.2f}" if learnt else "—")
              + f" | {np.median([r['loop_s_per_cycle'] for r in mine]):.1f} |")
    seeds = sorted({r["seed"] for r in results})
    for variant in VARIANTS[1:]:
        pairs = [(b["first_top1"], t["first_top1"]) for s in seeds
                 for b in results if b["variant"] == "none" and b["seed"] == s
                 for t in results if t["variant"] == variant and t["seed"] == s]
        better = sum((t or math.inf) < (b or math.inf) for b, t in pairs)
        worse = sum((t or math.inf) > (b or math.inf) for b, t in pairs)
        print(f"{variant} against none, seed by seed: earlier in {better}, later in "
              f"{worse}, same in {len(pairs) - better - worse}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--earlier-budget", type=int, default=100,
                        help="evaluations of the earlier campaign")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--json", type=Path, help="write every run here (and read the "
                        "runs already in it)")
    parser.add_argument("--tabulate", type=Path, help="print the table of a JSON file")
    args = parser.parse_args()
    if args.tabulate:
        tabulate(json.loads(args.tabulate.read_text()))
        return
    top = top_set()
    seeds = range(args.start, args.start + args.seeds)
    results = run_variants(seeds, args.variants, args.json, lambda variant, seed, folder:
                           run_one(variant, seed, folder, args.budget, args.earlier_budget,
                                   top))
    tabulate(results)


if __name__ == "__main__":
    main()
