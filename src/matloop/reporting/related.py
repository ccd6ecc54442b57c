"""The report's section on related campaigns (``[[campaign.related]]``): where each one's
measurements come from, its rows in the model, and the transfer GP's learnt correlation
per target property, as a table and over the cycles (a plot)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matloop.reporting.figures import new_figure, save
from matloop.reporting.page import Section, Table


def related_section(related: Sequence[Mapping[str, Any]],
                    cycles: Sequence[tuple[int, Mapping[str, Any]]],
                    properties: Sequence[str], out: Path) -> Section:
    """The section: ``related`` as ``summarize`` gives it; ``cycles`` (number,
    hyperparameters) of every cycle."""
    rows = [[entry["name"], entry["source"] + (f" ({entry['campaign']})"
                                               if entry["campaign"] else ""),
             "" if entry["rows"] is None else str(entry["rows"]),
             "; ".join(f"{p}: {r:.2f}" for p, r in (entry["model_correlation"] or {}).items()
                       if r is not None)]
            for entry in related]
    table = Table("Related campaigns: source, rows in the model and learnt correlation "
                  "with this campaign (last cycle)", ["related", "source", "rows",
                                                      "learnt correlation"], rows)
    series = {(entry["name"], prop): [(number, h["correlation"][entry["name"]][prop])
                                      for number, h in cycles
                                      if h.get("kind") == "transfer-gp"
                                      and h["correlation"].get(entry["name"], {}).get(prop)
                                      is not None]
              for entry in related for prop in properties}
    images = []
    if any(series.values()):
        figure, axes = new_figure((6.4, 3.6))
        for (name, prop), points in series.items():
            if points:
                axes.plot(*zip(*points, strict=True), marker="o",
                          label=f"{name}: {prop}" if len(properties) > 1 else name)
        axes.set(xlabel="cycle", ylabel="learnt correlation", ylim=(-0.05, 1.05))
        axes.legend(loc="best", fontsize="small")
        images.append(save(figure, out / "related-correlation.png"))
    return Section(
        "Related campaigns", "Measurements of related campaigns enter the model as tasks "
        "of their own; the learnt correlation (0: unrelated, 1: tracks this campaign) "
        "says how far they move its predictions. The plot shows it cycle by cycle.",
        images, [table])
