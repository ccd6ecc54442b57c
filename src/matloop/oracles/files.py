"""What oracles write to disk: folder names made from candidate keys, values made
JSON-able, and JSON files that several worker processes read and rewrite (a reader sees
the old or the new file, never a half-written one)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and ``os.replace``: a reader
    sees the old or the new file, never a half-written one. The file keeps its
    permissions (a new one is readable by all, as an ordinary file: caches are shared)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)  # mkstemp makes it private to its owner
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def safe_name(key: str, limit: int = 80) -> str:
    """A folder name for ``key``: unsafe characters become ``_``; long or altered keys get
    a short digest appended, so distinct keys never share a folder."""
    cleaned = _UNSAFE.sub("_", key).strip("._") or "candidate"
    if cleaned == key and len(key) <= limit:
        return key
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=4).hexdigest()
    return f"{cleaned[:limit]}-{digest}"


def plain(value: Any) -> Any:
    from matloop.oracles.calculators import _jsonable

    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    return _jsonable(value)
