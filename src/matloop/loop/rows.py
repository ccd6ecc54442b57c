"""Pool rows from the points a BoTorch optimiser or sampler returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def rows_of(chosen: torch.Tensor, choices: torch.Tensor) -> np.ndarray:
    """Indices of the rows of ``choices`` equal to each chosen point (each used once)."""
    taken: list[int] = []
    for point in chosen:
        matches = (choices == point).all(dim=-1).nonzero().reshape(-1).tolist()
        taken.append(next(i for i in matches if i not in taken))
    return np.asarray(taken, dtype=np.int64)
