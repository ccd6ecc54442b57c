"""Readable tables for the terminal."""

from __future__ import annotations

from typing import Any


def status_table(summary: dict[str, Any]) -> None:
    """Print a campaign summary (from ``matloop.loop.summary.summarize``) as a table."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from matloop.loop.status_rows import WARNING, status_rows

    table = Table(title=f"campaign {summary['campaign']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in status_rows(summary):
        table.add_row("[bold red]warning[/]" if what == WARNING else escape(what),
                      escape(value))
    Console().print(table)


def ranking_table(ranking: Any) -> None:
    """Print a ``matloop.loop.predict.Ranking`` as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(ranking.keys)} of {ranking.n_unmeasured} unmeasured candidates "
                        f"(model trained on {ranking.n_measured})")
    table.add_column("#", justify="right")
    table.add_column("candidate")
    hit = "probability" in ranking.score_name
    table.add_column({"hit_probability": "P(hit)", "hit_and_success_probability":
                      "P(hit) × P(success)"}.get(ranking.score_name, ranking.score_name),
                     justify="right")
    if ranking.success is not None:
        table.add_column("P(success)", justify="right")
    for name, unit in zip(ranking.properties, ranking.units, strict=True):
        table.add_column(f"{name} [{unit}]" if unit else name, justify="right")
    for i, label in enumerate(ranking.labels):
        score = f"{ranking.score[i]:.3f}" if hit else f"{ranking.score[i]:.4g}"
        cells = [f"{ranking.mean[i, j]:.4g} ± {ranking.std[i, j]:.2g}"
                 for j in range(len(ranking.properties))]
        success = [] if ranking.success is None else [f"{ranking.success[i]:.2f}"]
        table.add_row(str(i + 1), label, score, *success, *cells)
    Console().print(table)
