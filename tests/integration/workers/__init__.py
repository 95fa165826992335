"""Helper processes for the concurrency and crash tests.

The workers run in separate operating-system processes, each with its own database
connections, exactly as several CLI processes or embedding services would. They start from a
``forkserver`` that has already imported appcase, so that a process is ready in milliseconds
(the kill loop starts one per kill); :func:`processes` returns that context.
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from multiprocessing.context import ForkServerContext

from appcase.bootstrap import open_engine
from appcase.clock import FixedClock
from appcase.workflow.engine import CaseEngine
from tests.builders import SHANGHAI

NOW = datetime(2018, 4, 30, 12, 0, tzinfo=SHANGHAI)
"""The workers' "now": the same instant as the ``clock`` fixture (after the campaign)."""

PRELOAD = ["__main__", "tests.integration.workers.warm"]


def processes() -> ForkServerContext:
    """The multiprocessing context the tests start workers from (forkserver, preloaded)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def open_worker_engine(url: str) -> CaseEngine:
    """A worker's own engine (own connections) on an initialised database, clock at NOW."""
    return open_engine(url, "hunan-2018", FixedClock(NOW))
