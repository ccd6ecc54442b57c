"""Readable tables for the terminal."""

from __future__ import annotations

from typing import Any


def fidelity_rows(table: Any, fidelities: dict[str, Any]) -> None:
    """One row per source of a multi-fidelity campaign, and the cost spent."""
    for source in fidelities["sources"]:
        counts = source["evaluations"]
        cost = "cost unknown yet" if source["cost"] is None else \
            f"cost {source['cost']:.4g}" + ("" if source["cost_given"] else " s (measured)")
        words = [f"{counts['succeeded']} succeeded, {counts['failed']} failed"
                 + (f", {counts['pending']} pending" if counts["pending"] else ""), cost]
        if "verdict" in source:
            for name, verdict in source["verdict"].items():
                rho = source["rank_correlation"].get(name)
                learnt = (source["model_correlation"] or {}).get(name)
                words.append(f"{name}: {verdict}" + (
                    f" (rank corr. {rho:.2f} on {source['pairs']} pairs" if rho is not None
                    else f" ({source['pairs']} pairs") + (
                    f", model {learnt:.2f})" if learnt is not None else ")"))
        table.add_row(f"source {source['name']}", "; ".join(words))
    budget = fidelities["cost_budget"]
    table.add_row("cost spent", f"{fidelities['spent']:.6g}"
                  + (f" of {budget:.6g}" if budget is not None else ""))


def related_rows(table: Any, related: list[dict[str, Any]]) -> None:
    """One row per related campaign: its source and what the model learnt of it."""
    for entry in related:
        words = [entry["source"] + (f" (campaign {entry['campaign']})"
                                    if entry["campaign"] else "")]
        if entry["rows"] is None:
            words.append("not in the model yet")
        else:
            learnt = ", ".join(f"{name} {r:.2f}" if r is not None else f"{name} -"
                               for name, r in (entry["model_correlation"] or {}).items())
            words.append(f"{entry['rows']} rows in the model; learnt correlation {learnt}")
        table.add_row(f"related {entry['name']}", "; ".join(words))


def status_table(summary: dict[str, Any]) -> None:
    """Print a campaign summary (from ``matloop.loop.summary.summarize``) as a table."""
    from rich.console import Console
    from rich.table import Table

    from matloop.loop.propose import RESULTS_IN
    from matloop.surrogates import describe_model

    table = Table(title=f"campaign {summary['campaign']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    counts = summary["evaluations"]
    done = counts["succeeded"] + counts["failed"]
    table.add_row("database", summary["database"])
    table.add_row("evaluations", f"{done} of {summary['budget']} "
                  f"({counts['succeeded']} succeeded, {counts['failed']} failed, "
                  f"{counts['pending']} pending"
                  + (f"; {counts['retried']} failures retried" if counts.get("retried")
                     else "") + ")")
    if summary["failures"]:
        table.add_row("failures", ", ".join(f"{k}: {v}" for k, v in summary["failures"].items()))
    table.add_row("targets", "; ".join(summary["targets"]))
    if summary.get("replicates"):
        table.add_row("replicates", f"{len(summary['replicates'])} candidates measured more "
                      "than once (models use the mean; `status --json` has mean, std, n)")
    table.add_row("cycles", str(summary["cycles"]))
    for name, value in summary["best"].items():
        unit = summary["units"].get(name) or ""
        table.add_row(f"best {name}",
                      f"{value:.6g} {unit}".strip() + f"  ({summary['best_candidate'][name]})")
    if summary["hits"] is not None:  # the campaign has range targets
        shown = "; ".join(summary["hit_candidates"][:5])
        more = len(summary["hit_candidates"]) - 5
        table.add_row("hits", f"{summary['hits']}" + (f"  ({shown}" + (
            f" and {more} more" if more > 0 else "") + ")" if shown else ""))
    if summary["pareto_candidates"]:
        shown = "; ".join(summary["pareto_candidates"][:5])
        more = len(summary["pareto_candidates"]) - 5
        table.add_row("Pareto front", f"{len(summary['pareto_candidates'])}  ({shown}"
                      + (f" and {more} more" if more > 0 else "") + ")")
    if summary["hypervolume"] is not None:
        reference = ", ".join(f"{k} {v:.4g}" for k, v in summary["reference_point"].items())
        table.add_row("hypervolume", f"{summary['hypervolume']:.6g}  (reference: {reference})")
    last = summary["last_cycle"]
    if last is not None and (model := describe_model(last["hyperparameters"])):
        table.add_row("surrogate", model)
    for name, f in summary["validation"].items():
        table.add_row(f"model check {name}",
                      f"cross-validated at cycle {summary['validation_cycle']} on {f['n']} "
                      f"values: MAE {f['mae']:.3g}, R² {f['r2']:.2f}, inside the 68 % / 95 % "
                      f"intervals {f['coverage_68']:.0%} / {f['coverage_95']:.0%}")
    for warning in summary["validation_warnings"]:
        table.add_row("[bold red]warning[/]", warning)
    if last is not None:
        table.add_row("last cycle", f"#{last['number']} {last['strategy']}, "
                      f"trained on {last['n_train']}, fit {last['fit_s']:.2f} s, "
                      f"select {last['select_s']:.2f} s")
        predicted = last["predicted"] or {}
        top = [f is None for f in predicted.get("fidelity") or []]  # the target's picks
        words = [f"predicted {name} " + ", ".join(
                     f"{p:.2f}" for k, p in enumerate(predicted[key]) if not top or top[k])
                 for key, name in (("hit_probability", "P(hit)"),
                                   ("success_probability", "P(success)")) if predicted.get(key)]
        if words:
            table.add_row("its picks", "; ".join(words))
    if "fidelities" in summary:
        fidelity_rows(table, summary["fidelities"])
    if "related" in summary:
        related_rows(table, summary["related"])
    if counts.get("awaiting"):
        state = f"awaiting lab results ({counts['awaiting']} evaluations)"
    elif summary["stop_reason"] == RESULTS_IN:
        state = RESULTS_IN
    elif summary["stop_reason"]:
        state = f"stopped: {summary['stop_reason']}"
    else:
        state = "running or interrupted" if counts["pending"] else "not finished"
    table.add_row("state", state)
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
