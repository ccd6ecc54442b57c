"""The public ``Campaign``: the validated campaign file, made from a file or from Python.

It is the campaign schema (``matloop.campaigns.schema.Campaign``) with three doors:
``from_file``, ``from_dict`` (with a pandas DataFrame as the candidate pool) and
``session``, which opens it against its database.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matloop.campaigns.schema import Campaign as CampaignSchema

if TYPE_CHECKING:
    import pandas as pd

    from matloop.loop.session import Session


class Campaign(CampaignSchema):
    """A validated, frozen campaign: space, targets, oracle, surrogate, executor, loop."""

    @classmethod
    def from_file(cls, path: str | Path) -> Campaign:
        """Read and validate a TOML or YAML campaign file; ``ConfigError`` names the
        field and line of any problem."""
        from matloop.campaigns.loader import load

        return load(path, model=cls)  # type: ignore[return-value]

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], pool: pd.DataFrame | None = None,
                  base_dir: str | Path | None = None) -> Campaign:
        """Validate ``config`` (the campaign file's sections as a dict); ``pool``, a
        DataFrame, is the table of candidates of a ``{"kind": "table"}`` space (give its
        ``inputs`` and/or ``categorical`` or its ``composition`` columns, not its
        ``path``). Relative paths and the default database are taken from ``base_dir``
        (default: the current folder).
        ``ConfigError`` names the field of any problem."""
        from matloop.campaigns.loader import validate

        base = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
        return validate(dict(config), base, model=cls, pool=pool)  # type: ignore[return-value]

    def session(self, db: str | Path | None = None) -> Session:
        """Open the campaign (``Session``); ``db``, a path or SQLAlchemy URL, replaces
        its database (default: ``<name>.db`` beside the campaign file)."""
        from matloop.loop.session import Session

        return Session(self, db)
