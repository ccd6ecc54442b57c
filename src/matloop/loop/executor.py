"""Executors: where oracle calls run. A local process pool by default.

The local pool is Pebble's ``ProcessPool``: a task that exceeds its timeout has its worker
process killed and replaced, and a worker that dies (segfault, ``os._exit``, out-of-memory
kill) fails only the task it was running; the other workers and their evaluations carry
on. Workers are started with ``spawn`` so that they never inherit torch's threads or an
open database connection from the loop process, which alone writes the database.
"""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING

from matloop.campaigns.schema import ExecutorSection

if TYPE_CHECKING:
    from pebble import ProcessPool


def make_executor(section: ExecutorSection) -> ProcessPool:
    """A process pool for the ``[executor]`` section (``schedule(fn, args, timeout=s)``)."""
    from pebble import ProcessPool

    return ProcessPool(max_workers=section.workers,
                       context=multiprocessing.get_context("spawn"))
