"""The lab oracle: a placeholder for measurements made by people.

The loop never dispatches it (a lab campaign proposes a batch and stops, see
``matloop.lab``); calling it is a programming error and fails the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from matloop.protocols import Candidate, Outcome


@dataclass(frozen=True)
class LabOracle:
    """Results arrive by ``matloop import``; ``units`` are the targets' units."""

    properties: tuple[str, ...]
    units: dict[str, str]

    def evaluate(self, candidate: Candidate) -> Outcome:
        return Outcome.failure("error", f"{candidate.label!r}: a lab oracle cannot be called; "
                               "propose a batch and import the lab's results")
