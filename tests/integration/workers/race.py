"""Workers that race each other: advancing the same cases, sweeping at the same time.

Each worker reports what it saw (its wins, its lost races, its refusals and any unexpected
error) through a pipe; the test compares that with what the database holds.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as StartGun
from typing import Any

from appcase.errors import ConcurrentModification, GuardRejected
from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import sweep
from tests.integration.workers import open_worker_engine
from tests.integration.workers.steps import next_step

START_TIMEOUT_S = 60


def advance_all(
    engine: CaseEngine, case_ids: Sequence[str], seed: int, *, expected_version: bool
) -> dict[str, Any]:
    """Move every case to its final state, one step at a time, against other workers.

    Each round reads a case, picks its next step and fires it -- with the version it read
    as ``expected_version`` when asked, else on whatever the case is when the command runs.

    Returns:
        ``{"expected_version": bool, "wins": [[case_id, seq, hash, version_read], ...],
        "conflicts": n, "refusals": n, "refusal_codes": [...]}``.
    """
    rng = random.Random(seed)
    pending = list(case_ids)
    wins: list[list[Any]] = []
    conflicts = refusals = 0
    codes: set[str] = set()
    while pending:
        rng.shuffle(pending)
        for case_id in list(pending):
            view = engine.get(case_id)
            step = next_step(view)
            if step is None:
                pending.remove(case_id)
                continue
            try:
                ev = step.fire(
                    engine, case_id, expected_version=view.version if expected_version else None
                )
            except ConcurrentModification:
                conflicts += 1
            except GuardRejected as exc:
                refusals += 1
                codes.update(r.code for r in exc.rejections)
            else:
                wins.append([case_id, ev.seq, ev.hash, view.version])
    return {
        "expected_version": expected_version,
        "wins": wins,
        "conflicts": conflicts,
        "refusals": refusals,
        "refusal_codes": sorted(codes),
    }


def advance_process(
    url: str,
    case_ids: Sequence[str],
    seed: int,
    expected_version: bool,
    start: StartGun,
    out: Connection,
) -> None:
    """Process entry point: :func:`advance_all` on an own engine once ``start`` is set."""
    result: dict[str, Any] = {"error": None}
    try:
        engine = open_worker_engine(url)
        try:
            if not start.wait(START_TIMEOUT_S):
                raise TimeoutError("the start signal never came")
            result |= advance_all(engine, case_ids, seed, expected_version=expected_version)
        finally:
            engine.close()
    except BaseException:
        result["error"] = traceback.format_exc()
    out.send(result)
    out.close()


def sweeper_process(
    url: str, at: datetime, batch_size: int, start: StartGun, out: Connection
) -> None:
    """Process entry point: one sweep at ``at`` once ``start`` is set; sends
    ``{"outcomes": [[case_id, status], ...], "error": traceback or None}``."""
    result: dict[str, Any] = {"outcomes": [], "error": None}
    try:
        engine = open_worker_engine(url)
        try:
            if not start.wait(START_TIMEOUT_S):
                raise TimeoutError("the start signal never came")
            result["outcomes"] = [
                [o.case_id, o.status] for o in sweep(engine, at, batch_size=batch_size)
            ]
        finally:
            engine.close()
    except BaseException:
        result["error"] = traceback.format_exc()
    out.send(result)
    out.close()
