"""Benchmark: the loop on a box space, picks refined or not, against random draws.

    .venv/bin/python benchmarks/box_spaces.py [CAMPAIGN] [--seeds 10] [--regret 0.02]
                                              [--batch-size Q]

CAMPAIGN (default ``examples/box/mixture.toml``: fractions a..f summing to one,
``a <= 0.45``, ``2*b + c <= 0.8``) is a box space with a ``python`` oracle and one
optimised property; ``examples/box/hartmann.toml`` is BoTorch's six-dimensional Hartmann
function over the unit box. Each seed runs the real loop (``Session.run``, the python
oracle in worker processes) to the campaign's budget twice: picks refined continuously
(``[space] refine = true``, the default) and picks from the drawn candidates only. It
counts the evaluations until one lies within ``--regret`` × (range of the response over
the drawn candidates) of the best drawn candidate, and the best value found. Random
search draws the same candidates uniformly from the feasible region (the drawn
candidates in a random order, seeded alike); its expected draws are ``(N + 1) / (K + 1)``
with K candidates within the regret. Printed: per seed and median, each method; the time
a model cycle spent choosing (``select_s``: scoring, picking and refining); and whether
every evaluated candidate met every range and constraint.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CAMPAIGN = HERE.parent / "examples" / "box" / "mixture.toml"
VARIANTS = {"refined": True, "drawn only": False}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("campaign", nargs="?", type=Path, default=CAMPAIGN)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--regret", type=float, default=0.02)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="picks per cycle (default: the campaign's)")
    args = parser.parse_args()

    import warnings

    from matloop.benchmarking.replay import benchmark_copy
    from matloop.campaigns import load
    from matloop.campaigns.constraints import parse_constraint
    from matloop.loop.session import Session
    from matloop.spaces.box import feasible
    from matloop.store import Store

    warnings.filterwarnings("ignore")
    campaign = load(args.campaign)
    sys.path.insert(0, str(args.campaign.resolve().parent))
    module, name = campaign.oracle.function.split(":")  # type: ignore[union-attr]
    response = getattr(importlib.import_module(module), name)
    (target,) = campaign.targets
    sign = -1.0 if target.goal == "minimize" else 1.0
    with Session(campaign) as session:
        pool = session.pool
        y = sign * np.array([response(**pool.candidate(i).inputs)[target.property]
                             for i in range(len(pool))])
    names = pool.names
    constraints = [parse_constraint(text, names) for text in campaign.space.constraints]
    good = y >= y.max() - args.regret * np.ptp(y)
    budget = campaign.loop.budget
    expected = (len(y) + 1) / (good.sum() + 1)
    print(f"{args.campaign.name}: {len(y)} candidates, best {sign * y.max():.4f}; "
          f"{good.sum()} within regret {args.regret:g} x range "
          f"({args.regret * np.ptp(y):.4f}); random search expects {expected:.0f} draws; "
          f"budget {budget}")
    first: dict[str, list[int]] = {name: [] for name in VARIANTS}
    best: dict[str, list[float]] = {name: [] for name in VARIANTS}
    select_s: dict[str, list[float]] = {name: [] for name in VARIANTS}
    random_first, ok = [], True
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
            for variant, refine in VARIANTS.items():
                url = f"sqlite:///{folder}/{variant[0]}{seed}.db"
                copy = benchmark_copy(campaign, seed, None, url)
                copy = copy.model_copy(update={
                    "space": copy.space.model_copy(update={"refine": refine}),
                    "loop": copy.loop.model_copy(update={
                        "batch_size": args.batch_size or copy.loop.batch_size})})
                with Session(copy) as session:
                    session.run()
                    rows = session.evaluations()
                store = Store(url, create=False)
                select_s[variant] += [c.select_s for c in store.cycles(store.campaign_id(
                    campaign.campaign.name)) if c.strategy != "initial"]
                store.close()
                values = np.column_stack([  # options are not checked: give them code 0
                    np.zeros(len(rows)) if n in pool.categories else rows[n].to_numpy(float)
                    for n in names])
                ok &= bool(feasible(copy.space, names, values, constraints).all())
                found = sign * rows[target.property].to_numpy(float)
                hits = np.flatnonzero(found >= y.max() - args.regret * np.ptp(y))
                first[variant].append(int(hits[0]) + 1 if len(hits) else budget + 1)
                best[variant].append(float(found.max()))
            order = np.random.default_rng(seed).permutation(len(y))
            random_first.append(int(np.flatnonzero(good[order])[0]) + 1)
            print(f"seed {seed}: " + ", ".join(
                f"{v} {first[v][-1]} (best {sign * best[v][-1]:.4f})" for v in VARIANTS)
                + f", random {random_first[-1]}", flush=True)
    print(f"median evaluations to regret <= {args.regret:g} x range (unreached counted as "
          f"{budget + 1}): " + ", ".join(f"loop {v} {statistics.median(first[v]):g}"
                                         for v in VARIANTS)
          + f", random {statistics.median(random_first):g} (expected {expected:.0f})")
    print(f"median best {target.property} in {budget} evaluations: " + ", ".join(
        f"{v} {sign * statistics.median(best[v]):.4f}" for v in VARIANTS)
        + f" (best drawn candidate {sign * y.max():.4f}); refined better in "
        f"{sum(r > d + 1e-9 for r, d in zip(best['refined'], best['drawn only'], strict=True))} of "
        f"{args.seeds} seeds")
    print("selection per model cycle (score, pick, refine): " + ", ".join(
        f"{v} mean {statistics.mean(select_s[v]):.3f} s, max {max(select_s[v]):.3f} s"
        for v in VARIANTS))
    print(f"every evaluated candidate met every constraint: {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
