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

import copy
import json
import sys
from typing import Any

import numpy as np
import pandas as pd


def search_space(x: np.ndarray) -> Any:
    """BayBE's discrete search space of the rows of ``x`` ``(N, d)``. Built once per
    problem: BayBE checks every row against every column's values, which took about half
    an hour for 5,680 rows of 50 composition features."""
    from baybe.parameters import NumericalDiscreteParameter
    from baybe.searchspace import SearchSpace

    columns = [f"x{j}" for j in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=columns)
    parameters = [NumericalDiscreteParameter(name=c, values=tuple(np.unique(frame[c])))
                  for c in columns]
    return SearchSpace.from_dataframe(frame, parameters=parameters)


def run_seed(built: Any, y: np.ndarray, sign: float, budget: int, initial: int,
             batch: int, seed: int, stop: np.ndarray) -> list[int]:
    from baybe import Campaign
    from baybe.objectives import SingleTargetObjective
    from baybe.settings import active_settings
    from baybe.targets import NumericalTarget

    active_settings.random_seed = seed
    space = copy.deepcopy(built)  # a fresh space per seed, as if built again
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
    space = search_space(x)
    orders = {int(seed): run_seed(space, y, sign, budget, initial, batch, int(seed), stop)
              for seed in data["seeds"]}
    with open(found, "w") as out:
        json.dump(orders, out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
