"""What a report reads of a campaign's history: the parts of the store's read models
(``matloop.store.EvaluationRow`` and ``CycleRow``) it uses, as protocols — the reporting
package does not import the store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class EvaluationLike(Protocol):
    """An evaluation as ``matloop.store.EvaluationRow`` gives it."""

    @property
    def evaluation_id(self) -> int: ...

    @property
    def key(self) -> str: ...

    @property
    def pool_index(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def cycle(self) -> int: ...

    @property
    def finished_at(self) -> datetime | None: ...

    @property
    def values(self) -> Mapping[str, float]: ...


class CycleLike(Protocol):
    """A cycle as ``matloop.store.CycleRow`` gives it."""

    @property
    def number(self) -> int: ...

    @property
    def strategy(self) -> str: ...

    @property
    def hyperparameters(self) -> Mapping[str, Any]: ...
