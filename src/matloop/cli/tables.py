"""Readable tables for the terminal."""

from __future__ import annotations

from typing import Any


def status_table(summary: dict[str, Any]) -> None:
    """Print a campaign summary (from ``matloop.loop.summary.summarize``) as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"campaign {summary['campaign']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    counts = summary["evaluations"]
    done = counts["succeeded"] + counts["failed"]
    table.add_row("database", summary["database"])
    table.add_row("evaluations", f"{done} of {summary['budget']} "
                  f"({counts['succeeded']} succeeded, {counts['failed']} failed, "
                  f"{counts['pending']} pending)")
    if summary["failures"]:
        table.add_row("failures", ", ".join(f"{k}: {v}" for k, v in summary["failures"].items()))
    table.add_row("targets", "; ".join(summary["targets"]))
    table.add_row("cycles", str(summary["cycles"]))
    for name, value in summary["best"].items():
        unit = summary["units"].get(name) or ""
        table.add_row(f"best {name}",
                      f"{value:.6g} {unit}".strip() + f"  ({summary['best_candidate'][name]})")
    if summary["hits"] is not None:  # the campaign has range targets
        shown = ", ".join(summary["hit_candidates"][:5])
        more = len(summary["hit_candidates"]) - 5
        table.add_row("hits", f"{summary['hits']}" + (f"  ({shown}" + (
            f" and {more} more" if more > 0 else "") + ")" if shown else ""))
    last = summary["last_cycle"]
    if last is not None:
        table.add_row("last cycle", f"#{last['number']} {last['strategy']}, "
                      f"trained on {last['n_train']}, fit {last['fit_s']:.2f} s, "
                      f"select {last['select_s']:.2f} s")
    if summary["stop_reason"]:
        state = f"stopped: {summary['stop_reason']}"
    else:
        state = "running or interrupted" if counts["pending"] else "not finished"
    table.add_row("state", state)
    Console().print(table)
