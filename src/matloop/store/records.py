"""The plain values the store takes and gives: proposals, pending evaluations, imported
results, and the evaluation statuses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

IN_FLIGHT = ("proposed", "running")  # re-run by the next run when left unfinished
AWAITING = "awaiting"  # proposed to a lab: in flight, but never re-run by the loop
FINISHED = ("succeeded", "failed")
RETRIED = "retried"  # a failure run again on request (`run --retry`): not charged
TARGET = None  # the fidelity of the campaign's own [oracle]: the one targets count at
EVERY_FIDELITY = "*"  # reads of every fidelity (no fidelity name can be "*")


@dataclass(frozen=True)
class Proposal:
    """A candidate to evaluate: its row in the pool, its key and its label, at a
    ``fidelity`` (a ``[[fidelities]]`` name; None: the campaign's ``[oracle]``);
    ``external``: the input values of a candidate outside the pool (a box space's
    refined pick), stored so that the pool is rebuilt with it."""

    pool_index: int
    key: str
    label: str
    fidelity: str | None = None
    external: Mapping[str, float | str] | None = None


@dataclass(frozen=True)
class Pending:
    """An evaluation that is recorded but not finished (``fidelity`` as ``Proposal``'s)."""

    evaluation_id: int
    pool_index: int
    key: str
    attempt: int
    fidelity: str | None = None


@dataclass(frozen=True)
class Recorded:
    """One imported result: it fills the awaiting evaluation ``evaluation_id``, or (None)
    becomes a new evaluation of ``candidate`` (a replicate, or a candidate never proposed;
    ``external`` holds the values of one outside the pool, a categorical input by its
    option). ``values`` are in ``units``;
    a failed result has no values and ``note`` as its error text. ``fidelity``: the
    ``[[fidelities]]`` source that measured it (None: the campaign's own oracle)."""

    evaluation_id: int | None
    candidate: Proposal
    values: Mapping[str, float]
    units: Mapping[str, str]
    failed: bool
    note: str
    cycle: int
    provenance: Mapping[str, Any]
    external: Mapping[str, float | str] | None = None
    kind: str = "inputs"
    fidelity: str | None = None
