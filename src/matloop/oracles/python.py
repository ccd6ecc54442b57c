"""Python oracle: a user function ``module:callable`` returning ``{property: value}``.

The module is looked up in the campaign file's folder first, then on ``sys.path``. The
function gets the candidate's inputs as keyword arguments (a categorical one as its
option's name), or ``composition=`` a pymatgen ``Composition`` for composition spaces.
An exception marks the evaluation failed (``matloop.errors.EvaluationFailure`` carries
its own reason).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matloop.errors import ConfigError
from matloop.oracles.function import call
from matloop.protocols import Candidate, Outcome


@dataclass(frozen=True)
class PythonOracle:
    """Calls ``function`` (``"module:callable"``) found from ``base_dir``."""

    function: str
    base_dir: Path
    properties: tuple[str, ...]

    def evaluate(self, candidate: Candidate) -> Outcome:
        return call(resolve(self.function, self.base_dir), candidate,
                    {"oracle": "python", "function": self.function})

    def check(self) -> None:
        """Raise ``ConfigError`` now if the function cannot be found."""
        resolve(self.function, self.base_dir)


def resolve(spec: str, base_dir: Path) -> Callable[..., Any]:
    """``"module:callable"`` -> the callable; a ``module.py`` in ``base_dir`` wins."""
    module_name, _, attribute = spec.partition(":")
    local = base_dir / (module_name.replace(".", "/") + ".py")
    try:
        if local.is_file():
            # one module per file version, so an edited or different file is reloaded
            version = f"{local.resolve()}:{local.stat().st_mtime_ns}".encode()
            name = f"matloop_user.{module_name}_{zlib.crc32(version):08x}"
            module = sys.modules.get(name)
            if module is None:
                loader_spec = importlib.util.spec_from_file_location(name, local)
                assert loader_spec is not None and loader_spec.loader is not None
                module = importlib.util.module_from_spec(loader_spec)
                loader_spec.loader.exec_module(module)
                sys.modules[name] = module
        else:
            module = importlib.import_module(module_name)
    except Exception as exc:  # a user module may fail in any way while importing
        raise ConfigError(f"oracle.function: cannot import {module_name!r} (looked in "
                          f"{base_dir} and on sys.path): {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(f"oracle.function: {module_name!r} has no callable {attribute!r}")
    return function
