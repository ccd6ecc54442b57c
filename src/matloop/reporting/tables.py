"""The report's candidate tables: measured against predicted, best first."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matloop.campaigns.targets import TargetSet
from matloop.reporting.page import Table


@dataclass(frozen=True)
class Prediction:
    """What the model predicted for a candidate when ``cycle`` (by ``strategy``) picked it:
    ``mean`` and ``std`` ``(m,)``, None for a random pick."""

    cycle: int
    strategy: str
    mean: np.ndarray | None
    std: np.ndarray | None


def order_best(targets: TargetSet, Y: np.ndarray) -> np.ndarray:
    """Row order of ``Y`` ``(n, m)``, best first: nearest to the target region (hits, at
    distance 0, first), then Pareto front members, then the first optimised property or,
    for a pure range search, the depth inside the region. Distances and depths are in
    units of each property's spread over ``Y``."""
    n = len(Y)
    distance, depth = np.zeros(n), np.full(n, np.inf)
    for j, (lo, hi) in targets.bounds.items():
        column = Y[:, j]
        scale = float(np.nanstd(column)) if np.isfinite(column).sum() > 1 else 1.0
        with np.errstate(invalid="ignore"):
            inside = np.minimum(column - lo, hi - column) / (scale or 1.0)
        distance += np.where(np.isfinite(column), np.maximum(-inside, 0.0), np.inf)
        depth = np.fmin(depth, inside)
    front = targets.pareto(Y) if targets.kind == "multi" else np.zeros(n, dtype=bool)
    signed = targets.signed_objectives(Y)
    last = np.nan_to_num(signed[:, 0], nan=-np.inf) if signed.shape[1] else \
        np.nan_to_num(depth, nan=-np.inf)
    return np.lexsort((-last, ~front, distance))


def candidate_table(caption: str, targets: TargetSet, rows: np.ndarray, Y: np.ndarray,
                    order: Sequence[int] | np.ndarray, labels: Mapping[int, str],
                    predictions: Mapping[int, Prediction],
                    units: Mapping[str, str | None]) -> Table:
    """One line per ``order`` index into ``rows`` (pool rows) and ``Y`` (their measured
    values): the candidate, the cycle and strategy that picked it, and per property the
    measured value next to the prediction."""
    hits = targets.hits(Y)
    header = ["#", "candidate", "picked by"]
    for name in targets.properties:
        header += [_name(name, units), "predicted ± 1σ"]
    if targets.bounds:
        header.append("hit")
    lines = []
    for place, i in enumerate(order, start=1):
        row = int(rows[i])
        prediction = predictions.get(row)
        picked = "—" if prediction is None else \
            f"cycle {prediction.cycle} ({_strategy(prediction.strategy)})"
        line = [str(place), labels.get(row, str(row)), picked]
        for j in range(len(targets.properties)):
            line += [_number(Y[i, j]), _predicted(prediction, j)]
        if targets.bounds:
            line.append("yes" if hits[i] else "no")
        lines.append(line)
    return Table(caption, header, lines)


def next_table(caption: str, targets: TargetSet, labels: Sequence[str],
               mean: np.ndarray | None, std: np.ndarray | None,
               units: Mapping[str, str | None], score: np.ndarray | None,
               score_name: str) -> Table:
    """The next picks with the model's predictions and, when ranked, their score."""
    header = ["#", "candidate"] + ([score_name] if score is not None else [])
    header += [f"predicted {_name(name, units)} ± 1σ" for name in targets.properties]
    lines = []
    for k, label in enumerate(labels):
        line = [str(k + 1), label] + ([_number(score[k])] if score is not None else [])
        for j in range(len(targets.properties)):
            line.append("—" if mean is None or std is None
                        else f"{_number(mean[k, j])} ± {_number(std[k, j])}")
        lines.append(line)
    return Table(caption, header, lines)


def _predicted(prediction: Prediction | None, j: int) -> str:
    if prediction is None or prediction.mean is None or prediction.std is None:
        return "—"
    return f"{_number(prediction.mean[j])} ± {_number(prediction.std[j])}"


def _strategy(strategy: str) -> str:
    return strategy.split(" (", 1)[0]


def _name(name: str, units: Mapping[str, str | None]) -> str:
    unit = units.get(name)
    return f"{name} [{unit}]" if unit else name


def _number(value: float) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else f"{float(value):.4g}"
