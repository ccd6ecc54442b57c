"""Acquisition: score the unevaluated pool with BoTorch and pick a batch.

``logei`` (default) is log expected improvement: analytic ``LogExpectedImprovement``
for one candidate with nothing in flight, else Monte Carlo
``qLogNoisyExpectedImprovement`` with in-flight candidates as pending points. ``ucb`` is
the upper confidence bound (analytic / ``qUpperConfidenceBound`` likewise). Batches are
chosen greedily over the discrete pool by BoTorch's ``optimize_acqf_discrete``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from matloop.protocols import Surrogate

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.acquisition.objective import PosteriorTransform
    from botorch.models.model import Model

ANALYTIC_CHUNK = 16384
MC_CHUNK = 2048
MC_SAMPLES = 256

AcquisitionFactory = Callable[..., "AcquisitionFunction"]


def select(name: str, surrogate: Surrogate, choices: np.ndarray, X_train: np.ndarray,
           sign: float, q: int, seed: int, X_pending: np.ndarray | None = None,
           beta: float = 2.0) -> np.ndarray:
    """Indices into ``choices`` ``(N, d)`` of the q candidates to evaluate next.

    ``X_train`` ``(n, d)`` are the measured candidates' features; ``sign`` is +1 to
    maximise and -1 to minimise the (single) modelled property.
    """
    import torch
    from botorch.acquisition.objective import ScalarizedPosteriorTransform
    from botorch.optim import optimize_acqf_discrete

    q = min(q, len(choices))
    dtype = torch.double
    pending = None if X_pending is None or len(X_pending) == 0 else torch.as_tensor(
        X_pending, dtype=dtype)
    analytic = q == 1 and pending is None
    transform = ScalarizedPosteriorTransform(weights=torch.tensor([sign], dtype=dtype))
    acquisition = ACQUISITIONS[name](
        model=surrogate.model, transform=transform, analytic=analytic,
        X_train=torch.as_tensor(X_train, dtype=dtype), pending=pending, seed=seed, beta=beta)
    choice_tensor = torch.as_tensor(choices, dtype=dtype)
    with torch.no_grad():
        chosen, _ = optimize_acqf_discrete(
            acquisition, q=q, choices=choice_tensor,
            max_batch_size=ANALYTIC_CHUNK if analytic else MC_CHUNK, unique=True)
    return _rows_of(chosen, choice_tensor)


def _log_ei(model: Model, transform: PosteriorTransform, analytic: bool,
            X_train: torch.Tensor, pending: torch.Tensor | None, seed: int, beta: float
            ) -> AcquisitionFunction:
    import torch
    from botorch.acquisition import LogExpectedImprovement, qLogNoisyExpectedImprovement
    from botorch.sampling import SobolQMCNormalSampler

    if analytic:
        # the incumbent is the best posterior mean at a measured point (robust to noise)
        with torch.no_grad():
            best = transform(model.posterior(X_train)).mean.max()
        return LogExpectedImprovement(model, best_f=best, posterior_transform=transform)
    return qLogNoisyExpectedImprovement(
        model, X_baseline=X_train, posterior_transform=transform, X_pending=pending,
        sampler=SobolQMCNormalSampler(torch.Size([MC_SAMPLES]), seed=seed),
        prune_baseline=True)


def _ucb(model: Model, transform: PosteriorTransform, analytic: bool, X_train: torch.Tensor,
         pending: torch.Tensor | None, seed: int, beta: float) -> AcquisitionFunction:
    import torch
    from botorch.acquisition import UpperConfidenceBound, qUpperConfidenceBound
    from botorch.sampling import SobolQMCNormalSampler

    if analytic:
        return UpperConfidenceBound(model, beta=beta, posterior_transform=transform)
    return qUpperConfidenceBound(
        model, beta=beta, posterior_transform=transform, X_pending=pending,
        sampler=SobolQMCNormalSampler(torch.Size([MC_SAMPLES]), seed=seed))


ACQUISITIONS: dict[str, AcquisitionFactory] = {"logei": _log_ei, "ucb": _ucb}


def _rows_of(chosen: torch.Tensor, choices: torch.Tensor) -> np.ndarray:
    """Indices of the rows of ``choices`` equal to each chosen point (each used once)."""
    taken: list[int] = []
    for point in chosen:
        matches = (choices == point).all(dim=-1).nonzero().reshape(-1).tolist()
        taken.append(next(i for i in matches if i not in taken))
    return np.asarray(taken, dtype=np.int64)
