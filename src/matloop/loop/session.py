"""``Session``: one campaign opened once — the one place that proposes, records results,
runs the loop, ranks and reports. The command line, notebooks and the web page call it.

A session holds nothing the store cannot rebuild: the pool and its features are derived
from the campaign, the oracle is built from it, and every decision and result is written
to the store as it is made. Opening the same database in another process continues the
same campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from matloop.campaigns.loader import located
from matloop.campaigns.schema import RUN_SETTINGS, SEARCH_SECTIONS, Campaign
from matloop.campaigns.targets import TargetSet
from matloop.errors import ConfigError, StoreError
from matloop.loop.progress import ProgressCallback, RunResult, Scorekeeper
from matloop.store import EVERY_FIDELITY, AwaitingRow, DatabaseUnavailable, Store, sqlite_path

if TYPE_CHECKING:
    import pandas as pd

    from matloop.lab.importer import ImportReport
    from matloop.lab.proposals import Proposed
    from matloop.lab.sheets import Sheet
    from matloop.loop.context import Context
    from matloop.loop.predict import Ranking
    from matloop.protocols import Oracle
    from matloop.spaces.featurised import Featurised
    from matloop.spaces.pool import Pool

OracleLike = Any  # an Oracle, or a callable ``f(**inputs) -> {property: value}``


class Session:
    """An open campaign: ``Session(campaign, db=None)``, or ``campaign.session()``.

    ``db`` (a path or an SQLAlchemy URL) replaces the campaign's database; a relative
    path is taken from the current folder. Use it as a context manager, or ``close()``.
    Nothing is created until something is written: ``status()`` on a campaign that was
    never run raises ``StoreError`` and leaves no file behind."""

    def __init__(self, campaign: Campaign, db: str | Path | None = None) -> None:
        if db is not None:
            db = str(db)  # a path is relative to the current folder, not to the file
            keep = "://" in db or db.strip() == ":memory:"  # the latter is refused as such
            campaign = _override(campaign, database=db if keep else str(Path(db).resolve()))
        self.campaign = campaign
        self.targets = TargetSet.from_targets(campaign.targets)
        self._store: Store | None = None
        self._id: int | None = None
        self._writable = False
        self._pool: Pool | None = None
        self._space: Featurised | None = None
        self._oracle: tuple[Oracle, dict[str, Oracle]] | None = None  # and the sources'
        self._oracle_changed = False  # run(oracle_changed=True) accepted a new [oracle]

    # --- opening -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections (the session may be used again after)."""
        if self._store is not None:
            self._store.close()
        self._store, self._id, self._writable = None, None, False

    def _open(self, write: bool) -> tuple[Store, int]:
        """The store and campaign id. Reading needs the campaign to exist (else
        ``StoreError``); writing creates it, and checks that the search is the same."""
        if self._store is not None and (self._writable or not write):
            assert self._id is not None
            return self._store, self._id
        self.close()
        campaign = self.campaign
        if write:
            store = Store(campaign.database_url)
            fixed = [s for s in SEARCH_SECTIONS if s != "oracle" or not self._oracle_changed]
            campaign_id = store.campaign_id(campaign.campaign.name,
                                            campaign.model_dump(mode="json"),
                                            fixed=fixed, free=RUN_SETTINGS)
        else:
            store = Store(campaign.database_url, create=False)
            campaign_id = store.campaign_id(campaign.campaign.name)
        self._store, self._id, self._writable = store, campaign_id, write
        return store, campaign_id

    def _exists(self) -> bool:
        """True when the campaign's database holds this campaign."""
        path = sqlite_path(self.campaign.database_url)
        if path is not None and not path.exists():
            return False
        try:
            self._open(write=False)
        except DatabaseUnavailable:  # no server: not "no campaign yet"
            raise
        except StoreError:
            return False
        return True

    @property
    def pool(self) -> Pool:
        """The candidate pool, with measured candidates from outside it appended."""
        if self._pool is None:
            from matloop.loop.context import campaign_pool

            self._pool = campaign_pool(self.campaign, self._open(write=False)
                                       if self._exists() else None)
        return self._pool

    @property
    def space(self) -> Featurised:
        """The pool and its features (built once per session)."""
        if self._space is None:
            from matloop.spaces.featurised import featurise

            self._space = featurise(self.pool, getattr(self.campaign.space, "encoding", ""))
        return self._space

    @property
    def oracle(self) -> Oracle:
        """The campaign's oracle, checked (files, columns, functions, units)."""
        return self._oracles()[0]

    def _oracles(self) -> tuple[Oracle, dict[str, Oracle]]:
        """The campaign's oracle and its ``[[fidelities]]``' by name, checked."""
        if self._oracle is None:
            from matloop.loop.build import build_fidelity_oracles, build_oracle

            try:
                self._oracle = build_oracle(self.campaign), build_fidelity_oracles(
                    self.campaign)
            except ConfigError as exc:
                raise located(self.campaign.source, exc) from None
        return self._oracle

    def check(self) -> None:
        """Check everything a run needs (executor, oracles, pool, features, related
        campaigns) without touching the database; ``ConfigError`` on any invalid input."""
        from matloop.loop.executor import check_executor
        from matloop.loop.related import load_related

        check_executor(self.campaign.executor)
        self._oracles()  # first: a bad oracle section leaves no feature cache
        load_related(self.campaign.campaign.related, self.space, self.targets.properties)

    def _context(self, write: bool) -> Context:
        from matloop.loop.context import Context, check_pool_unchanged

        store, campaign_id = self._open(write)
        try:
            check_pool_unchanged(store, campaign_id, self.space.pool)
        except StoreError:  # perhaps another process added candidates outside the pool
            self._pool = self._space = None
            check_pool_unchanged(store, campaign_id, self.space.pool)
        return Context(self.campaign, store, campaign_id, self.space, self.targets,
                       Scorekeeper(store, campaign_id, self.targets))

    # --- the loop ------------------------------------------------------------------------

    def run(self, budget: int | None = None, oracle: OracleLike | None = None,
            progress: ProgressCallback | None = None, retry: Sequence[str] = (),
            oracle_changed: bool = False) -> RunResult:
        """Start or resume the campaign until its budget is spent, its pool exhausted or
        a stopping rule holds; returns how it ended.

        ``budget`` replaces the campaign's number of evaluations; ``oracle`` (an ``Oracle``
        or ``f(**inputs) -> {property: value}``) evaluates in this process instead of the
        campaign's oracle, evaluations awaiting results first; without one a lab campaign
        records a batch as awaiting results (``propose``). ``progress`` gets a
        ``Progress`` as the run starts, as each cycle is planned and each result recorded.
        ``retry`` (failure reasons) runs those failures again first, uncharged;
        ``oracle_changed`` accepts an ``[oracle]`` section changed since the last run."""
        from matloop.loop.run import Run, check_retry, to_resume

        if budget is not None:
            self.campaign = _override(self.campaign, budget=budget)
        check_retry(retry, self.campaign.oracle.kind == "lab" and oracle is None)
        if oracle_changed and not self._oracle_changed:
            self.close()  # opened for writing again, with the oracle's settings free
            self._oracle_changed = True
        report = progress or (lambda _: None)
        executor = None
        if oracle is not None:
            from matloop.loop.executor import ThreadExecutor
            from matloop.oracles.function import as_oracle

            chosen = as_oracle(oracle, self.campaign.properties)
            executor = ThreadExecutor(self.campaign.executor.workers)
        elif self.campaign.oracle.kind == "lab":
            return self._propose_awaiting(None, more=False, progress=report)[0]
        else:
            self.check()
            chosen = self.oracle
        context = self._context(write=True)
        with context.store.lock(context.campaign_id):
            self._import_prior(context.store, context.campaign_id)
            resume = to_resume(context, retry, report, awaiting=oracle is not None)
            try:
                sources = self._oracles()[1] if self.campaign.fidelities else None
                return Run(context, chosen, report, executor, sources).run(resume)
            finally:
                self._pool, self._space = context.space.pool, context.space  # refined picks
                if executor is not None:
                    executor.shutdown()

    def propose(self, n: int | None = None, more: bool = False) -> pd.DataFrame:
        """The next ``n`` candidates (default: the campaign's batch size, or what is left
        of its initial design), recorded as awaiting results, as a DataFrame.

        Columns: ``candidate_id``, ``candidate``, the columns that describe it (inputs,
        formula or structure), ``cycle``, ``predicted_<p> [unit]`` and ``std_<p> [unit]``
        per target property (empty for the initial design), ``hit_probability``
        with range targets, ``success_probability``, then the empty result columns
        ``<p> [unit]``, ``status`` and ``note`` to fill in for ``add_results``. While a
        batch awaits results it is returned again unless ``more``."""
        from matloop.lab.proposals import batch_frame

        awaiting = self.propose_batch(n, more)[1]
        return batch_frame(self.campaign, self.pool, awaiting)

    def propose_file(self, batch: int | None = None, more: bool = False,
                     out: str | Path | None = None, xlsx: bool = False,
                     progress: ProgressCallback | None = None) -> Proposed:
        """``propose``, written as the lab's batch file (CSV, and XLSX with ``xlsx``) at
        ``out`` (default ``<name>-batch-<cycle>.csv`` beside the campaign file); a file
        that already has results filled in is kept, never overwritten."""
        from matloop.lab.proposals import write_proposed

        result, awaiting, new = self.propose_batch(batch, more, progress)
        return write_proposed(self.campaign, self.pool, awaiting, new, result.stop_reason,
                              None if out is None else Path(out), xlsx)

    def propose_batch(self, n: int | None = None, more: bool = False,
                      progress: ProgressCallback | None = None
                      ) -> tuple[RunResult, list[AwaitingRow], bool]:
        """``propose`` as data: how it ended, every evaluation awaiting results (as
        ``Store.awaiting`` gives them) and whether a new batch was recorded. ``progress``
        is told of each cycle and of each cheaper source's evaluation made meanwhile."""
        if n is not None and n < 1:
            raise ConfigError(f"a batch has at least one candidate (asked for {n})")
        return self._propose_awaiting(n, more, progress or (lambda _: None))

    def _propose_awaiting(self, n: int | None, more: bool, progress: ProgressCallback
                          ) -> tuple[RunResult, list[AwaitingRow], bool]:
        from matloop.loop.awaiting import AWAITING_LAB, LabBatch

        if self.campaign.fidelities:
            self.check()  # the cheaper sources run in this process
        context = self._context(write=True)
        store, campaign_id = context.store, context.campaign_id
        with store.lock(campaign_id):
            self._import_prior(store, campaign_id)
            reason = LabBatch(context, progress, self._oracles() if self.campaign.fidelities
                              else None).record(n, more)
            self._pool, self._space = context.space.pool, context.space  # refined picks
            awaiting = store.awaiting(campaign_id)
            stop = AWAITING_LAB if awaiting else (reason or "nothing awaiting")
            store.set_stop_reason(campaign_id, stop)
            return context.keeper.result(stop), awaiting, reason == AWAITING_LAB

    # --- results -------------------------------------------------------------------------

    def add_results(self, results: pd.DataFrame, allow_new: bool = False,
                    dry_run: bool = False) -> ImportReport:
        """Store measured results given as a DataFrame with the columns ``propose`` gives
        (``candidate_id`` or the describing columns, ``<p> [unit]`` per target property,
        optionally ``status`` ``ok``/``failed`` and ``note``): every row is checked
        first and all are stored in one transaction, or none (``DataError`` listing every
        problem by row and column). ``allow_new`` accepts candidates outside the pool."""
        from matloop.lab.sheets import sheet_from_frame

        return self._import(sheet_from_frame(results), dry_run, allow_new, prior=False)

    def import_file(self, path: str | Path, allow_new: bool = False, dry_run: bool = False
                    ) -> ImportReport:
        """``add_results`` for a results file (.csv or .xlsx), as ``matloop import``."""
        from matloop.lab.sheets import read_sheet

        return self._import(read_sheet(Path(path)), dry_run, allow_new, prior=False)

    def _import(self, sheet: Sheet, dry_run: bool, allow_new: bool, prior: bool
                ) -> ImportReport:
        from matloop.loop.imports import import_sheet, known_of, settle_lab_state

        pool = self.pool
        known = known_of(self.campaign, self._open(write=False), pool) if self._exists() \
            else None
        report, recorded, new = import_sheet(sheet, self.campaign, pool, known, allow_new,
                                             prior)
        if dry_run or not recorded:
            return replace(report, dry_run=dry_run)
        store, campaign_id = self._open(write=True)
        store.import_results(campaign_id, recorded, report.digest, str(report.path))
        settle_lab_state(store, campaign_id)
        if new:  # the pool grew: build it (and its features) again
            self._pool = self._space = None
        return report

    def _import_prior(self, store: Store, campaign_id: int) -> None:
        """Import ``[campaign] prior`` once: before the first cycle of the first run (when
        the campaign has no evaluation yet)."""
        from matloop.lab.sheets import read_sheet

        prior = self.campaign.campaign.prior
        if prior is not None and store.next_cycle(campaign_id) == 0 and \
                not sum(store.counts(campaign_id).values()):
            self._import(read_sheet(prior), dry_run=False, allow_new=False, prior=True)

    # --- reading -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the campaign stands, as plain data (what ``matloop status --json``
        prints); ``StoreError`` when it was never run."""
        from matloop.loop.summary import summarize

        return summarize(self.campaign, *self._open(write=False))

    def evaluations(self) -> pd.DataFrame:
        """Every evaluation, one row each (``matloop export``; ``summary.evaluation_table``):
        ``candidate_id, candidate``, the inputs, ``fidelity``, ``status``, properties..."""
        import pandas as pd

        header, rows = self._evaluation_table()
        return pd.DataFrame(rows, columns=header)

    def export(self, path: str | Path) -> int:
        """Write ``evaluations()`` as a CSV file; returns the number of rows."""
        from matloop.loop.summary import write_csv

        return write_csv(*self._evaluation_table(), Path(path))

    def _evaluation_table(self) -> tuple[list[str], list[list[Any]]]:
        from matloop.loop.summary import evaluation_table, table_inputs

        store, campaign_id = self._open(write=False)
        return evaluation_table(self.campaign, store.evaluations(campaign_id, EVERY_FIDELITY),
                                *table_inputs(self.pool))

    def ranking(self, top: int | None = None) -> Ranking:
        """The unmeasured candidates ranked by P(hit) (range targets) or the acquisition,
        times P(success) where evaluations failed; the ``top`` best, or all."""
        from matloop.loop.predict import rank

        return rank(self._context(write=False), top)

    def rank(self, top: int | None = 10) -> pd.DataFrame:
        """``ranking(top)`` as a DataFrame (what ``matloop predict`` prints): ``rank,
        candidate_key, candidate``, the score, ``success_probability`` when failures are
        learnt, and ``predicted_<p> [unit]``, ``std_<p> [unit]`` per target property."""
        from matloop.loop.predict import ranking_frame

        return ranking_frame(self.ranking(top))

    def report(self, folder: str | Path | None = None,
               on_step: Callable[[str], None] | None = None) -> Path:
        """Write the HTML report (``report.html`` and one PNG per plot) into ``folder``
        (default ``<name>-report`` beside the campaign file); returns the page's path."""
        out = Path(folder) if folder is not None else \
            self.campaign.base_dir / f"{self.campaign.campaign.name}-report"
        return self.report_files(out, on_step)[-1]

    def report_files(self, folder: Path, on_step: Callable[[str], None] | None = None
                     ) -> list[Path]:
        """``report`` returning every file written, the page last."""
        from matloop.loop.gather import gather
        from matloop.reporting.report import write_report

        tell = on_step or (lambda _: None)
        self._open(write=False)  # first: a campaign never run is a StoreError
        if self._space is None:
            tell("featurising the pool")
        return write_report(gather(self._context(write=False), tell), folder, on_step=tell)


def run(campaign: Campaign, on_progress: ProgressCallback | None = None,
        oracle: OracleLike | None = None) -> RunResult:
    """``Session(campaign).run(oracle=oracle, progress=on_progress)`` in one call."""
    with Session(campaign) as session:
        return session.run(oracle=oracle, progress=on_progress)


def _override(campaign: Campaign, **changes: Any) -> Campaign:
    try:
        return campaign.with_overrides(**changes)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
