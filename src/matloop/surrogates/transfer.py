"""Transfer from related campaigns: the multi-task GP of ``surrogates.multifidelity`` with
this campaign's measurements as task 0 and each related campaign's as a task of its own.

The learnt task correlation decides how far a related campaign's values inform this
one's (each task standardised on its own, so an offset, a scale or other units are not
disagreement); a shifted campaign is partly trusted, an unrelated one discounted to its
prior correlation. Predictions, and so every acquisition, are at task 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from matloop.surrogates.multifidelity import MultiFidelityGP

RELATED_POINTS = 1000  # a related campaign's rows in the model, at most (a seeded subset)


@dataclass
class TransferGP(MultiFidelityGP):
    """``MultiFidelityGP`` whose fidelities 1.. are the ``related`` campaigns, for the
    target ``properties``; ``hyperparameters`` names them."""

    related: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()  # each related campaign's rows in the model

    def hyperparameters(self) -> dict[str, Any]:
        """``{"kind": "transfer-gp", "transfer": <the multi-task GP's, with the related
        names>, "correlation": {related: {property: r or None (no values there)}},
        "rows": {related: rows in the model}}``."""
        fitted = super().hyperparameters()
        correlation = {
            name: {prop: (float(row[k + 1]) if k + 1 in self._tasks[j] else None)
                   for j, (prop, row) in enumerate(zip(self.properties,
                                                       fitted["correlation"], strict=True))}
            for k, name in enumerate(self.related)}
        return {"kind": "transfer-gp", "transfer": {**fitted, "related": list(self.related)},
                "correlation": correlation,
                "rows": dict(zip(self.related, self.rows, strict=True))}


def fit_transfer(bounds: np.ndarray, X: np.ndarray, Y: np.ndarray,
                 related: list[tuple[str, np.ndarray, np.ndarray]],
                 properties: tuple[str, ...], seed: int,
                 latest: dict[str, Any] | None) -> TransferGP:
    """The transfer GP on this campaign's features ``X`` ``(n, d)`` and values ``Y``
    ``(n, m)`` and each related ``(name, features (k, d), values (k, m))`` (at most
    ``RELATED_POINTS`` rows of each); warm-started from ``latest`` (a cycle's recorded
    hyperparameters) when they name the same related campaigns. ``ValueError`` when a
    property has fewer than 2 values of this campaign's own."""
    rng = np.random.default_rng(seed)
    features, values, task = [X], [Y], [np.zeros(len(X), dtype=int)]
    for k, (_name, rx, ry) in enumerate(related, start=1):
        if len(rx) > RELATED_POINTS:
            keep = np.sort(rng.choice(len(rx), RELATED_POINTS, replace=False))
            rx, ry = rx[keep], ry[keep]
        features.append(rx)
        values.append(ry)
        task.append(np.full(len(rx), k))
    names = tuple(name for name, _, _ in related)
    previous = (latest or {}).get("transfer")
    warm = previous if previous and tuple(previous.get("related", ())) == names else None
    surrogate = TransferGP(bounds, 1 + len(related), seed=seed, warm_start=warm,
                           related=names, properties=properties,
                           rows=tuple(len(t) for t in task[1:]))
    return surrogate.fit(np.vstack(features), np.vstack(values), np.concatenate(task))
