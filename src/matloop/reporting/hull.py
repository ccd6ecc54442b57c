"""The report's section on stability: binary candidates on their convex hull.

For a campaign whose oracle gives ``e_above_hull`` and ``formation_energy_per_atom``
(``[oracle] hull``), each binary chemical system with measured candidates gets a panel:
formation energy per atom against composition, each candidate coloured by its distance
from the hull. The hull is drawn through the points where it lies under each measured
candidate (formation energy less distance) and the pure elements. That line is the
hull itself at those compositions, and between them lies on or above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from matloop.reporting.figures import new_figure, save
from matloop.reporting.history import EvaluationLike
from matloop.reporting.page import Section
from matloop.spaces.pool import Pool

HULL = "e_above_hull"
FORMATION = "formation_energy_per_atom"
PANELS = 4  # the binary systems with the most measured candidates


def hull_section(evaluations: Sequence[EvaluationLike], pool: Pool, out: Path
                 ) -> Section | None:
    """The section, or None when no measured binary candidate has a hull distance."""
    systems: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for e in evaluations:
        if e.status != "succeeded" or HULL not in e.values or FORMATION not in e.values:
            continue
        amounts = _amounts(pool, e.pool_index)
        if len(amounts) != 2:
            continue
        first, second = sorted(amounts)
        x = amounts[second] / (amounts[first] + amounts[second])
        systems.setdefault((first, second), []).append(
            (x, e.values[FORMATION], e.values[HULL]))
    if not systems:
        return None
    shown = sorted(systems, key=lambda s: -len(systems[s]))[:PANELS]
    figure, axes = new_figure((4.2 * len(shown), 3.8), columns=len(shown))
    for axis, system in zip(np.ravel(axes), shown, strict=True):
        _panel(axis, system, systems[system])
    image = save(figure, out / "hull.png")
    return Section(
        "Stability", "Formation energy per atom of the measured binary candidates against "
        "composition, in the systems with the most of them; colour is the distance from "
        "the convex hull at the oracle's level of theory (eV/atom). The black line joins "
        "the hull's points under the measured candidates and the pure elements.", [image],
        notes=[f"{len(systems) - len(shown)} more binary systems are not drawn."]
        if len(systems) > len(shown) else [])


def _panel(axis: object, system: tuple[str, str],
           points: list[tuple[float, float, float]]) -> None:
    x, formation, distance = (np.array(column) for column in zip(*points, strict=True))
    on_hull = sorted({(0.0, 0.0), (1.0, 0.0), *zip(x, formation - distance, strict=True)})
    hx, hy = zip(*on_hull, strict=True)
    axis.plot(hx, hy, color="black", linewidth=1)  # type: ignore[attr-defined]
    drawn = axis.scatter(x, formation, c=distance, cmap="viridis_r",  # type: ignore[attr-defined]
                         vmin=0, vmax=max(0.2, float(distance.max())), edgecolors="black")
    axis.figure.colorbar(drawn, ax=axis, label="above hull (eV/atom)")  # type: ignore[attr-defined]
    axis.set(xlabel=f"fraction of {system[1]} in {system[0]}–{system[1]}",  # type: ignore[attr-defined]
             ylabel="formation energy (eV/atom)", xlim=(-0.03, 1.03))


def _amounts(pool: Pool, row: int) -> dict[str, float]:
    """Element -> amount of pool row ``row`` (a structure's or a composition's)."""
    if pool.kind == "structures" and pool.structures is not None and row < len(
            pool.structures):
        return dict(pool.structures[row].composition.get_el_amt_dict())
    if pool.kind == "composition":
        return {name: float(v) for name, v in zip(pool.names, pool.values[row], strict=True)
                if v > 0}
    return {}
