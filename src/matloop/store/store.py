"""The store: every query matloop makes, over any SQLAlchemy URL (SQLite by default).

``Store`` opens the database (``engine``), brings its schema to this matloop's revision
(``migrate``: every command opens its database here, so every command checks the
version), and hands each call to the module that does it: ``writes``, ``reads`` and
``lock`` (the run lock). Each write is its own transaction, so a killed run loses at most
the evaluations that were in flight. SQLite files are opened in WAL mode with a busy
timeout so that ``matloop status`` can read while a run writes. PostgreSQL
(``postgresql+psycopg://user@host/db``, an existing database) gets the same schema, the
same run lock and the same resume: every statement is portable, every query whose order
matters has an ORDER BY, the schema is created and upgraded under a lock, and writes that
could race are conditional, so two processes at once leave one result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from matloop.errors import StoreError
from matloop.protocols import Outcome
from matloop.store import lock as run_lock
from matloop.store import reads, writes
from matloop.store.engine import (
    DatabaseUnavailable,
    make_engine,
    safe_url,
    sqlite_path,
    unavailable,
)
from matloop.store.faults import quick_check, watch
from matloop.store.migrate import ensure_schema
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

if TYPE_CHECKING:
    from matloop.store.protocol import StoreProtocol

__all__ = ["DatabaseUnavailable", "Pending", "Proposal", "Recorded", "Store", "safe_url",
           "sqlite_path"]


class Store:
    """All reads and writes of one database. Cheap to construct; holds an engine.

    Opening checks the database's schema revision and upgrades an older one (also when
    reading, ``create=False``); a database from a newer matloop is a ``StoreError``. Only
    ``create=True`` makes a new database (or a missing SQLite file); it also checks an
    existing SQLite file (``PRAGMA quick_check``, reading it once) before anything is
    written. A damaged file or a full disk is a ``StoreError`` (``faults``), whenever met.
    """

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        self.safe_url = safe_url(url)  # for messages: without the password
        path = sqlite_path(url)
        if path is not None and not create and not path.exists():
            raise StoreError(f"no database at {path}: the campaign has not been run yet")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url, self.safe_url)
        watch(self.engine, self.safe_url if path is None else str(path))
        try:
            if create and path is not None and path.exists() and path.stat().st_size:
                quick_check(self.engine, str(path))  # before writing to a damaged file
            ensure_schema(self.engine, self.safe_url, create)
        except DBAPIError as exc:  # unreachable server, no such database, refused login
            self.engine.dispose()
            raise unavailable(self.safe_url, exc) from None
        except StoreError:
            self.engine.dispose()
            raise

    # --- campaigns -------------------------------------------------------------------

    def close(self) -> None:
        """Release the database connections (the store reconnects when used again)."""
        self.engine.dispose()

    def campaign_id(self, name: str, config: Mapping[str, Any] | None = None,
                    fixed: Sequence[str] = (), free: Sequence[str] = ()) -> int:
        """The id of campaign ``name``; created with ``config`` when given and absent.

        When the campaign exists and ``config`` is given, the ``fixed`` sections (those
        that define the search) must be unchanged but for their ``section.field`` names
        in ``free`` — resuming a different search into the same history would mix
        incomparable data — and ``config`` replaces the stored one (so it records the
        latest run's seed, budget and time limits).
        """
        return writes.campaign_id(self.engine, self.safe_url, name, config, fixed, free)

    def set_stop_reason(self, campaign_id: int, reason: str | None) -> None:
        """Record why the campaign's last run stopped."""
        writes.set_stop_reason(self.engine, campaign_id, reason)

    def campaign_names(self) -> list[str]:
        """The names of every campaign in the database, oldest first."""
        return reads.campaign_names(self.engine)

    def config(self, campaign_id: int) -> dict[str, Any]:
        """The campaign file (as JSON data) of the latest run."""
        return reads.config(self.engine, campaign_id)

    def stop_reason(self, campaign_id: int) -> str | None:
        """Why the campaign's last run stopped (None if it did not)."""
        return reads.stop_reason(self.engine, campaign_id)

    def lock(self, campaign_id: int) -> AbstractContextManager[None]:
        """Hold the campaign's run lock; raises ``CampaignLocked`` if a live run has it.

        A lock left by a process that no longer exists on this host is taken over.
        """
        return run_lock.hold(self.engine, campaign_id)

    # --- evaluations -----------------------------------------------------------------

    def propose(self, campaign_id: int, cycle: int, proposals: Sequence[Proposal]
                ) -> list[Pending]:
        """Record new evaluations (status ``proposed``) in one transaction."""
        return writes.propose(self.engine, campaign_id, cycle, proposals)

    def mark_running(self, evaluation_id: int, attempt: int) -> None:
        """Mark an evaluation started (its attempt number given)."""
        writes.mark_running(self.engine, evaluation_id, attempt)

    def record(self, evaluation_id: int, outcome: Outcome) -> bool:
        """Store an outcome and its measurements in one transaction, exactly once.

        Returns False, changing nothing, when the evaluation is already finished (a late
        duplicate result, e.g. from a worker presumed dead): the first outcome stands."""
        return writes.record(self.engine, evaluation_id, outcome)

    def requeue_in_flight(self, campaign_id: int) -> list[Pending]:
        """Evaluations left unfinished by a stopped run, ready to run again.

        Those that had started count a new attempt; those only proposed keep theirs.
        """
        return writes.requeue_in_flight(self.engine, campaign_id)

    def tried_pool_indices(self, campaign_id: int) -> dict[str, int]:
        """Key -> pool index of every candidate with an evaluation of any status."""
        return reads.tried_pool_indices(self.engine, campaign_id)

    def evaluated_rows(self, campaign_id: int, fidelity: str | None = None) -> set[int]:
        """Pool indices of the candidates with an evaluation (any status) at ``fidelity``
        (None: the campaign's own ``[oracle]``; ``EVERY_FIDELITY``: any)."""
        return reads.evaluated_rows(self.engine, campaign_id, fidelity)

    def training_data(self, campaign_id: int, properties: Sequence[str],
                      fidelity: str | None = None) -> tuple[list[int], list[list[float]]]:
        """Pool indices and per-candidate mean values ``(n, m)`` (NaN where unmeasured)
        at ``fidelity`` (None: the campaign's own ``[oracle]``)."""
        return reads.training_data(self.engine, campaign_id, properties, fidelity)

    def observations(self, campaign_id: int, properties: Sequence[str],
                     fidelity: str | None = None) -> tuple[list[int], list[list[float]]]:
        """One row per succeeded evaluation that measured any of ``properties``: its
        candidate's pool index and its values ``(n_evaluations, m)`` (NaN where not
        measured), in candidate order, at ``fidelity``. Replicates stay separate rows, so a
        model fitted on them learns the measurement noise from their scatter."""
        return reads.observations(self.engine, campaign_id, properties, fidelity)

    def finished(self, campaign_id: int, fidelity: str | None = None) -> list[FinishedRow]:
        """Every finished evaluation at ``fidelity`` (pool index, succeeded, failure
        reason), in the order they finished."""
        return reads.finished(self.engine, campaign_id, fidelity)

    def counts(self, campaign_id: int, fidelity: str | None = None) -> dict[str, int]:
        """Number of evaluations at ``fidelity`` by status (all four statuses present)."""
        return reads.counts(self.engine, campaign_id, fidelity)

    def evaluations(self, campaign_id: int, fidelity: str | None = None
                    ) -> list[EvaluationRow]:
        """Every evaluation at ``fidelity`` (``EVERY_FIDELITY``: all) with its candidate
        and measured values, oldest first."""
        return reads.evaluations(self.engine, campaign_id, fidelity)

    def durations(self, campaign_id: int) -> dict[str | None, list[float]]:
        """Per fidelity, the oracle's seconds of each finished evaluation it ran."""
        return reads.durations(self.engine, campaign_id)

    # --- cycles ----------------------------------------------------------------------

    def next_cycle(self, campaign_id: int) -> int:
        """The number of the next cycle (after every recorded cycle and evaluation)."""
        return reads.next_cycle(self.engine, campaign_id)

    def retry_failures(self, campaign_id: int, reasons: Sequence[str]) -> int:
        """Run the failures of ``reasons`` again: each such candidate gets a new
        evaluation and its failures become ``retried`` (kept, no longer charged to the
        budget). Returns the number of new evaluations."""
        return writes.retry_failures(self.engine, campaign_id, reasons)

    def finish_cycle(self, campaign_id: int, number: int, best: Mapping[str, Any]) -> None:
        """Store the best values known once the cycle's evaluations are recorded."""
        writes.finish_cycle(self.engine, campaign_id, number, best)

    def record_cycle(self, campaign_id: int, number: int, strategy: str, n_train: int,
                     n_proposed: int, fit_s: float, select_s: float,
                     hyperparameters: Mapping[str, Any] | None,
                     best: Mapping[str, Any] | None,
                     predicted: Mapping[str, Any] | None = None) -> None:
        """Record a cycle: its strategy, sizes, timings, model and best values."""
        writes.record_cycle(self.engine, campaign_id, number, strategy, n_train, n_proposed,
                            fit_s, select_s, hyperparameters, best, predicted)

    def latest_hyperparameters(self, campaign_id: int) -> dict[str, Any] | None:
        """The hyperparameters of the latest cycle that fitted a model, if any."""
        return reads.latest_hyperparameters(self.engine, campaign_id)

    def cycles(self, campaign_id: int) -> list[CycleRow]:
        """Every recorded cycle, in order."""
        return reads.cycles(self.engine, campaign_id)

    # --- lab batches and imported results --------------------------------------------

    def propose_awaiting(self, campaign_id: int, cycle: int, proposals: Sequence[Proposal],
                         provenance: Sequence[Mapping[str, Any]]) -> list[int]:
        """Record a lab batch (status ``awaiting``) in one transaction; its evaluation ids.

        ``provenance[i]`` (JSON-able: the model's predictions) is kept with proposal i."""
        return writes.propose_awaiting(self.engine, campaign_id, cycle, proposals,
                                       provenance)

    def awaiting(self, campaign_id: int) -> list[AwaitingRow]:
        """The lab evaluations still awaiting results (with their provenance), oldest
        first."""
        return reads.awaiting(self.engine, campaign_id)

    def candidates(self, campaign_id: int) -> list[CandidateRow]:
        """Every candidate the campaign has an evaluation of (any status)."""
        return reads.candidates(self.engine, campaign_id)

    def external_candidates(self, campaign_id: int) -> list[OutsideCandidate]:
        """The measured candidates from outside the pool (with their pool-space values),
        by pool index."""
        return reads.external_candidates(self.engine, campaign_id)

    def import_results(self, campaign_id: int, results: Sequence[Recorded],
                       digest: str | None = None, path: str = "") -> list[int]:
        """Store imported results in ONE transaction (all or nothing); the evaluation ids.

        With ``digest`` (of the results, from the file ``path``) the import is recorded
        in the same transaction, unique per campaign: when that digest was imported
        before, or by an import at the same moment, ``AlreadyImported`` and nothing is
        written. Raises ``StoreError`` (and writes nothing) when an evaluation to fill is
        no longer awaiting — e.g. another import got there first."""
        return writes.import_results(self.engine, campaign_id, results, digest, path)

    def imported_files(self, campaign_id: int) -> set[str]:
        """The digests of the results imported into the campaign so far."""
        return reads.imported_files(self.engine, campaign_id)

    def replicates(self, campaign_id: int, properties: Sequence[str]
                   ) -> dict[str, dict[str, Spread]]:
        """Per measured candidate (by label) and property: the ``Spread`` (mean, sample
        standard deviation — 0 for one measurement — and count) of its succeeded
        evaluations."""
        return reads.replicates(self.engine, campaign_id, properties)


if TYPE_CHECKING:  # mypy: a Store is a StoreProtocol (every method, the same types)
    def _is_a_store_protocol(store: Store) -> StoreProtocol:
        return store
