"""Reading everything a report draws from an opened campaign: records, measured values,
what the model predicted at each pick, and the next picks (ranked now when nothing is
in flight, exactly as ``Session.rank`` does)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from matloop.loop.context import Context
from matloop.reporting.gathered import Gathered, NextPicks
from matloop.reporting.tables import Prediction
from matloop.store import CycleRow, EvaluationRow

NEXT_ROWS = 10


def gather(context: Context, tell: Callable[[str], None]) -> Gathered:
    """Read the store and find the next picks."""
    from matloop.loop.summary import summarize

    campaign, store, campaign_id = context.campaign, context.store, context.campaign_id
    summary = summarize(campaign, store, campaign_id)
    targets = context.targets
    evaluations = store.evaluations(campaign_id)
    cycles = store.cycles(campaign_id)
    indices, mean_values = store.training_data(campaign_id, targets.properties)
    rows = np.asarray(indices, dtype=int)
    Y = np.asarray(mean_values, dtype=float).reshape(len(rows), len(targets.properties))
    predictions = predictions_at_pick(cycles, evaluations)
    tell("ranking the next picks")
    picks, pick_note = next_picks(context, evaluations, predictions, rows)
    return Gathered(campaign, targets, summary, evaluations, cycles, rows,
                    Y, {e.pool_index: e.candidate for e in evaluations}, predictions,
                    context.space, picks, pick_note, paired_values(context, rows, Y))


def paired_values(context: Context, rows: np.ndarray, Y: np.ndarray
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per cheaper source: the target's and the source's mean values ``(k, m)`` of the
    candidates both measured."""
    store, properties = context.store, context.targets.properties
    at = {int(r): k for k, r in enumerate(rows)}
    out = {}
    for fidelity in context.campaign.fidelities:
        found, values = store.training_data(context.campaign_id, properties, fidelity.name)
        both = [k for k, r in enumerate(found) if r in at]
        cheap = np.asarray(values, dtype=float).reshape(len(found), len(properties))
        out[fidelity.name] = (Y[[at[found[k]] for k in both]].reshape(-1, len(properties)),
                              cheap[both].reshape(-1, len(properties)))
    return out


def predictions_at_pick(cycles: Sequence[CycleRow], evaluations: Sequence[EvaluationRow]
                        ) -> dict[int, Prediction]:
    """Pool row -> what the model predicted when it picked the candidate, and the cycle
    and strategy that picked it (``mean``/``std`` None for a random pick). A cycle's
    recorded predictions are in the order of its candidates' first evaluations."""
    picked: dict[int, list[int]] = {}
    for e in sorted(evaluations, key=lambda e: e.evaluation_id):
        rows = picked.setdefault(e.cycle, [])
        if e.pool_index not in rows:
            rows.append(e.pool_index)
    out: dict[int, Prediction] = {}
    for cycle in cycles:
        rows = picked.get(cycle.number, [])
        predicted = dict(cycle.predicted or {})
        if "fidelity" in predicted:  # a multi-fidelity cycle: the target's picks
            top = [k for k, f in enumerate(predicted["fidelity"]) if f is None]
            predicted = {key: [predicted[key][k] for k in top] for key in ("mean", "std")}
        usable = len(predicted.get("mean", ())) == len(rows)
        for k, row in enumerate(rows):
            out.setdefault(row, Prediction(
                cycle.number, cycle.strategy,
                np.asarray(predicted["mean"][k], dtype=float) if usable else None,
                np.asarray(predicted["std"][k], dtype=float) if usable else None))
    return out


def next_picks(context: Context, evaluations: Sequence[EvaluationRow],
                predictions: dict[int, Prediction], measured: np.ndarray
                ) -> tuple[NextPicks | None, str | None]:
    """The evaluations in flight or awaiting lab results, with what the model predicted
    for them; when there are none, the best-ranked unmeasured candidates by a model
    fitted now (``matloop.loop.predict.rank``). The note says why there are none."""
    from matloop.errors import StoreError
    from matloop.loop.model import numerical_failures
    from matloop.loop.predict import rank

    campaign, space = context.campaign, context.space

    waiting = [e for e in evaluations if e.status in ("proposed", "running", "awaiting")]
    if waiting:
        rows = np.array(list(dict.fromkeys(e.pool_index for e in waiting)), dtype=int)
        labels = {e.pool_index: e.candidate for e in waiting}
        known = [predictions.get(int(r)) for r in rows]
        means = [p.mean for p in known if p is not None and p.mean is not None]
        stds = [p.std for p in known if p is not None and p.std is not None]
        with_model = len(means) == len(stds) == len(rows)
        source = ("awaiting lab results" if any(e.status == "awaiting" for e in waiting)
                  else "proposed, not finished yet")
        unmeasured, unmeasured_mean = _input_predictions(context)
        return NextPicks(rows, [labels[int(r)] for r in rows],
                         np.stack(means) if with_model else None,
                         np.stack(stds) if with_model else None, source,
                         unmeasured=unmeasured, unmeasured_mean=unmeasured_mean), None
    if len(measured) >= len(space.features):
        return None, "Every candidate of the pool has been measured: there is no next pick."
    top = min(max(campaign.loop.batch_size, 3), NEXT_ROWS)
    try:
        ranking = rank(context, top=top)
    except StoreError as exc:
        return None, f"No next picks are shown: {exc}."
    except numerical_failures() as exc:
        return None, f"No next picks are shown: the model could not be fitted ({exc})."
    return NextPicks(ranking.rows, ranking.labels, ranking.mean, ranking.std,
                     f"top {len(ranking.rows)} unmeasured by {ranking.score_name}",
                     ranking.score, ranking.score_name, ranking.unmeasured,
                     ranking.unmeasured_mean), None


def _input_predictions(context: Context) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Every unmeasured row of a pool of inputs and its predicted mean ``(r, m)``, from a
    model fitted now, for the report's view along each input; (None, None) for other
    pools, or when no model can be fitted yet."""
    from matloop.errors import StoreError
    from matloop.loop.model import numerical_failures
    from matloop.loop.predict import rank

    if context.space.pool.kind != "inputs":
        return None, None
    unfittable: tuple[type[Exception], ...] = (StoreError, *numerical_failures())
    try:
        ranking = rank(context, top=0)
    except unfittable:
        return None, None
    return ranking.unmeasured, ranking.unmeasured_mean
