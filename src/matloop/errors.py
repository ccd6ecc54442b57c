"""The errors matloop raises on purpose.

``ConfigError`` means the user's input (campaign file, options) is wrong and nothing was
run; ``DataError`` (a ``ConfigError``) means measurements to import have problems, listed
by row and column, and nothing was stored (``AlreadyImported``: they were imported
before); ``NotFittedError`` means a model was used before it was fitted;
``CampaignLocked`` means another run owns the campaign; ``StoreError`` means the database
does not match the campaign; ``OracleFailing`` means a run stopped because most recent
evaluations failed; ``ExecutorLost`` means the executor (a Dask scheduler) went away
mid-run. ``EvaluationFailure`` is raised by oracles
(or user functions) to report a failed evaluation with a reason; the loop records it as data.
The CLI maps ``MatloopError`` subclasses to exit codes and prints one line, no traceback.
"""

from __future__ import annotations


class MatloopError(Exception):
    """Base class: an error with a message meant for the user."""

    exit_code = 1


class ConfigError(MatloopError):
    """A campaign file or option is invalid; the message names the field (and line)."""

    exit_code = 2


class DataError(ConfigError):
    """Measurements handed to matloop (a results file or DataFrame) have problems; the
    message lists every one by row and column, and nothing was stored. ``problems`` holds
    them one per line."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class AlreadyImported(DataError):
    """The results of ``path`` were imported into the campaign before (the same results,
    whatever the file's format, layout or row order), or by another import at the same
    moment; nothing was stored."""

    def __init__(self, path: object) -> None:
        super().__init__(f"{path}: these results were imported before (same contents); "
                         "nothing was imported")


class NotFittedError(MatloopError, RuntimeError):
    """A model was asked to predict before it was fitted."""


class CampaignLocked(MatloopError):
    """Another process is running this campaign."""

    exit_code = 3


class StoreError(MatloopError):
    """The database cannot serve this campaign (wrong schema, changed campaign file)."""

    exit_code = 4


class OracleFailing(MatloopError):
    """Too many recent evaluations failed: the oracle looks broken, the run was stopped."""

    exit_code = 5


class ExecutorLost(MatloopError):
    """The executor cannot run evaluations any more (a lost or unreachable Dask scheduler);
    the run stopped with everything finished saved, and the next run resumes."""

    exit_code = 6


class EvaluationFailure(Exception):
    """Raised inside an oracle to mark an evaluation as failed with a reason category.

    ``reason`` is one of ``error``, ``timeout``, ``crashed``, ``invalid``,
    ``not_converged``, ``infeasible``.
    """

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class Infeasible(EvaluationFailure):
    """The candidate cannot be made or computed (e.g. a synthesis that gives no product)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="infeasible")
