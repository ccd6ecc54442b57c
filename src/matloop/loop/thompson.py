"""Thompson sampling over the pool: each pick is the best candidate of one draw from the
GP's joint posterior (BoTorch's ``MaxPosteriorSampling``, without replacement, so a batch
of q draws gives q distinct candidates).

A joint draw over N candidates needs an N × N covariance, so on pools larger than
``SHORTLIST`` the draw is over the ``SHORTLIST`` candidates with the highest upper
confidence bound (mean + 3σ of the optimised property's marginal): a candidate below
that many others' optimistic values would only rarely win a draw.
"""

from __future__ import annotations

import numpy as np

from matloop.campaigns.targets import TargetSet
from matloop.loop.rows import rows_of
from matloop.protocols import Surrogate

SHORTLIST = 2000
OPTIMISM = 3.0


def thompson_picks(surrogate: Surrogate, choices: np.ndarray, targets: TargetSet, q: int,
                   seed: int) -> np.ndarray:
    """Indices into ``choices`` ``(N, d)`` of q distinct candidates, one per posterior
    draw (seeded). Needs one maximize/minimize target and no range targets."""
    import torch
    from botorch.generation.sampling import MaxPosteriorSampling
    from botorch.posteriors import Posterior

    if targets.objective is None or targets.bounds:
        raise ValueError("'thompson' needs one maximize/minimize target and no range targets")
    j, sign = targets.objective
    q = min(q, len(choices))
    shortlist = np.arange(len(choices))
    if len(choices) > SHORTLIST:
        prediction = surrogate.predict(choices)
        optimistic = sign * prediction.mean[:, j] + OPTIMISM * prediction.std[:, j]
        shortlist = np.sort(np.argsort(-optimistic, kind="stable")[:SHORTLIST])
    X = torch.as_tensor(choices[shortlist], dtype=torch.double)

    def objective(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        return sign * samples[..., j]

    from botorch.acquisition.objective import GenericMCObjective

    sampler = MaxPosteriorSampling(surrogate.model, objective=GenericMCObjective(objective),
                                   replacement=False)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        chosen = sampler(X, num_samples=q)
    assert not isinstance(chosen, Posterior)
    return shortlist[rows_of(chosen, X)]
