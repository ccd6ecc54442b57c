"""Acquisition: score the unevaluated pool with BoTorch and pick a batch.

``logei`` (default) is log expected improvement: analytic ``LogExpectedImprovement``
for one candidate with nothing in flight, else Monte Carlo
``qLogNoisyExpectedImprovement`` with in-flight candidates as pending points. ``ucb`` is
the upper confidence bound (analytic / ``qUpperConfidenceBound`` likewise). Batches are
chosen greedily over the discrete pool by BoTorch's ``optimize_acqf_discrete``.

Large pools: single candidates are scored through the surrogate's ``marginal_model``
(exact marginals at O(N·n·d)); a Monte Carlo batch is chosen among the ``MC_POOL``
candidates with the best analytic score. The greedy gain of adding a point to a batch
never exceeds the point's own analytic value, so candidates outside that set rarely matter.
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

ANALYTIC_CHUNK = 65536
MC_CHUNK = 512
MC_SAMPLES = 256
MC_POOL = 2048

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
    transform = ScalarizedPosteriorTransform(weights=torch.tensor([sign], dtype=dtype))
    train = torch.as_tensor(X_train, dtype=dtype)
    pool = torch.as_tensor(choices, dtype=dtype)
    scoring_model = getattr(surrogate, "marginal_model", surrogate.model)
    analytic = ACQUISITIONS[name](model=scoring_model, transform=transform, analytic=True,
                                  X_train=train, pending=None, seed=seed, beta=beta)
    with torch.no_grad():
        if q == 1 and pending is None:
            chosen, _ = optimize_acqf_discrete(analytic, q=1, choices=pool,
                                               max_batch_size=ANALYTIC_CHUNK)
            return _rows_of(chosen, pool)
        subset = torch.arange(len(pool))
        if len(pool) > MC_POOL:
            scores = torch.cat([analytic(chunk.unsqueeze(-2))
                                for chunk in pool.split(ANALYTIC_CHUNK)])
            subset = scores.topk(MC_POOL).indices.sort().values
        batch = ACQUISITIONS[name](model=surrogate.model, transform=transform, analytic=False,
                                   X_train=train, pending=pending, seed=seed, beta=beta)
        chosen, _ = optimize_acqf_discrete(batch, q=q, choices=pool[subset],
                                           max_batch_size=MC_CHUNK, unique=True)
    return subset.numpy()[_rows_of(chosen, pool[subset])]


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
