"""The ``[campaign]`` section: name, seed, database, prior measurements and the related
campaigns whose measurements the model learns from (transfer)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Self

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from matloop.campaigns.sections import Section
from matloop.campaigns.sections import resolve as _resolve

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
TABLE_SUFFIXES = (".csv",)  # a related ``path`` with another suffix is an SQLite database


def refuse_in_memory(database: str) -> None:
    """Raise ``ValueError`` for an SQLite database that lives in memory (and so keeps
    nothing after the run: no resume, no status, no export)."""
    if re.fullmatch(r"\s*(sqlite(\+\w+)?://(/(:memory:)?)?(\?.*)?|:memory:)\s*", database):
        raise ValueError(f"database = {database!r} is in memory and would keep nothing; "
                         "give a file path or a server URL")


class Related(Section):
    """Measurements of a related campaign (an earlier matloop database, or a CSV table)
    that the model learns from as another task, beside the campaign's own: a learnt
    correlation says how far they carry over, so a shifted or unrelated campaign is
    discounted rather than trusted. Its candidates map into this campaign's features by
    their composition (formulas, any elements) or by this space's input columns."""

    name: str = Field(pattern=NAME_PATTERN, description="the related campaign's name here "
                      "(status, report)")
    path: Path | None = Field(default=None, description="a CSV table, or an SQLite "
                              "database file of matloop")
    database: str | None = Field(default=None, description="or a database URL "
                                 "(postgresql://...)")
    campaign: str | None = Field(default=None, description="databases: the campaign's name "
                                 "in it; default: its only campaign")
    properties: dict[str, str] = Field(default_factory=dict, description="target property "
                                       "-> its name there, where they differ (e.g. "
                                       "shear_modulus = \"bulk_modulus\")")
    composition: str = Field(default="formula", description="CSV: the column of chemical "
                             "formulas (composition spaces)")

    _resolve_path = field_validator("path")(_resolve)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.path is None) == (self.database is None):
            raise ValueError("give one of path (a CSV table or an SQLite file) and database "
                             "(a URL)")
        if self.database is not None:
            refuse_in_memory(self.database)
        return self

    @property
    def is_table(self) -> bool:
        return self.path is not None and self.path.suffix.lower() in TABLE_SUFFIXES

    @property
    def url(self) -> str:
        """The database URL of a related matloop database."""
        return self.database or f"sqlite:///{self.path}"


class CampaignSection(Section):
    name: str = Field(pattern=NAME_PATTERN, description="letters, digits, '_', '-', '.'")
    seed: int = Field(default=0, ge=0, lt=2**32, description="seed of the initial design "
                      "and the models (0 to 2^32 - 1)")
    database: str | None = Field(default=None, description="an SQLite path or a database "
                                 "URL (postgresql://...); default <name>.db beside the "
                                 "file")
    description: str = Field(default="", description="free text, shown in reports")
    prior: Path | None = Field(default=None, description="measurements made before the "
                               "campaign (an import file), imported before the first cycle")
    related: list[Related] = Field(default_factory=list, description="[[campaign.related]]: "
                                   "related campaigns the model learns from (transfer)")

    _resolve_prior = field_validator("prior")(_resolve)

    @field_validator("database")
    @classmethod
    def _kept_database(cls, value: str | None) -> str | None:
        if value is not None:
            refuse_in_memory(value)
            authority = value.partition("://")[2].partition("/")[0]
            if authority.count("@") > 1:
                raise ValueError("write an '@' inside the user name or password of the "
                                 "database URL as %40")
        return value

    @field_validator("related")
    @classmethod
    def _unique_names(cls, value: list[Related]) -> list[Related]:
        names = [r.name for r in value]
        if len(set(names)) < len(names):
            raise ValueError(f"each related campaign needs its own name (got {names})")
        return value

    @model_serializer(mode="wrap")
    def _omit_no_related(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``related`` out when there are none (as campaigns stored before it)."""
        data: dict[str, Any] = handler(self)
        if not self.related:
            data.pop("related", None)
        return data
