"""matloop: closed-loop, active-learning materials discovery.

A campaign names a candidate space, a target property set and an oracle; a session
proposes candidates with Bayesian acquisition, records every result (failures too) in
its database and runs the loop::

    import matloop

    campaign = matloop.Campaign.from_file("superhard.toml")   # or .from_dict(cfg, pool=df)
    with campaign.session() as session:
        batch = session.propose(8)          # DataFrame: candidates + predictions
        session.add_results(measured)       # DataFrame: all rows checked, stored or none
        session.run(oracle=my_function)     # the loop, until budget or targets are met
        session.rank(top=10)                # unmeasured candidates most likely to be hits
        session.status()                    # where the campaign stands (a dict)
        session.evaluations()               # every evaluation (a DataFrame)
        session.report("report/")           # an HTML page of plots

Names exported here: ``Campaign``, ``Session``, the value types (``Candidate``,
``Outcome``, ``Prediction``, ``Progress``, ``RunResult``) and the errors (``MatloopError``,
``ConfigError``, ``DataError``, ``StoreError``, ``CampaignLocked``, ``OracleFailing``,
``ExecutorLost``, ``NotFittedError``, ``EvaluationFailure``, ``Infeasible``).
``matloop.testing`` has fakes for users' own tests. Importing matloop is cheap: the heavy
libraries (torch, BoTorch, ASE, pymatgen) load only when a session needs them.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Campaign": "matloop.api",
    "Session": "matloop.loop.session",
    "Candidate": "matloop.protocols",
    "Outcome": "matloop.protocols",
    "Prediction": "matloop.protocols",
    "Progress": "matloop.loop.progress",
    "RunResult": "matloop.loop.progress",
    "MatloopError": "matloop.errors",
    "ConfigError": "matloop.errors",
    "DataError": "matloop.errors",
    "StoreError": "matloop.errors",
    "CampaignLocked": "matloop.errors",
    "OracleFailing": "matloop.errors",
    "ExecutorLost": "matloop.errors",
    "NotFittedError": "matloop.errors",
    "EvaluationFailure": "matloop.errors",
    "Infeasible": "matloop.errors",
}

__all__ = [
    "Campaign",
    "CampaignLocked",
    "Candidate",
    "ConfigError",
    "DataError",
    "EvaluationFailure",
    "ExecutorLost",
    "Infeasible",
    "MatloopError",
    "NotFittedError",
    "OracleFailing",
    "Outcome",
    "Prediction",
    "Progress",
    "RunResult",
    "Session",
    "StoreError",
]

if TYPE_CHECKING:
    from matloop.api import Campaign
    from matloop.errors import (
        CampaignLocked,
        ConfigError,
        DataError,
        EvaluationFailure,
        ExecutorLost,
        Infeasible,
        MatloopError,
        NotFittedError,
        OracleFailing,
        StoreError,
    )
    from matloop.loop.progress import Progress, RunResult
    from matloop.loop.session import Session
    from matloop.protocols import Candidate, Outcome, Prediction


def __getattr__(name: str) -> Any:
    """Load an exported name on first use (``Session`` brings numpy and SQLAlchemy)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'matloop' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
