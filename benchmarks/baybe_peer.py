"""BayBE's default campaign on one benchmark problem, run under an interpreter with baybe.

    python benchmarks/baybe_peer.py problem.npz orders.json

``problem.npz`` (written by ``matloop.benchmarking.peers.baybe_orders``) holds the pool's
features ``x`` ``(N, d)`` in the unit box, the true objective ``y`` ``(N,)``, ``sign``
(+1 maximise, -1 minimise), ``budget``, ``initial``, ``batch``, ``seeds`` and ``stop``
``(N,)`` (rows whose measurement ends a seed early; all False to spend the budget). For
each seed a fresh default ``baybe.Campaign`` (its default recommender, nothing
configured) over a discrete search space of exactly those rows recommends ``initial``
rows, then ``batch`` at a time, until ``budget`` rows are measured or a ``stop`` row is.
``orders.json`` maps each seed to the row indices in the order recommended. This file
imports nothing from matloop: baybe is not a matloop dependency and lives in its own
environment.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd


def run_seed(x: np.ndarray, y: np.ndarray, sign: float, budget: int, initial: int,
             batch: int, seed: int, stop: np.ndarray) -> list[int]:
    from baybe import Campaign
    from baybe.objectives import SingleTargetObjective
    from baybe.parameters import NumericalDiscreteParameter
    from baybe.searchspace import SearchSpace, SubspaceDiscrete
    from baybe.settings import active_settings
    from baybe.targets import NumericalTarget

    active_settings.random_seed = seed
    columns = [f"x{j}" for j in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=columns)
    parameters = [NumericalDiscreteParameter(name=c, values=tuple(np.unique(frame[c])))
                  for c in columns]
    # SearchSpace.from_dataframe checks every cell against every value of its column:
    # 389 s for 600 rows of 50 features; over an hour, unfinished, for 5,680. The subspace
    # made directly from the same rows has the same experimental and computational
    # representations (checked equal on 600 rows), without the check.
    space = SearchSpace(discrete=SubspaceDiscrete(parameters=parameters, exp_rep=frame))
    target = NumericalTarget(name="y", minimize=sign < 0)
    campaign = Campaign(searchspace=space, objective=SingleTargetObjective(target))
    rows = space.discrete.exp_rep
    order: list[int] = []
    while len(order) < budget and not stop[order].any():
        size = initial if not order else min(batch, budget - len(order))
        recommended = campaign.recommend(batch_size=size)
        picked = [int(i) for i in recommended.index]
        if not set(picked) <= set(rows.index):
            raise SystemExit("BayBE recommended rows outside the search space's index")
        measured = recommended.copy()
        measured["y"] = y[picked]
        measured = measured[np.isfinite(measured["y"])]
        order += picked
        if len(measured):
            campaign.add_measurements(measured)
    return order[:budget]


def main(given: str, found: str) -> None:
    data = np.load(given)
    x, y = data["x"], data["y"]
    sign, budget = float(data["sign"]), int(data["budget"])
    initial, batch = int(data["initial"]), int(data["batch"])
    stop = data["stop"] if "stop" in data else np.zeros(len(y), bool)
    orders = {int(seed): run_seed(x, y, sign, budget, initial, batch, int(seed), stop)
              for seed in data["seeds"]}
    with open(found, "w") as out:
        json.dump(orders, out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
