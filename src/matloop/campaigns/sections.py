"""What every campaign-file section shares: strict, frozen pydantic models whose relative
paths resolve against the campaign file's folder (validation context ``{"base": Path}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    if path.is_absolute() or base is None:
        return path
    return (Path(base) / path).resolve()


FailureReason = Literal["error", "timeout", "crashed", "invalid", "not_converged",
                        "infeasible"]
