"""What every matloop GP shares: its kernel and transforms, and the rows it fits on."""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_POINTS = 2


def measured_rows(Y: np.ndarray, j: int) -> np.ndarray:
    """Rows of ``Y`` ``(n, m)`` where property j was measured; at least ``MIN_POINTS``."""
    rows = np.flatnonzero(np.isfinite(Y[:, j]))
    if len(rows) < MIN_POINTS:
        raise ValueError(f"property {j} has {len(rows)} measured values; "
                         f"a GP needs at least {MIN_POINTS}")
    return rows


def gp_modules(d: int, bounds: np.ndarray | None) -> dict[str, Any]:
    """Kernel and transforms of every matloop GP over d features: Matérn-5/2 with one
    length scale per feature and BoTorch's dimension-scaled prior, inputs normalised to
    ``bounds`` ``(2, d)`` (or to the data when None), outputs standardised."""
    import torch
    from botorch.models.transforms import Normalize, Standardize
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

    limits = None if bounds is None else torch.as_tensor(bounds, dtype=torch.double)
    return {"covar_module": get_covar_module_with_dim_scaled_prior(ard_num_dims=d,
                                                                   use_rbf_kernel=False),
            "input_transform": Normalize(d=d, bounds=limits),
            "outcome_transform": Standardize(m=1)}
