"""Refining a box space's picks continuously with BoTorch's ``optimize_acqf``.

The acquisition first picks from the space's drawn candidates. Each pick then starts a
local optimisation of the same acquisition over the continuous ranges. It runs under
the space's linear constraints, with integers and options held at the pick's values
(``spaces.region``). Picks are refined one at a time: the picks before are pending
points, so a batch does not collapse onto one optimum. The optimum is rounded to each
parameter's resolution and checked against every range and constraint. It replaces the
pick only when it is a new candidate and its acquisition, re-scored after rounding,
beats the pick's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from matloop.spaces.region import Region

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction

MAXITER = 100  # SLSQP / L-BFGS-B iterations per pick
GAIN = 1e-6  # a refined pick must beat its start by more than this (log acquisitions)


def refine(build: Callable[[torch.Tensor | None], AcquisitionFunction], region: Region,
           rows: np.ndarray, pending: np.ndarray | None = None
           ) -> list[np.ndarray | None]:
    """For each picked pool row of ``rows`` ``(q,)``, the values ``(k,)`` of a better
    candidate, or None to keep the pick. ``build(pending)`` gives the acquisition
    (``acquisition.builder``); ``pending`` ``(p, d)``: features of candidates in
    flight."""
    import torch

    features = region.featurised.features
    chosen: list[np.ndarray] = [] if pending is None else list(pending)
    out: list[np.ndarray | None] = []
    for row in rows:
        start = features[row]
        acquisition = build(torch.as_tensor(np.array(chosen)) if chosen else None)
        refined = _optimum(acquisition, region, start)
        values, at = region.candidate(refined, int(row)) if refined is not None else (
            None, start)
        if values is not None and not (
                region.admits(values) and _unseen(values, out)
                and _score(acquisition, at) > _score(acquisition, start) + GAIN):
            values, at = None, start
        out.append(values)
        chosen.append(at)
    return out


def _optimum(acquisition: AcquisitionFunction, region: Region, start: np.ndarray
             ) -> np.ndarray | None:
    """The acquisition's local optimum from ``start`` ``(d,)`` over the free columns;
    None when the optimiser fails."""
    import torch
    from botorch.exceptions.errors import BotorchError
    from botorch.optim import optimize_acqf

    def constraints(linear: list[tuple[list[int], list[float], float]]
                    ) -> list[tuple[torch.Tensor, torch.Tensor, float]] | None:
        return [(torch.tensor(columns), torch.tensor(a, dtype=torch.double), rhs)
                for columns, a, rhs in linear] or None

    inequalities, equalities = region.linear()
    fixed = {j: float(v) for j, v in enumerate(start) if j not in region.free}
    try:
        candidate, _ = optimize_acqf(
            acquisition, bounds=torch.as_tensor(region.cell(start)), q=1, num_restarts=1,
            batch_initial_conditions=torch.as_tensor(start).reshape(1, 1, -1),
            inequality_constraints=constraints(inequalities),
            equality_constraints=constraints(equalities), fixed_features=fixed,
            options={"maxiter": MAXITER})
    except (BotorchError, RuntimeError, ValueError):  # keep the pick
        return None
    return np.asarray(candidate.detach().reshape(-1).numpy(), dtype=np.float64)


def _score(acquisition: AcquisitionFunction, features: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        return float(acquisition(torch.as_tensor(features).reshape(1, 1, -1)))


def _unseen(values: np.ndarray, earlier: list[np.ndarray | None]) -> bool:
    return not any(e is not None and np.array_equal(e, values) for e in earlier)
