"""Multi-objective bookkeeping: the hypervolume reference point and the front's hypervolume.

Everything here works in the *signed* objective space of ``TargetSet.signed_objectives``
(one column per optimised property, larger is better), which is what BoTorch's
hypervolume machinery assumes.
"""

from __future__ import annotations

import numpy as np

from matloop.campaigns.targets import TargetSet


def reference_point(targets: TargetSet, Y: np.ndarray) -> np.ndarray:
    """The reference point ``(k,)`` (signed): each target's ``reference`` where given,
    otherwise BoTorch's ``infer_reference_point`` on the measured Pareto front (the worst
    front value minus 10 % of the front's range; all measured values when no candidate
    meets the bounds yet). Raises ``ValueError`` when nothing is measured."""
    import torch
    from botorch.utils.multi_objective.hypervolume import infer_reference_point

    Z = targets.signed_objectives(Y)
    front = Z[targets.pareto(Y)]
    if not len(front):
        front = Z[np.isfinite(Z).all(axis=1)]
    given = torch.tensor([sign * targets.references[j] if j in targets.references
                          else float("nan") for j, sign in targets.objectives],
                         dtype=torch.double)
    if not len(front):
        if given.isnan().any():
            raise ValueError("a reference point needs measured objectives or a 'reference' "
                             "on every maximize/minimize target")
        return given.numpy()
    inferred = infer_reference_point(torch.as_tensor(front, dtype=torch.double))
    return torch.where(given.isnan(), inferred, given).numpy()


def hypervolume(targets: TargetSet, Y: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume (signed objective units multiplied) dominated by the measured Pareto
    front of ``Y`` ``(n, m)`` and bounded by ``reference`` ``(k,)``; 0 without a front."""
    return signed_hypervolume(targets.signed_objectives(Y)[targets.pareto(Y)], reference)


def signed_hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by signed objective ``points`` ``(n, k)`` (larger is better;
    dominated ones may be included) and bounded by ``reference`` ``(k,)``."""
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    points = points[(points > reference).all(axis=1)]
    if not len(points):
        return 0.0
    return float(Hypervolume(torch.as_tensor(reference, dtype=torch.double)).compute(
        torch.as_tensor(points, dtype=torch.double)))


def raw_reference(targets: TargetSet, reference: np.ndarray) -> dict[str, float]:
    """The signed ``reference`` ``(k,)`` in property units, keyed by property name."""
    return {targets.properties[j]: float(sign * value)
            for (j, sign), value in zip(targets.objectives, reference, strict=True)}


def signed_reference(targets: TargetSet, raw: dict[str, float]) -> np.ndarray:
    """Inverse of ``raw_reference``."""
    return np.array([sign * raw[targets.properties[j]] for j, sign in targets.objectives])
