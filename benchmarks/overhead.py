"""Benchmark: what the loop itself costs per cycle (fit + score + select) as pools grow.

Builds a real composition pool (7 elements, up to 4 per composition, ~1.2 million rows),
featurises it, fits the exact GP on n measured candidates (values from a smooth function
of the features) from scratch and then, warm-started, on n + 1, and selects q = 1 and
q = 4 candidates over the first N rows with the same ``select`` the loop calls; then the
same selections for two objectives (hypervolume improvement, ``ehvi``).
Baselines measured in the same process:

* one real oracle call: ``AseEosOracle`` (EMT, 32-atom ternary, relax + 7-point EOS);
* BoTorch's own batched posterior for the q = 1 scoring (what ``optimize_acqf_discrete``
  does without matloop's marginal model), on the largest pool it can finish quickly.

Prints figures; asserts nothing.

    .venv/bin/python benchmarks/overhead.py [--pools 1000 10000 100000 1000000] [--train 20 100 300]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def timed(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, nargs="+", default=[1000, 10_000, 100_000,
                                                                    1_000_000])
    parser.add_argument("--train", type=int, nargs="+", default=[20, 100, 300])
    args = parser.parse_args()

    import torch
    from botorch.acquisition import LogExpectedImprovement

    from matloop.campaigns.schema import CompositionSpace, Target
    from matloop.campaigns.spaces import composition_grid
    from matloop.campaigns.targets import TargetSet
    from matloop.features import featurizer_for
    from matloop.loop.acquisition import select
    from matloop.oracles.ase_emt import AseEosOracle
    from matloop.protocols import Candidate
    from matloop.surrogates import make_surrogate

    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    space = CompositionSpace(kind="compositions", elements=["Cu", "Ni", "Pd", "Pt", "Au",
                                                            "Ag", "Al"],
                             step=1 / 60, max_elements=4)
    pool, build_s = timed(composition_grid, space)
    raw, feat_s = timed(lambda: featurizer_for(pool).transform(pool.values))
    features = raw[:, np.ptp(raw, axis=0) > 0]
    print(f"pool: {len(pool):,} compositions built in {build_s:.2f} s, "
          f"{features.shape[1]} features in {feat_s:.2f} s (once per run)")

    oracle = AseEosOracle()
    candidate = Candidate("Cu0.4 Ni0.3 Pt0.3", "Cu4Ni3Pt3",
                          composition={"Cu": 0.4, "Ni": 0.3, "Pt": 0.3})
    oracle.evaluate(candidate)  # first call computes the pure-element references
    _, oracle_s = timed(oracle.evaluate, candidate)
    print(f"baseline oracle call (EMT, 32 atoms, relax + EOS): {oracle_s:.3f} s")

    targets = TargetSet.from_targets([Target(property="y", goal="maximize")])
    rng = np.random.default_rng(0)
    weights = rng.normal(size=features.shape[1])
    bounds = np.stack([features.min(axis=0), features.max(axis=0)])
    scaled = (features - bounds[0]) / (bounds[1] - bounds[0])
    print()
    print(f"{'n train':>8} {'pool N':>10} {'cold fit s':>11} {'warm fit s':>11} "
          f"{'select q=1 s':>13} {'select q=4 s':>13} {'(warm+q1)/oracle':>17}")
    for n in args.train:
        train = rng.choice(len(features), n + 1, replace=False)
        Y = np.sin(scaled[train] @ weights / 3)[:, None]
        previous, cold_s = timed(make_surrogate("gp", bounds=bounds, seed=0).fit,
                                 features[train[:n]], Y[:n])
        # the loop's usual case: one more measurement, start from the last fit
        surrogate, warm_s = timed(make_surrogate("gp", bounds=bounds, seed=0,
                                                 warm_start=previous.hyperparameters()).fit,
                                  features[train], Y)
        for size in args.pools:
            choices = features[: min(size, len(features))]
            _, q1_s = timed(select, "logei", surrogate, choices, features[train], Y, targets,
                            1, 0)
            _, q4_s = timed(select, "logei", surrogate, choices, features[train], Y, targets,
                            4, 0)
            print(f"{n:>8} {len(choices):>10,} {cold_s:>11.2f} {warm_s:>11.2f} "
                  f"{q1_s:>13.3f} {q4_s:>13.3f} {(warm_s + q1_s) / oracle_s:>17.1f}")

    two = TargetSet.from_targets([Target(property="y", goal="maximize"),
                                  Target(property="z", goal="maximize")])
    print()
    print("two objectives (ehvi):")
    print(f"{'n train':>8} {'pool N':>10} {'fit s':>11} {'select q=1 s':>13} "
          f"{'select q=4 s':>13} {'(fit+q1)/oracle':>17}")
    for n in args.train:
        train = rng.choice(len(features), n, replace=False)
        Y2 = np.hstack([np.sin(scaled[train] @ weights / 3)[:, None],
                        np.cos(scaled[train] @ weights / 3)[:, None]])
        model, fit_s = timed(make_surrogate("gp", bounds=bounds, seed=0).fit,
                             features[train], Y2)
        for size in args.pools:
            choices = features[: min(size, len(features))]
            _, q1_s = timed(select, "ehvi", model, choices, features[train], Y2, two, 1, 0)
            _, q4_s = timed(select, "ehvi", model, choices, features[train], Y2, two, 4, 0)
            print(f"{n:>8} {len(choices):>10,} {fit_s:>11.2f} {q1_s:>13.3f} {q4_s:>13.3f} "
                  f"{(fit_s + q1_s) / oracle_s:>17.1f}")

    size = 16_384
    X = torch.as_tensor(features[:size], dtype=torch.double).unsqueeze(-2)
    best = float(Y.max())
    with torch.no_grad():
        _, batched_s = timed(LogExpectedImprovement(surrogate.model, best_f=best), X)
        _, marginal_s = timed(LogExpectedImprovement(surrogate.marginal_model, best_f=best), X)
    print()
    print(f"scoring {size:,} candidates with LogEI at n = {args.train[-1]}: BoTorch batched "
          f"posterior {batched_s:.3f} s, matloop marginal model {marginal_s:.3f} s "
          f"(x{batched_s / marginal_s:.0f} faster)")


if __name__ == "__main__":
    main()
