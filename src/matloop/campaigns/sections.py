"""What every campaign-file section shares: strict, frozen pydantic models whose relative
paths resolve against the campaign file's folder (validation context ``{"base": Path}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    if path.is_absolute() or base is None:
        return path
    return (Path(base) / path).resolve()


def one_or_more(value: Any) -> Any:
    """A field of paths given as one path or a list: always the list (before validation)."""
    return [value] if isinstance(value, str | Path) else value


def resolve_all(paths: list[Path] | None, info: ValidationInfo) -> list[Path] | None:
    """``resolve`` for each of a field's paths."""
    return None if paths is None else [resolve(path, info) for path in paths]


FailureReason = Literal["error", "timeout", "crashed", "invalid", "not_converged",
                        "infeasible"]
