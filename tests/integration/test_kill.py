"""SIGKILL at random points during surveys, fires and sweeps leaves every case consistent.

A worker process (see :mod:`tests.integration.workers.killable`) surveys, fires and sweeps
in a loop; the test kills it with SIGKILL 20-200 ms after it is ready, many times over, each
new worker first re-sending the previous one's unanswered command with its idempotency key.
Afterwards every case's chain verifies and its stored state equals the replay of its events,
every reply a worker saw is in the database, no command was applied twice, and no survey left
a ledger entry without its case.

``APPCASE_KILL_LOOPS`` sets the number of kills (default 50 on PostgreSQL; SQLite runs a
fifth of it, at least 10).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from appcase.persistence.models import AppRow, CaseRow, EventRow
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import verify
from tests.dbcheck import orm
from tests.integration.workers import killable, processes

KILL_LOOPS = int(os.environ.get("APPCASE_KILL_LOOPS", "50"))
READY_TIMEOUT_S = 60


def kill_loop(url: str, journal: Path, loops: int, seed: int) -> dict[str, int]:
    """Start a worker, let it work 20-200 ms, SIGKILL it; ``loops`` times.

    Returns:
        ``{"kills", "in_command"}``: kills made, and kills that landed while a command
        (survey, fire or sweep) was under way.
    """
    ctx = processes()
    counters = ctx.Array("q", 2, lock=False)
    rng = random.Random(seed)
    in_command = 0
    for i in range(loops):
        counters[killable.STARTED] = counters[killable.FINISHED] = 0
        ready = ctx.Event()
        proc = ctx.Process(
            target=killable.run, args=(url, journal, seed + i, ready, counters), daemon=True
        )
        proc.start()
        if not ready.wait(READY_TIMEOUT_S):
            proc.kill()
            proc.join()
            pytest.fail(f"worker {i} never became ready: {_errors(journal)}")
        time.sleep(rng.uniform(0.02, 0.2))
        proc.kill()
        proc.join(READY_TIMEOUT_S)
        assert proc.exitcode == -signal.SIGKILL, f"worker {i} died by itself: {_errors(journal)}"
        if counters[killable.STARTED] != counters[killable.FINISHED]:
            in_command += 1
    return {"kills": loops, "in_command": in_command}


def _errors(journal: Path) -> list[Any]:
    return [e["error"] for e in killable.read(journal) if "error" in e]


def assert_consistent(engine: CaseEngine, journal: Path) -> dict[str, int]:
    """Every chain verifies and replays to the stored state; every reply seen is stored;
    nothing was applied twice; every ledger entry has its case.

    Returns:
        Counts for the report: cases, events, commands done, lost replies recovered, sweeps.
    """
    report = verify(engine)
    assert report.ok, report.problems
    entries = killable.read(journal)
    assert not _errors(journal)
    done = [e for e in entries if "done" in e]
    intents = {e["intent"] for e in entries if "intent" in e}
    assert len({e["done"] for e in done}) == len(done), "a command was marked done twice"
    with orm(engine) as repo:
        s = repo
        stored = {
            (c, n): h
            for c, n, h in s.execute(select(EventRow.case_id, EventRow.seq, EventRow.hash))
        }
        keys = list(
            s.scalars(select(EventRow.idempotency_key).where(EventRow.idempotency_key.is_not(None)))
        )
        versions = s.execute(select(CaseRow.id, CaseRow.version, CaseRow.event_count)).all()
        apps = s.scalar(select(func.count()).select_from(AppRow))
        cases = s.scalar(select(func.count()).select_from(CaseRow))
    for e in done:  # no lost event: every reply a worker read is in the database
        assert stored.get((e["case"], e["seq"])) == e["hash"], e
    assert set(keys) <= intents, "an event carries a key no worker sent"
    assert len(keys) == len(set(keys)) == len(done), "a command was applied twice, or lost"
    assert all(v == n for _, v, n in versions), "a case's version and event count differ"
    assert apps == cases, "a survey left a ledger entry without its case"
    recovered = Counter(e.get("recovered") for e in done)
    return {
        "cases": report.cases,
        "events": report.events,
        "commands": len(done),
        "lost_replies": recovered["lost_reply"],
        "resent_not_committed": recovered["not_committed"],
        "sweeps": sum(1 for e in entries if "sweep" in e),
    }


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_during_fires_and_sweeps_on_postgres(
    make_engine: Callable[[str], CaseEngine], postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url)
    journal = tmp_path / "journal.jsonl"
    kills = kill_loop(postgres_url, journal, max(KILL_LOOPS, 1), seed=50)
    killable.recover(engine, journal)  # the last worker's unanswered command
    counts = assert_consistent(engine, journal)
    print(f"postgresql kill loop: {kills | counts}")
    assert counts["commands"] > kills["kills"], "the workers did too little to test anything"
    assert kills["in_command"] > 0, "no kill landed inside a command"


@pytest.mark.slow
def test_sigkill_during_fires_and_sweeps_on_sqlite(
    make_engine: Callable[[str], CaseEngine], sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    journal = tmp_path / "journal.jsonl"
    kills = kill_loop(sqlite_url, journal, max(KILL_LOOPS // 5, 10), seed=10)
    killable.recover(engine, journal)
    counts = assert_consistent(engine, journal)
    print(f"sqlite kill loop: {kills | counts}")
    assert counts["commands"] > kills["kills"]
    assert kills["in_command"] > 0
