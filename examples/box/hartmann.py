"""BoTorch's six-dimensional Hartmann function, for ``examples/box/hartmann.toml``.

A standard test of Bayesian optimisation: six local minima over the unit box, the
global one -3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
"""

from __future__ import annotations


def energy(x1: float, x2: float, x3: float, x4: float, x5: float, x6: float
           ) -> dict[str, float]:
    """The Hartmann-6 value at ``x1..x6`` (each in [0, 1]), to be minimised."""
    import torch
    from botorch.test_functions import Hartmann

    point = torch.tensor([[x1, x2, x3, x4, x5, x6]], dtype=torch.double)
    return {"energy": float(Hartmann(dim=6)(point))}
