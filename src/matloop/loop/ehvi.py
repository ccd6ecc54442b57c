"""Analytic expected hypervolume improvement for one candidate, with range targets.

BoTorch's ``ExpectedHypervolumeImprovement`` needs the model outputs to be the objectives
(maximised) and has no outcome constraints. ``SignedObjectives`` selects and signs the
optimised outputs; ``LogConstrainedEHVI`` adds the log probability of meeting every range
target (outputs independent, as in BoTorch's ``LogConstrainedExpectedImprovement``).
Imported lazily: it needs BoTorch at import time.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective.analytic import ExpectedHypervolumeImprovement
from botorch.acquisition.objective import PosteriorTransform
from botorch.models.model import Model
from botorch.posteriors import Posterior, TransformedPosterior
from botorch.utils.multi_objective.box_decompositions.non_dominated import (
    FastNondominatedPartitioning,
)


class SignedObjectives(PosteriorTransform):
    """Outputs ``indices`` of a posterior, each times its sign (larger is better)."""

    scalarize = False

    def __init__(self, indices: list[int], signs: torch.Tensor) -> None:
        super().__init__()
        self.indices = indices
        self.signs = signs

    def evaluate(self, Y: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        return Y[..., self.indices] * self.signs

    def forward(self, posterior: Posterior, X: torch.Tensor | None = None) -> Posterior:
        return TransformedPosterior(posterior, sample_transform=self.evaluate,
                                    mean_transform=self._mean, variance_transform=self._variance)

    def _mean(self, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
        return self.evaluate(mean)

    def _variance(self, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
        return variance[..., self.indices]


class LogConstrainedEHVI(AcquisitionFunction):
    """``log EHVI(x) + log P(x meets every range target)`` for inputs ``(b, 1, d)``.

    ``front`` ``(p, k)`` is the measured Pareto front in signed objective units and
    ``reference`` ``(k,)`` the signed reference point; ``feasibility`` is BoTorch's
    ``LogProbabilityOfFeasibility`` for the range targets, or None.
    """

    def __init__(self, model: Model, reference: torch.Tensor, front: torch.Tensor,
                 indices: list[int], signs: torch.Tensor,
                 feasibility: AcquisitionFunction | None) -> None:
        super().__init__(model)
        front = front[(front > reference).all(dim=-1)]
        partitioning: Any = FastNondominatedPartitioning(reference, Y=front)
        self.ehvi = ExpectedHypervolumeImprovement(
            model, reference.tolist(), partitioning,
            posterior_transform=SignedObjectives(indices, signs))
        self.feasibility = feasibility

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        value: Any = self.ehvi(X).clamp_min(torch.finfo(X.dtype).tiny).log()
        return value if self.feasibility is None else value + self.feasibility(X)
