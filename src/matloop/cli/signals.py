"""Stopping a command: SIGTERM stops it as Ctrl-C does (``KeyboardInterrupt``), and
neither signal may land inside the import of the model libraries — a half-imported
``torch`` cannot be imported again, so the interrupted command would crash while it
records what it finished instead of exiting 130."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STOPPING = (signal.SIGINT, signal.SIGTERM)


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises ``KeyboardInterrupt`` in the main thread, as SIGINT does."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive inside the block are noted, not acted on; when the
    block ends the previous handlers come back and a noted signal raises
    ``KeyboardInterrupt``. Only for short blocks: the user waits for the end of it."""
    noted: list[int] = []
    previous = {number: signal.signal(number, lambda signum, frame: noted.append(signum))
                for number in STOPPING}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if noted:
        raise KeyboardInterrupt


def load_model_libraries() -> None:
    """Import torch, GPyTorch and BoTorch (1–3 s) with stopping signals held, so that a
    stop during the import is acted on once they are whole."""
    with signals_held():
        import botorch  # noqa: F401  (imports torch, gpytorch and linear_operator)
