"""Executors: where oracle calls run. A local process pool by default.

Workers are started with ``spawn`` so that they never inherit torch's threads or an
open database connection from the loop process, which alone writes the database.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor

from matloop.campaigns.schema import ExecutorSection


def make_executor(section: ExecutorSection) -> Executor:
    """A ``concurrent.futures.Executor`` for the ``[executor]`` section."""
    return ProcessPoolExecutor(max_workers=section.workers,
                               mp_context=multiprocessing.get_context("spawn"))
