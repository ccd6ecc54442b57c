"""A campaign's standing as (what, value) rows: the ``matloop status`` table and the
campaign page of ``matloop serve`` show the same rows."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str]
WARNING = "warning"  # the row of a model-check warning (the terminal shows it in red)


def fidelity_rows(fidelities: dict[str, Any]) -> list[Row]:
    """One row per source of a multi-fidelity campaign, and the cost spent."""
    rows = []
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
        rows.append((f"source {source['name']}", "; ".join(words)))
    budget = fidelities["cost_budget"]
    rows.append(("cost spent", f"{fidelities['spent']:.6g}"
                 + (f" of {budget:.6g}" if budget is not None else "")))
    return rows


def related_rows(related: list[dict[str, Any]]) -> list[Row]:
    """One row per related campaign: its source and what the model learnt of it."""
    rows = []
    for entry in related:
        words = [entry["source"] + (f" (campaign {entry['campaign']})"
                                    if entry["campaign"] else "")]
        if entry["rows"] is None:
            words.append("not in the model yet")
        else:
            learnt = ", ".join(f"{name} {r:.2f}" if r is not None else f"{name} -"
                               for name, r in (entry["model_correlation"] or {}).items())
            words.append(f"{entry['rows']} rows in the model; learnt correlation {learnt}")
        rows.append((f"related {entry['name']}", "; ".join(words)))
    return rows


def status_rows(summary: dict[str, Any]) -> list[Row]:
    """A campaign summary (``matloop.loop.summary.summarize``) as (what, value) rows:
    what ``matloop status`` prints and the web page shows."""
    from matloop.surrogates import describe_model

    rows: list[Row] = []
    add = rows.append
    counts = summary["evaluations"]
    done = counts["succeeded"] + counts["failed"]
    add(("database", summary["database"]))
    add(("evaluations", f"{done} of {summary['budget']} "
         f"({counts['succeeded']} succeeded, {counts['failed']} failed, "
         f"{counts['pending']} pending"
         + (f"; {counts['retried']} failures retried" if counts.get("retried")
            else "") + ")"))
    if summary["failures"]:
        add(("failures", ", ".join(f"{k}: {v}" for k, v in summary["failures"].items())))
    add(("targets", "; ".join(summary["targets"])))
    if summary.get("replicates"):
        add(("replicates", f"{len(summary['replicates'])} candidates measured more "
             "than once (models use the mean; `status --json` has mean, std, n)"))
    add(("cycles", str(summary["cycles"])))
    for name, value in summary["best"].items():
        unit = summary["units"].get(name) or ""
        add((f"best {name}",
             f"{value:.6g} {unit}".strip() + f"  ({summary['best_candidate'][name]})"))
    if summary["hits"] is not None:  # the campaign has range targets
        shown = "; ".join(summary["hit_candidates"][:5])
        more = len(summary["hit_candidates"]) - 5
        add(("hits", f"{summary['hits']}" + (f"  ({shown}" + (
   f" and {more} more" if more > 0 else "") + ")" if shown else "")))
    if summary["pareto_candidates"]:
        shown = "; ".join(summary["pareto_candidates"][:5])
        more = len(summary["pareto_candidates"]) - 5
        add(("Pareto front", f"{len(summary['pareto_candidates'])}  ({shown}"
             + (f" and {more} more" if more > 0 else "") + ")"))
    if summary["hypervolume"] is not None:
        reference = ", ".join(f"{k} {v:.4g}" for k, v in summary["reference_point"].items())
        add(("hypervolume", f"{summary['hypervolume']:.6g}  (reference: {reference})"))
    last = summary["last_cycle"]
    if last is not None and (model := describe_model(last["hyperparameters"])):
        add(("surrogate", model))
    for name, f in summary["validation"].items():
        add((f"model check {name}",
             f"cross-validated at cycle {summary['validation_cycle']} on {f['n']} "
             f"values: MAE {f['mae']:.3g}, R² {f['r2']:.2f}, inside the 68 % / 95 % "
             f"intervals {f['coverage_68']:.0%} / {f['coverage_95']:.0%}"))
    for warning in summary["validation_warnings"]:
        add((WARNING, warning))
    if last is not None:
        add(("last cycle", f"#{last['number']} {last['strategy']}, "
             f"trained on {last['n_train']}, fit {last['fit_s']:.2f} s, "
             f"select {last['select_s']:.2f} s"))
        predicted = last["predicted"] or {}
        top = [f is None for f in predicted.get("fidelity") or []]  # the target's picks
        words = [f"predicted {name} " + ", ".join(
                     f"{p:.2f}" for k, p in enumerate(predicted[key]) if not top or top[k])
                 for key, name in (("hit_probability", "P(hit)"),
                                   ("success_probability", "P(success)")) if predicted.get(key)]
        if words:
            add(("its picks", "; ".join(words)))
    if "fidelities" in summary:
        rows += fidelity_rows(summary["fidelities"])
    if "related" in summary:
        rows += related_rows(summary["related"])
    add(("state", state_of(summary)))
    return rows


def state_of(summary: dict[str, Any]) -> str:
    """Where the campaign stands, in a few words (the table's last row)."""
    from matloop.loop.propose import RESULTS_IN

    counts = summary["evaluations"]
    if counts.get("awaiting"):
        return f"awaiting lab results ({counts['awaiting']} evaluations)"
    if summary["stop_reason"] == RESULTS_IN:
        return RESULTS_IN
    if summary["stop_reason"]:
        return f"stopped: {summary['stop_reason']}"
    return "running or interrupted" if counts["pending"] else "not finished"
