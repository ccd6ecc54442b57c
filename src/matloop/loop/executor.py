"""Executors: where oracle calls run. A local process pool by default, or Dask.

Both give standard ``concurrent.futures.Future`` objects, so the loop waits on either the
same way, and both turn their own ways of failing into an ``Outcome`` (``outcome``): a
timeout, a dead worker, a task that could not be sent. The loop process alone writes the
database; workers get plain picklable values (oracle, candidate) and return an outcome.

- ``local``: Pebble's ``ProcessPool``. A task that exceeds its timeout has its worker
  process killed and replaced; a worker that dies (segfault, ``os._exit``, out-of-memory
  kill) fails only the task it was running. Workers are started with ``spawn`` so that
  they never inherit torch's threads or an open database connection.
- ``dask``: a ``distributed.Client`` on a ``LocalCluster`` started for the run (one
  single-threaded worker process per ``workers``), on a running scheduler (``address``),
  or on a dask-jobqueue cluster (``cluster = "slurm"``, ...). Dask cannot interrupt a
  running task, so the task runs the oracle in a thread and gives up after the timeout;
  the loop then restarts that worker process (through its nanny) to stop the runaway call.
  A worker that dies mid-evaluation fails the task (``KilledWorker``, the LocalCluster is
  told to allow no silent re-runs) and the loop's retry policy runs it again as a new,
  recorded attempt. A lost scheduler raises ``ExecutorLost``: the run stops, keeping
  everything finished, and the next run re-runs what was in flight.
"""

from __future__ import annotations

import logging
import multiprocessing
import warnings
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from matloop.campaigns.schema import ExecutorSection
from matloop.errors import ExecutorLost
from matloop.protocols import Outcome

if TYPE_CHECKING:
    from distributed import Client
    from pebble import ProcessPool

CONNECT_TIMEOUT_S = 30


class Executor(Protocol):
    """Runs ``fn(*args)`` somewhere; ``timeout`` (s) bounds the call once it has started."""

    def submit(self, fn: Callable[..., Outcome], *args: Any, timeout: float | None
               ) -> Future[Outcome]: ...

    def outcome(self, future: Future[Outcome]) -> Outcome:
        """The finished future's outcome, or the failure that stands for it; raises
        ``ExecutorLost`` when the executor itself is gone."""
        ...

    def shutdown(self) -> None: ...


def check_executor(section: ExecutorSection) -> None:
    """Raise ``ConfigError`` now if the section's engine is not installed."""
    from importlib.util import find_spec

    from matloop.errors import ConfigError

    if section.kind == "dask" and find_spec("distributed") is None:
        raise ConfigError('executor.kind = "dask" needs Dask distributed: pip install '
                          "'matloop[dask]'")
    if section.cluster and find_spec("dask_jobqueue") is None:
        raise ConfigError(f"executor.cluster = {section.cluster!r} needs dask-jobqueue: pip "
                          "install 'matloop[dask]'")


def make_executor(section: ExecutorSection, timeout_s: float | None = None) -> Executor:
    """The executor for the ``[executor]`` section; ``timeout_s`` is the oracle's."""
    if section.kind == "dask":
        return DaskExecutor(section)
    return LocalExecutor(section.workers, timeout_s)


class LocalExecutor:
    """A Pebble process pool on this machine, started on first use."""

    def __init__(self, workers: int, timeout_s: float | None = None) -> None:
        self.workers = workers
        self.timeout_s = timeout_s
        self._pool: ProcessPool | None = None
        self._pool_of: dict[Future[Outcome], ProcessPool] = {}

    def submit(self, fn: Callable[..., Outcome], *args: Any, timeout: float | None
               ) -> Future[Outcome]:
        from pebble import ProcessPool

        if self._pool is None:
            self._pool = ProcessPool(max_workers=self.workers,
                                     context=multiprocessing.get_context("spawn"),
                                     initializer=ignore_interrupts)
        future: Future[Outcome] = self._pool.schedule(fn, args=args, timeout=timeout)
        self._pool_of[future] = self._pool
        return future

    def outcome(self, future: Future[Outcome]) -> Outcome:
        from pebble import ProcessExpired

        pool = self._pool_of.pop(future, None)
        try:
            return future.result()
        except BrokenProcessPool as exc:
            # Pebble gives up its whole pool when a worker dies before the task it took is
            # acknowledged (a crash at once); every evaluation in it ends so. A new pool
            # runs the retries.
            if pool is not None and pool is self._pool:
                self._stop_pool()
            why = str(exc) or "a worker died"
            return Outcome.failure("crashed", f"the process pool broke ({why}) while the "
                                   "evaluation was queued or running; a new pool was started")
        except FutureTimeout:
            return Outcome.failure("timeout", f"no result after {self.timeout_s} s; the "
                                   "worker process was killed")
        except ProcessExpired as exc:
            return Outcome.failure("crashed", f"the worker process died during the evaluation "
                                   f"(exit code {exc.exitcode}: killed, out of memory or a "
                                   "crash)")
        except Exception as exc:  # e.g. an outcome that cannot be sent back (pickling)
            return Outcome.failure("error", f"{type(exc).__name__}: {exc}")

    def _stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join(timeout=5)
            self._pool = None

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None


def ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is the main process's to handle (it stops the pool), so
    a ``KeyboardInterrupt`` inside a worker can only come from the oracle itself, which
    ``evaluate`` then records as a failure."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ThreadExecutor:
    """Threads of this process: for an oracle handed to ``Session.run`` (a notebook's
    function need not be importable by a worker process). A thread cannot be stopped, so
    ``timeout`` is not enforced here."""

    def __init__(self, workers: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="matloop")

    def submit(self, fn: Callable[..., Outcome], *args: Any, timeout: float | None
               ) -> Future[Outcome]:
        return self._pool.submit(fn, *args)

    def outcome(self, future: Future[Outcome]) -> Outcome:
        try:
            return future.result()
        except Exception as exc:  # evaluate() catches the oracle's own errors
            return Outcome.failure("error", f"{type(exc).__name__}: {exc}")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass(frozen=True)
class WorkerTimeout:
    """What a Dask task returns, instead of an outcome, when the oracle call outlived its
    timeout (returned rather than raised: a raised error is logged by every worker)."""

    worker: str
    timeout: float

    def __str__(self) -> str:
        return f"no result after {self.timeout} s on worker {self.worker}"


def call_with_timeout(fn: Callable[..., Outcome], args: tuple[Any, ...],
                      timeout: float | None) -> Outcome | WorkerTimeout:
    """What a Dask worker runs: ``fn(*args)``, abandoned after ``timeout`` seconds (the
    call goes on in its thread until the loop restarts this worker)."""
    if timeout is None:
        return fn(*args)
    from concurrent.futures import ThreadPoolExecutor

    from distributed import get_worker

    pool = ThreadPoolExecutor(1, thread_name_prefix="matloop-oracle")
    try:
        return pool.submit(fn, *args).result(timeout)
    except FutureTimeout:
        return WorkerTimeout(get_worker().address, timeout)
    finally:
        pool.shutdown(wait=False)


class DaskExecutor:
    """Oracle calls on a Dask cluster: started here, or reached at ``address``."""

    def __init__(self, section: ExecutorSection) -> None:
        self.section = section
        self._cluster: Any = None
        self._client: Client | None = None
        self._executor: Any = None  # the client's concurrent.futures face
        self._client_log_level: int | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Client:
        import dask
        from distributed import Client, LocalCluster

        # The client logs each failed reconnection with a traceback; the loop reports a
        # lost scheduler itself, in one line.
        client_log = logging.getLogger("distributed.client")
        self._client_log_level = client_log.level
        client_log.setLevel(logging.CRITICAL)
        section = self.section
        try:
            if section.address:
                return Client(section.address, timeout=CONNECT_TIMEOUT_S)
            if section.cluster:
                self._cluster = jobqueue_cluster(section)
                self._cluster.scale(jobs=section.workers)
                return Client(self._cluster, timeout=CONNECT_TIMEOUT_S)
            # No silent re-run of a task whose worker died: the loop's retry policy decides.
            # One task per worker thread: a queued evaluation waits on the scheduler for
            # whichever worker frees up first, not behind a long one on a busy worker.
            with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                  "distributed.scheduler.worker-saturation": 1.0}), \
                    warnings.catch_warnings():
                # the scheduler's HTTP server (health, metrics) moves to a free port when
                # another cluster holds 8787; that is no news to the user
                warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
                self._cluster = LocalCluster(n_workers=section.workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)
            return Client(self._cluster)
        except (OSError, RuntimeError) as exc:  # connection timeouts are OSErrors
            where = section.address or section.cluster or "a local cluster"
            raise ExecutorLost(f"cannot start or reach the Dask scheduler ({where}): "
                               f"{exc}") from None

    def submit(self, fn: Callable[..., Outcome], *args: Any, timeout: float | None
               ) -> Future[Outcome]:
        if self._executor is None:
            self._executor = self.client.get_executor(pure=False)
        future: Future[Outcome] = self._executor.submit(call_with_timeout, fn, args, timeout)
        return future  # an Outcome, or a WorkerTimeout that ``outcome`` turns into one

    def outcome(self, future: Future[Outcome]) -> Outcome:
        from distributed import KilledWorker

        try:
            result: Outcome | WorkerTimeout = future.result()
            if isinstance(result, WorkerTimeout):
                restarted = self._restart(result.worker)
                return Outcome.failure("timeout", f"{result}; " + (
                    "the worker was restarted" if restarted else
                    "the worker could not be restarted and may stay busy until the call ends"))
            return result
        except KilledWorker as exc:
            return Outcome.failure("crashed", f"the Dask worker died during the evaluation "
                                   f"(killed, out of memory or a crash): {exc}")
        except CancelledError:
            raise ExecutorLost("the Dask scheduler was lost (its tasks were cancelled); "
                               "finished evaluations are saved: run again to resume") from None
        except Exception as exc:  # the oracle's own errors are caught on the worker
            if self._client is not None and self._client.status != "running":
                raise ExecutorLost(f"the Dask scheduler was lost ({exc}); finished "
                                   "evaluations are saved: run again to resume") from None
            return Outcome.failure("error", f"{type(exc).__name__}: {exc}")

    def _restart(self, worker: str) -> bool:
        try:
            self.client.restart_workers([worker], timeout=CONNECT_TIMEOUT_S,
                                        raise_for_error=True)
            return True
        except Exception:  # no nanny, or already gone: the worker is not ours to fix
            return False

    def shutdown(self) -> None:
        self._executor = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._client_log_level is not None:
            logging.getLogger("distributed.client").setLevel(self._client_log_level)
            self._client_log_level = None


JOBQUEUE_CLUSTERS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                     "lsf": "LSFCluster", "htcondor": "HTCondorCluster",
                     "moab": "MoabCluster", "oar": "OARCluster"}


def jobqueue_cluster(section: ExecutorSection) -> Any:
    """The dask-jobqueue cluster for ``cluster`` with ``cluster_options`` (``cores``,
    ``memory``, ``walltime``, ``queue``, ``account``, ``job_extra_directives``...); one
    job per worker unless the options say ``processes``. Submits no job until scaled."""
    from matloop.errors import ConfigError

    assert section.cluster is not None
    check_executor(section)
    import dask_jobqueue

    cls = getattr(dask_jobqueue, JOBQUEUE_CLUSTERS[section.cluster])
    options = {"processes": 1, "cores": 1, "memory": "4GB", **section.cluster_options}
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"executor.cluster_options for {section.cluster}: {exc}") from None
