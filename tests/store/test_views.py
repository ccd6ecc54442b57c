"""The store's reads give read models (``matloop.store.views``), on SQLite and PostgreSQL:
frozen dataclasses — assigning to one raises — whose every field holds a value of the
type it declares, never a table's row, a dict or a tuple."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

from matloop.protocols import Outcome
from matloop.store import (
    AwaitingRow,
    CandidateRow,
    CycleRow,
    EvaluationRow,
    FinishedRow,
    OutsideCandidate,
    Proposal,
    Recorded,
    Spread,
    Store,
)

READ_MODELS = (EvaluationRow, AwaitingRow, FinishedRow, OutsideCandidate, Spread, CycleRow,
               CandidateRow)


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type ``hint`` (unions, ``Mapping[K, V]``,
    ``Any`` and plain classes; an int passes for a float, as in typing)."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    if origin is not None and issubclass(origin, Mapping):
        return isinstance(value, Mapping) and all(
            conforms(k, args[0]) and conforms(v, args[1]) for k, v in value.items())
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def check(row: Any, kind: type) -> None:
    """``row`` is a frozen ``kind`` whose fields hold the types they declare."""
    assert type(row) is kind
    hints = typing.get_type_hints(kind)
    for field in dataclasses.fields(kind):
        value = getattr(row, field.name)
        assert conforms(value, hints[field.name]), (kind.__name__, field.name, value)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(row, field.name, value)


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


def test_every_read_model_is_a_frozen_dataclass() -> None:
    for kind in READ_MODELS:
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen, kind


def test_reads_give_frozen_typed_read_models(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    done, failed = store.propose(cid, 0, [Proposal(3, "a", "A"), Proposal(5, "b", "B")])
    store.record(done.evaluation_id, Outcome.success({"p": 1.0}, {"p": "eV"}))
    store.record(failed.evaluation_id, Outcome.failure("infeasible", "no product"))
    store.record_cycle(cid, 0, "initial", 0, 2, 0.0, 0.0, None, {"hits": 0})
    store.record_cycle(cid, 1, "logei", 1, 1, 0.25, 0.5, {"noise": [0.1]}, None,
                       {"mean": [[1.5]], "std": [[0.5]]})
    store.finish_cycle(cid, 1, {"best": {"p": 2.0}, "progress": 2.0})
    store.propose_awaiting(cid, 1, [Proposal(7, "c", "C")],
                           [{"lab": {"mean": {"p": 1.5}}}])
    outside = Proposal(9, "d", "D")
    store.import_results(cid, [
        Recorded(None, outside, {"p": 2.0}, {"p": "eV"}, failed=False, note="", cycle=1,
                 provenance={}, external={"x": 0.5}),
        Recorded(None, Proposal(3, "a", "A"), {"p": 3.0}, {}, failed=False, note="",
                 cycle=1, provenance={})])

    evaluations = store.evaluations(cid)
    assert [e.status for e in evaluations] == ["succeeded", "failed", "awaiting",
                                               "succeeded", "succeeded"]
    assert evaluations[0].values == {"p": 1.0} and evaluations[0].units == {"p": "eV"}
    assert isinstance(evaluations[0].finished_at, datetime)
    (awaiting,) = store.awaiting(cid)
    assert awaiting.provenance == {"lab": {"mean": {"p": 1.5}}}
    finished = store.finished(cid)
    assert [(f.pool_index, f.succeeded, f.reason) for f in finished] == [
        (3, True, None), (5, False, "infeasible"), (9, True, None), (3, True, None)]
    (external,) = store.external_candidates(cid)
    assert external == OutsideCandidate(9, "d", "inputs", {"x": 0.5})
    spread = store.replicates(cid, ["p"])["A"]["p"]
    assert (spread.mean, spread.n) == (2.0, 2)
    initial, model = store.cycles(cid)
    assert (initial.hyperparameters, initial.best, initial.predicted) == ({}, {"hits": 0},
                                                                         None)
    assert model.hyperparameters == {"noise": [0.1]}
    assert model.best == {"best": {"p": 2.0}, "progress": 2.0}
    assert model.predicted == {"mean": [[1.5]], "std": [[0.5]]}
    candidates = store.candidates(cid)
    assert [(c.pool_index, c.key, c.label) for c in candidates] == [
        (3, "a", "A"), (5, "b", "B"), (7, "c", "C"), (9, "d", "D")]
    assert {e.candidate_id for e in evaluations} == {c.candidate_id for c in candidates}

    for rows, kind in [(evaluations, EvaluationRow), ([awaiting], AwaitingRow),
                       (finished, FinishedRow), ([external], OutsideCandidate),
                       ([spread], Spread), ([initial, model], CycleRow),
                       (candidates, CandidateRow)]:
        for row in rows:
            check(row, kind)
    assert store.evaluations(cid) == evaluations  # read models compare by value


def test_evaluations_give_their_times_and_calculator(store: Store) -> None:
    cid = store.campaign_id("c", {"space": 1})
    emt, plain = store.propose(cid, 0, [Proposal(1, "a", "A"), Proposal(2, "b", "B")])
    store.mark_running(emt.evaluation_id, 1)
    store.record(emt.evaluation_id, Outcome.success(
        {"p": 1.0}, {"p": "GPa"}, {"calculator": "emt", "package": "ase",
                                   "version": "3.23.0", "recipe": "eos"}))
    store.record(plain.evaluation_id, Outcome.success({"p": 2.0}, {"p": "GPa"}))
    first, second = store.evaluations(cid)
    assert (first.model, second.model) == ("emt (ase 3.23.0)", None)
    assert first.proposed_at is not None and first.started_at is not None
    assert first.proposed_at <= first.started_at <= first.finished_at
    assert second.started_at is None
