"""The read models: what the store's queries give, as frozen dataclasses — never the
tables' rows, which stay inside the store.

Times are as the database returns them (UTC; SQLite gives them without a time zone).
Mappings in them are fresh per query: read them, do not change them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EvaluationRow:
    """One evaluation with its candidate and measured values (``Store.evaluations``).

    ``candidate`` is the candidate's label, ``key`` its identity in the pool. ``status``:
    ``proposed``, ``running``, ``awaiting``, ``succeeded`` or ``failed``; ``cycle`` the
    cycle that proposed it (-1 for prior results imported before the first cycle);
    ``attempt`` counts from 1. ``reason`` (a failure category) and ``error`` (its text)
    are None unless it failed; ``duration_s`` is the oracle's time in seconds (None when
    not run by the loop); ``proposed_at``, ``started_at`` and ``finished_at`` when it was
    proposed, handed to its oracle and finished (None until then); ``model`` the
    calculator that computed it with its package version (``"emt (ase 3.23.0)"``; None
    for other oracles and imported results); ``fidelity`` the ``[[fidelities]]`` source
    that made it (None: the campaign's own ``[oracle]``). ``values``:
    property -> measured value, in ``units`` (property -> unit as first recorded for the
    campaign, the same for every row; None when the oracle gave none)."""

    evaluation_id: int
    candidate_id: int
    candidate: str
    key: str
    pool_index: int
    status: str
    cycle: int
    attempt: int
    reason: str | None
    error: str | None
    duration_s: float | None
    finished_at: datetime | None
    values: Mapping[str, float]
    units: Mapping[str, str | None]
    proposed_at: datetime | None = None
    started_at: datetime | None = None
    model: str | None = None
    fidelity: str | None = None


@dataclass(frozen=True)
class AwaitingRow:
    """A lab evaluation still awaiting results (``Store.awaiting``): its candidate's id,
    key, label and pool row, the cycle that proposed it, its ``provenance`` (the
    parsed JSON recorded with it: the model's predictions) and its ``fidelity`` (a
    ``[[fidelities]]`` source that is a lab; None: the campaign's own oracle)."""

    evaluation_id: int
    candidate_id: int
    key: str
    label: str
    pool_index: int
    cycle: int
    provenance: Mapping[str, Any]
    fidelity: str | None = None


@dataclass(frozen=True)
class FinishedRow:
    """A finished evaluation (``Store.finished``): its candidate's pool row, whether it
    succeeded, and the failure category when it did not (None otherwise, or unknown)."""

    pool_index: int
    succeeded: bool
    reason: str | None


@dataclass(frozen=True)
class OutsideCandidate:
    """A measured candidate from outside the pool (``import --allow-new``): the pool row
    it was given, its key, its ``kind`` (``inputs`` or ``composition``, as
    ``Pool.kind``) and its pool-space ``values`` (input or element -> value; a
    categorical input's value is its option)."""

    pool_index: int
    key: str
    kind: str
    values: Mapping[str, float | str]


@dataclass(frozen=True)
class Spread:
    """One property's measurements of one candidate (``Store.replicates``): their mean
    and sample standard deviation (0 for one measurement), in the property's unit, and
    how many there are."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class CycleRow:
    """A recorded cycle (``Store.cycles``): its number, ``strategy`` (``initial`` for the
    random design, else the acquisition's name), the training rows and proposals it
    had, its fit and selection times in seconds, and, as parsed JSON: the fitted model's
    ``hyperparameters`` (empty when none was fitted), the ``best`` values known once its
    evaluations were recorded (``best``, ``hits``, ``progress``, ...; empty until then)
    and the model's ``predicted`` values for its picks (None when it predicted nothing,
    as for the random design)."""

    number: int
    strategy: str
    n_train: int
    n_proposed: int
    fit_s: float
    select_s: float
    hyperparameters: Mapping[str, Any]
    best: Mapping[str, Any]
    predicted: Mapping[str, Any] | None
    created_at: datetime


@dataclass(frozen=True)
class CandidateRow:
    """A candidate the campaign has an evaluation of (``Store.candidates``): its id (the
    ``candidate_id`` of its evaluations), pool row, key and label."""

    candidate_id: int
    pool_index: int
    key: str
    label: str
