"""The report's section on a multi-fidelity campaign's sources: each source's cost,
evaluations and verdict (a table), and per cheaper source and property the candidates
measured by both, the source's value against the target's (a scatter)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matloop.reporting.figures import HIT, MEASURED, new_figure, save, slug, with_unit
from matloop.reporting.page import Section, Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Paired = Mapping[str, tuple[np.ndarray, np.ndarray]]  # source -> (target, source) (n, m)


def sources_section(fidelities: Mapping[str, Any], paired: Paired,
                    properties: Sequence[str], units: Mapping[str, str | None],
                    hits: Mapping[str, np.ndarray], out: Path) -> Section:
    """The section: ``fidelities`` as ``summarize`` gives it, ``paired`` values per
    cheaper source, ``hits`` ``(n,)`` bool per source: whether each pair's target values
    are a hit."""
    images = []
    for name, (target, cheap) in paired.items():
        for j, prop in enumerate(properties):
            both = np.isfinite(target[:, j]) & np.isfinite(cheap[:, j])
            if both.sum() >= 2:
                figure = paired_figure(name, prop, target[both, j], cheap[both, j],
                                       hits[name][both], units.get(prop))
                images.append(save(figure, out / f"source-{slug(name)}-{slug(prop)}.png"))
    rows = []
    for source in fidelities["sources"]:
        counts = source["evaluations"]
        cost = "" if source["cost"] is None else f"{source['cost']:.4g}" + (
            "" if source["cost_given"] else " s (measured)")
        verdict = "; ".join(f"{p}: {v}" for p, v in source.get("verdict", {}).items())
        rho = "; ".join(f"{p}: {r:.2f}" for p, r in source.get("rank_correlation", {}).items()
                        if r is not None)
        learnt = "; ".join(f"{p}: {r:.2f}" for p, r in
                           (source.get("model_correlation") or {}).items())
        rows.append([source["name"], cost, str(counts["succeeded"]), str(counts["failed"]),
                     "" if source["spent"] is None else f"{source['spent']:.4g}",
                     str(source.get("pairs", "")), rho, learnt, verdict])
    table = Table("Sources: cost per evaluation, evaluations, cost spent, and for each "
                  "cheaper source the candidates measured by it and by the target, their "
                  "rank correlation, the model's learnt correlation and the verdict",
                  ["source", "cost", "succeeded", "failed", "spent", "pairs",
                   "rank correlation", "model correlation", "verdict"], rows)
    return Section(
        "Sources", "The campaign's own oracle (target) and its cheaper sources. A source "
        "is bought beyond probes only once the lower confidence bound of its rank "
        "correlation with the target beats the break-even √(cost ratio) (verdict pays), "
        "and no longer measured once the upper bound falls below it (useless). Each plot "
        "shows the candidates measured by both; orange ones are target hits.",
        images, [table])


def paired_figure(source: str, name: str, target: np.ndarray, cheap: np.ndarray,
                  hit: np.ndarray, unit: str | None) -> Figure:
    """A source's values against the target's for the candidates both measured."""
    figure, axis = new_figure((5.2, 4.8))
    axis.scatter(target[~hit], cheap[~hit], s=16, color=MEASURED, alpha=0.8,
                 label="measured by both")
    if hit.any():
        axis.scatter(target[hit], cheap[hit], s=22, color=HIT, label="target hit")
    low = float(min(target.min(), cheap.min()))
    high = float(max(target.max(), cheap.max()))
    axis.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1,
              label="y = x")
    axis.set_xlabel(f"target {with_unit(name, unit)}")
    axis.set_ylabel(f"{source} {with_unit(name, unit)}")
    axis.set_title(f"{source} against the target: {name} (n = {len(target)})")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)
    return figure
