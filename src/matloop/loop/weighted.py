"""Weighting any acquisition by the probability that an evaluation succeeds.

``FeasibilityWeighted`` adds ``log P(success)`` of each candidate to a log-scale BoTorch
acquisition, i.e. multiplies the acquisition by the probability that evaluating the
candidate gives a result at all. BoTorch's greedy discrete optimiser scores one new point
at a time with the chosen ones as pending points, so the term is the new point's own
probability; pending points are passed through to the wrapped acquisition. Imported
lazily: it needs BoTorch at import time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction

FLOOR = 1e-12  # P(success) below this counts as this (log stays finite)


class FeasibilityWeighted(AcquisitionFunction):
    """``acquisition(X) + Σ_q log P(success | x_q)`` for inputs ``(b, q, d)``;
    ``probability`` maps features ``(N, d)`` to P(success) ``(N,)``."""

    def __init__(self, acquisition: AcquisitionFunction,
                 probability: Callable[[np.ndarray], np.ndarray]) -> None:
        super().__init__(acquisition.model)
        self.acquisition = acquisition
        self.probability = probability

    @property
    def X_pending(self) -> torch.Tensor | None:  # type: ignore[override]
        return getattr(self.acquisition, "X_pending", None)

    def set_X_pending(self, X_pending: torch.Tensor | None = None) -> None:
        self.acquisition.set_X_pending(X_pending)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        flat = X.detach().reshape(-1, X.shape[-1]).cpu().numpy()
        p = torch.as_tensor(self.probability(flat), dtype=X.dtype).reshape(X.shape[:-1])
        return self.acquisition(X) + p.clamp_min(FLOOR).log().sum(dim=-1)
