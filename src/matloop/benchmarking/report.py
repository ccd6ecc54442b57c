"""Showing a benchmark: a side-by-side table, the JSON summary, one PNG per campaign."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DEFINITIONS = {
    "top5": "the pool's top-5 % set: objective values sorted best-first, threshold = value at "
            "rank ceil(0.05 N) (1-based), member if at least as good (ties included); "
            "top1 likewise with 0.01",
    "top5_fraction": "Top%(i): fraction of the top-5 % set among the first i evaluations",
    "enhancement": "EF(i) = Top%_method(i) / Top%_random(i), with E[Top%_random(i)] = i / N",
    "acceleration": "AF(p) = i_random(p) / i_method(p): evaluations to reach Top% >= p "
                    "(ceil(p K) of the K in the set); i_random(p) = ceil(p N), the smallest i "
                    "with i / N >= p; i_method(p) = median over seeds",
    "first_top1": "evaluations to the first top-1 % candidate; random: (N + 1) / (K + 1) "
                  "(draws without replacement, K top-1 % candidates among N)",
    "hits": "a hit meets every range target; random finds i H / N hits in i evaluations "
            "(H hits among N) and its k-th hit after k (N + 1) / (H + 1) on average",
    "bands": "median and 5-95 % quantiles (linear) over seeds; null = not reached in the budget",
    "timing": "loop_s_per_evaluation = (GP fit + acquisition selection seconds) / evaluations; "
              "wall_s_per_seed includes building the pool, features and the database",
}


def slug(label: str) -> str:
    """A file name for a campaign label (``superhard`` -> ``superhard``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "campaign"


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "not reached"
    return f"{value:.{digits}g}"


def _band(band: dict[str, Any], digits: int = 3) -> str:
    """``12 [5–40]``; ``>budget`` for a quantile not reached."""
    def cell(v: float | None) -> str:
        return ">budget" if v is None else f"{v:.{digits}g}"
    return f"{cell(band['median'])} [{cell(band['p05'])}–{cell(band['p95'])}]"


def _factor(value: float | None) -> str:
    return "—" if value is None else f"×{value:.2g}"


HEADER_ROWS = ("targets", "pool N / budget / seeds", "initial / batch / acquisition",
               "surrogate")
TIMING_ROWS = ("wall s per seed", "loop s per evaluation")


def rows(campaign: dict[str, Any]) -> dict[str, str]:
    """The table cells of one campaign, keyed by row name."""
    out = {
        "targets": "; ".join(campaign["targets"]),
        "pool N / budget / seeds": f"{campaign['pool_size']} / {campaign['budget']} / "
                                   f"{len(campaign['seeds'])}",
        "initial / batch / acquisition": f"{campaign['initial']} / {campaign['batch_size']} / "
                                         f"{campaign['acquisition']}",
        "surrogate": campaign["surrogate"],
    }
    if "single" in campaign:
        s = campaign["single"]
        out["top-5 % set (K, threshold)"] = f"{s['top5']['size']}, {s['top5']['threshold']:.4g}"
        first = s["first_top1"]
        out["evals to first top-1 %"] = (f"{_band(first['method'])} vs {first['random']:.3g} "
                                         f"random ({_factor(first['factor'])})")
        for p, a in s["acceleration"].items():
            out[f"evals to {float(p):.0%} of top 5 % (AF)"] = (
                f"{_band(a['method'])} vs {a['random']} random ({_factor(a['factor'])})")
        at = s["top5_at_budget"]
        out["Top% at budget (EF)"] = (f"{_band(at['method'], 2)} vs {at['random']:.2g} random "
                                      f"({_factor(at['enhancement'])})")
        out["best found / pool best"] = f"{_band(s['best_at_budget'], 4)} / {s['pool_best']:.4g}"
    else:
        t = campaign["target_set"]
        out["hits in pool (H)"] = f"{t['hits_in_pool']} of {campaign['pool_size']}"
        for key, name in (("first_hit", "evals to first hit"),
                          ("k_hits", f"evals to {t['k']} hits")):
            m = t[key]
            out[name] = (f"{_band(m['method'])} vs {m['random']:.3g} random "
                         f"({_factor(m['factor'])})")
        h = t["hits_at_budget"]
        out["hits at budget"] = (f"{_band(h['method'])} vs {h['random']:.3g} random "
                                 f"({_factor(h['enhancement'])})")
    timing = campaign["timing"]
    out["wall s per seed"] = _band(timing["wall_s_per_seed"])
    out["loop s per evaluation"] = (
        f"{_band(timing['loop_s_per_evaluation'], 2)} (fit {timing['fit_s_per_cycle']:.2f} + "
        f"select {timing['select_s_per_cycle']:.3f} s per model cycle)")
    return out


def print_table(summary: dict[str, Any]) -> None:
    """Campaigns side by side, one row per metric (medians [5–95 %] over seeds)."""
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    cells = [rows(c) for c in summary["campaigns"]]
    order = [*HEADER_ROWS, *dict.fromkeys(n for c in cells for n in c
                                          if n not in HEADER_ROWS and n not in TIMING_ROWS),
             *TIMING_ROWS]
    # a terminal folds to its width; a file or pipe gets room for every column
    width = None if sys.stdout.isatty() else max(100, 32 + 42 * len(cells))
    table = Table(title=f"matloop benchmark: median [5–95 %] over seeds, against random "
                        f"search's exact expectation ({summary['wall_s']:.0f} s)")
    table.add_column("", style="bold")
    for campaign in summary["campaigns"]:
        table.add_column(escape(campaign["label"]), overflow="fold")
    for name in order:
        table.add_row(name, *(c.get(name, "—") for c in cells))
    console = Console(width=width)
    console.print(table)
    for campaign in summary["campaigns"]:
        if campaign.get("plot"):
            console.print(f"plot: {campaign['plot']}", soft_wrap=True)
    if summary.get("json"):
        console.print(f"summary: {summary['json']}", soft_wrap=True)


def plot(campaign: dict[str, Any], path: Path) -> None:
    """Write the campaign's curves (median and 5–95 % band over seeds) and the random
    baseline as a PNG: Top% and EF for one objective, hits and their ratio to random for
    a target set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    if "single" in campaign:
        curves = campaign["single"]["curves"]
        i = curves["evaluations"]
        _curve(left, i, curves["top5_fraction"], "matloop")
        left.plot(i, curves["random_top5_fraction"], "k--", label="random (expected)")
        left.set_ylabel("Top% (fraction of the top-5 % found)")
        left.set_ylim(0, 1.02)
        _curve(right, i, curves["enhancement"], "matloop")
        right.axhline(1.0, color="k", linestyle="--", label="random")
        right.set_ylabel("enhancement factor EF")
    else:
        curves = campaign["target_set"]["curves"]
        i = curves["evaluations"]
        _curve(left, i, curves["hits"], "matloop")
        left.plot(i, curves["random_hits"], "k--", label="random (expected)")
        left.set_ylabel(f"hits found (of {campaign['target_set']['hits_in_pool']})")
        ratio = {k: [None if v is None or r == 0 else v / r
                     for v, r in zip(curves["hits"][k], curves["random_hits"], strict=True)]
                 for k in ("median", "p05", "p95")}
        _curve(right, i, ratio, "matloop")
        right.axhline(1.0, color="k", linestyle="--", label="random")
        right.set_ylabel("hits / random's expected hits")
    for axis in (left, right):
        axis.set_xlabel("evaluations")
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize="small")
    figure.suptitle(f"{campaign['label']}: {'; '.join(campaign['targets'])} "
                    f"(N = {campaign['pool_size']}, {len(campaign['seeds'])} seeds)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _curve(axis: Any, x: list[int], band: dict[str, list[float | None]], label: str) -> None:
    nan = float("nan")

    def values(key: str) -> list[float]:
        return [nan if v is None else v for v in band[key]]

    axis.fill_between(x, values("p05"), values("p95"), alpha=0.25, label="5–95 % of seeds")
    axis.plot(x, values("median"), label=f"{label} (median)")
