"""``StoreProtocol``: what the loop, the lab and the reports ask of a store — a campaign's
history with its run lock. ``matloop.store.Store`` (a database) is the one implementation;
a test checks that it has every method with the same parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from matloop.protocols import Outcome
    from matloop.store.records import Pending, Proposal, Recorded
    from matloop.store.views import (
        AwaitingRow,
        CandidateRow,
        CycleRow,
        EvaluationRow,
        FinishedRow,
        OutsideCandidate,
        Spread,
    )


@runtime_checkable
class StoreProtocol(Protocol):
    """A campaign's history: campaigns, evaluations and their outcomes, cycles, lab
    batches and imported results, and the run lock."""

    safe_url: str  # where the history is, as messages may show it (no password)

    def close(self) -> None:
        """Release the database connections (the store reconnects when used again)."""
        ...

    # --- campaigns ---------------------------------------------------------------------

    def campaign_id(self, name: str, config: Mapping[str, Any] | None = None,
                    fixed: Sequence[str] = (), free: Sequence[str] = ()) -> int:
        """The campaign's id; created with ``config`` (``fixed`` sections unchanged but
        for their ``section.field`` names in ``free``)."""
        ...

    def set_stop_reason(self, campaign_id: int, reason: str | None) -> None:
        """Record why the campaign's last run stopped."""
        ...

    def campaign_names(self) -> list[str]:
        """The names of every campaign in the database, oldest first."""
        ...

    def config(self, campaign_id: int) -> dict[str, Any]:
        """The campaign file (as JSON data) of the latest run."""
        ...

    def stop_reason(self, campaign_id: int) -> str | None:
        """Why the campaign's last run stopped (None if it did not)."""
        ...

    def lock(self, campaign_id: int) -> AbstractContextManager[None]:
        """Hold the campaign's run lock (``CampaignLocked`` if a live run has it)."""
        ...

    # --- evaluations -------------------------------------------------------------------

    def propose(self, campaign_id: int, cycle: int, proposals: Sequence[Proposal]
                ) -> list[Pending]:
        """Record new evaluations (status ``proposed``) in one transaction."""
        ...

    def mark_running(self, evaluation_id: int, attempt: int) -> None:
        """Mark an evaluation started."""
        ...

    def record(self, evaluation_id: int, outcome: Outcome) -> bool:
        """Store an outcome exactly once; False when the evaluation had finished."""
        ...

    def requeue_in_flight(self, campaign_id: int) -> list[Pending]:
        """Evaluations a stopped run left unfinished, ready to run again."""
        ...

    def retry_failures(self, campaign_id: int, reasons: Sequence[str]) -> int:
        """New evaluations for the candidates that failed for ``reasons``; those
        failures become ``retried``. Returns how many were added."""
        ...

    def tried_pool_indices(self, campaign_id: int) -> dict[str, int]:
        """Key -> pool index of every candidate with an evaluation of any status."""
        ...

    def evaluated_rows(self, campaign_id: int, fidelity: str | None = None) -> set[int]:
        """Pool indices with an evaluation (any status) at ``fidelity``."""
        ...

    def training_data(self, campaign_id: int, properties: Sequence[str],
                      fidelity: str | None = None) -> tuple[list[int], list[list[float]]]:
        """Pool indices and per-candidate mean values (NaN where unmeasured)."""
        ...

    def observations(self, campaign_id: int, properties: Sequence[str],
                     fidelity: str | None = None) -> tuple[list[int], list[list[float]]]:
        """Pool index and values of each succeeded evaluation (replicates apart)."""
        ...

    def finished(self, campaign_id: int, fidelity: str | None = None) -> list[FinishedRow]:
        """Every finished evaluation (pool index, succeeded, reason), in order."""
        ...

    def counts(self, campaign_id: int, fidelity: str | None = None) -> dict[str, int]:
        """Number of evaluations by status."""
        ...

    def evaluations(self, campaign_id: int, fidelity: str | None = None
                    ) -> list[EvaluationRow]:
        """Every evaluation with its candidate and measured values, oldest first."""
        ...

    def durations(self, campaign_id: int) -> dict[str | None, list[float]]:
        """Per fidelity, the oracle's seconds of each finished evaluation it ran."""
        ...

    # --- cycles ------------------------------------------------------------------------

    def next_cycle(self, campaign_id: int) -> int:
        """The number of the next cycle."""
        ...

    def finish_cycle(self, campaign_id: int, number: int, best: Mapping[str, Any]) -> None:
        """Store the best values known once the cycle's evaluations are recorded."""
        ...

    def record_cycle(self, campaign_id: int, number: int, strategy: str, n_train: int,
                     n_proposed: int, fit_s: float, select_s: float,
                     hyperparameters: Mapping[str, Any] | None,
                     best: Mapping[str, Any] | None,
                     predicted: Mapping[str, Any] | None = None) -> None:
        """Record a cycle: its strategy, sizes, timings, model and best values."""
        ...

    def latest_hyperparameters(self, campaign_id: int) -> dict[str, Any] | None:
        """The hyperparameters of the latest cycle that fitted a model, if any."""
        ...

    def cycles(self, campaign_id: int) -> list[CycleRow]:
        """Every recorded cycle, in order."""
        ...

    # --- lab batches and imported results ----------------------------------------------

    def propose_awaiting(self, campaign_id: int, cycle: int, proposals: Sequence[Proposal],
                         provenance: Sequence[Mapping[str, Any]]) -> list[int]:
        """Record a lab batch (status ``awaiting``); its evaluation ids."""
        ...

    def awaiting(self, campaign_id: int) -> list[AwaitingRow]:
        """The lab evaluations still awaiting results, oldest first."""
        ...

    def candidates(self, campaign_id: int) -> list[CandidateRow]:
        """Every candidate the campaign has an evaluation of."""
        ...

    def external_candidates(self, campaign_id: int) -> list[OutsideCandidate]:
        """The measured candidates from outside the pool, by pool index."""
        ...

    def import_results(self, campaign_id: int, results: Sequence[Recorded],
                       digest: str | None = None, path: str = "") -> list[int]:
        """Store imported results all or nothing, and their ``digest`` unique per
        campaign (``AlreadyImported`` when it is there); their evaluation ids."""
        ...

    def imported_files(self, campaign_id: int) -> set[str]:
        """The digests of the results imported so far."""
        ...

    def replicates(self, campaign_id: int, properties: Sequence[str]
                   ) -> dict[str, dict[str, Spread]]:
        """The ``Spread`` per measured candidate (by label) and property."""
        ...
