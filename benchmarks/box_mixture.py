"""Benchmark: the loop on a constrained six-component mixture against random draws.

    .venv/bin/python benchmarks/box_mixture.py [--seeds 10] [--regret 0.02]

``examples/box/mixture.toml``: fractions a..f summing to one, ``a <= 0.45``,
``2*b + c <= 0.8``, a box space of 10,000 drawn candidates, the analytic response of
``examples/box/mixture.py``. Each seed runs the real loop (``Session.run``, the python
oracle in worker processes) to the campaign's budget and counts the evaluations until
one lies within ``--regret`` × (range of the response over the candidates) of the best
candidate. Random search draws the same candidates uniformly from the feasible region
(the drawn candidates in a random order, seeded alike); its expected draws are
``(N + 1) / (K + 1)`` with K candidates within the regret. Printed: per seed and median,
both methods, and whether every evaluated candidate met every constraint.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CAMPAIGN = HERE.parent / "examples" / "box" / "mixture.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--regret", type=float, default=0.02)
    args = parser.parse_args()

    import warnings

    from matloop.benchmarking.replay import benchmark_copy
    from matloop.campaigns import load
    from matloop.loop.session import Session

    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(CAMPAIGN.parent))
    from mixture import strength  # type: ignore[import-not-found]

    campaign = load(CAMPAIGN)
    with Session(campaign) as session:
        pool = session.pool
    y = np.array([strength(*row)["strength"] for row in pool.values])
    good = y >= y.max() - args.regret * np.ptp(y)
    budget = campaign.loop.budget
    expected = (len(y) + 1) / (good.sum() + 1)
    print(f"{len(y)} candidates, best {y.max():.4f}; {good.sum()} within regret "
          f"{args.regret:g} x range ({args.regret * np.ptp(y):.4f}); random search "
          f"expects {expected:.0f} draws; budget {budget}")
    loop_first, random_first, feasible = [], [], True
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
            copy = benchmark_copy(campaign, seed, None, f"sqlite:///{folder}/s{seed}.db")
            with Session(copy) as session:
                session.run()
                rows = session.evaluations()
            fractions = rows[list("abcdef")].to_numpy(float)
            feasible &= bool((np.abs(fractions.sum(axis=1) - 1) <= 3e-4).all()
                             and (fractions[:, 0] <= 0.45).all()
                             and (2 * fractions[:, 1] + fractions[:, 2] <= 0.8 + 2e-4).all())
            values = rows["strength"].to_numpy(float)
            hits = np.flatnonzero(values >= y.max() - args.regret * np.ptp(y))
            loop_first.append(int(hits[0]) + 1 if len(hits) else budget + 1)
            order = np.random.default_rng(seed).permutation(len(y))
            random_first.append(int(np.flatnonzero(good[order])[0]) + 1)
            print(f"seed {seed}: loop {loop_first[-1]}, random {random_first[-1]}",
                  flush=True)
    print(f"median evaluations to regret <= {args.regret:g} x range: loop "
          f"{statistics.median(loop_first):g} (unreached counted as {budget + 1}), random "
          f"{statistics.median(random_first):g} (expected {expected:.0f}); every evaluated "
          f"candidate met every constraint: {'yes' if feasible else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
