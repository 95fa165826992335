"""Many operators at once: threads and separate processes on the same cases.

* Workers (processes from :mod:`tests.integration.workers.race` and threads of this process)
  walk the same cases step by step, half of them with the version they read as
  ``expected_version``: each case version has exactly one winner, every win is in the
  database with the hash its worker saw, nothing is written twice, every chain verifies.
* Several sweepers at once: each overdue case is escalated exactly once, none conflicts.
* CLI processes with ``--expected-version``: one wins, the others exit 3 saying the case
  changed and the command can be retried.
* A client killed right after its commit (lost reply) retries with its key: one event.

Each runs on PostgreSQL (the shared engine) and, smaller, on a SQLite file, where a few local
processes must queue rather than fail with "database is locked".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import verify
from tests.builders import app, drive, local
from tests.integration.workers import processes, race
from tests.integration.workers.steps import SWEEP_AT

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180
STEPS = 5  # flag, judge, interview, pledge, rectify: versions 1 → 6


def receive(conn: Connection) -> dict[str, Any]:
    if not conn.poll(TIMEOUT_S):
        pytest.fail("a worker process sent no result")
    result: dict[str, Any] = conn.recv()
    return result


def run_race(
    engine: CaseEngine, url: str, case_ids: list[str], n_processes: int, n_threads: int
) -> list[dict[str, Any]]:
    """Start the processes and threads together on ``case_ids``; return their reports."""
    ctx = processes()
    start = ctx.Event()
    receivers, procs = [], []
    for i in range(n_processes):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=race.advance_process,
            args=(url, case_ids, 100 + i, i % 2 == 0, start, send),
            daemon=True,
        )
        proc.start()
        send.close()
        receivers.append(recv)
        procs.append(proc)

    def thread(i: int) -> dict[str, Any]:
        if not start.wait(TIMEOUT_S):
            raise TimeoutError("no start signal")
        return race.advance_all(engine, case_ids, 200 + i, expected_version=i % 2 == 1) | {
            "error": None
        }

    with ThreadPoolExecutor(n_threads) as pool:
        futures = [pool.submit(thread, i) for i in range(n_threads)]
        start.set()
        results = [receive(r) for r in receivers] + [f.result() for f in futures]
    for proc in procs:
        proc.join(TIMEOUT_S)
    return results


def assert_one_winner_per_version(
    engine: CaseEngine, case_ids: list[str], results: list[dict[str, Any]], *, raced: bool
) -> dict[str, int]:
    """Check the race's outcome; ``raced``: also require that some worker lost a race (on
    SQLite, where writers queue, a lost race is possible but not certain)."""
    assert [r["error"] for r in results if r["error"]] == []
    wins = [tuple(w) for r in results for w in r["wins"]]
    assert sorted((c, s) for c, s, _, _ in wins) == sorted(
        (c, s) for c in case_ids for s in range(2, STEPS + 2)
    ), "a case version had no winner, or two"
    for r in results:
        if r["expected_version"]:
            assert r["refusals"] == 0, "a stale command reached the guards"
            assert all(seq == read + 1 for _, seq, _, read in r["wins"])
    stored = {(e.case_id, e.seq): e.hash for c in case_ids for e in engine.history(c)}
    assert len(stored) == len(case_ids) * (STEPS + 1), "an event was lost or duplicated"
    assert all(stored[(c, s)] == h for c, s, h, _ in wins), "a reply differs from the database"
    for case_id in case_ids:
        view = engine.get(case_id)
        assert (view.state, view.version, view.event_count) == ("rectified", 6, 6)
    report = verify(engine)
    assert report.ok, report.problems
    counts = {
        "workers": len(results),
        "cases": len(case_ids),
        "wins": len(wins),
        "conflicts": sum(r["conflicts"] for r in results),
        "refusals": sum(r["refusals"] for r in results),
    }
    if raced:
        assert counts["conflicts"] + counts["refusals"] > 0, "the workers never raced"
    return counts


def surveyed(engine: CaseEngine, n: int) -> list[str]:
    return [
        engine.survey(app(i, "430100" if i % 2 else "430200"), actor=actor, at=local(2, 20)).id
        for i in range(n)
        for actor in ["cs-cac" if i % 2 else "zz-cac"]
    ]


@pytest.mark.slow
@pytest.mark.postgres
def test_processes_and_threads_race_on_postgres(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    ids = surveyed(engine, 8)
    results = run_race(engine, postgres_url, ids, n_processes=4, n_threads=4)
    print(f"postgresql race: {assert_one_winner_per_version(engine, ids, results, raced=True)}")


@pytest.mark.slow
def test_processes_and_threads_race_on_sqlite(
    make_engine: Callable[[str], CaseEngine], sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    ids = surveyed(engine, 4)
    results = run_race(engine, sqlite_url, ids, n_processes=2, n_threads=2)
    print(f"sqlite race: {assert_one_winner_per_version(engine, ids, results, raced=False)}")


def run_sweepers(url: str, n: int, batch_size: int) -> list[dict[str, Any]]:
    ctx = processes()
    start = ctx.Event()
    receivers, procs = [], []
    for _ in range(n):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=race.sweeper_process, args=(url, SWEEP_AT, batch_size, start, send), daemon=True
        )
        proc.start()
        send.close()
        receivers.append(recv)
        procs.append(proc)
    start.set()
    results = [receive(r) for r in receivers]
    for proc in procs:
        proc.join(TIMEOUT_S)
    return results


def assert_escalated_once(
    engine: CaseEngine, overdue: list[str], others: list[str], results: list[dict[str, Any]]
) -> list[int]:
    assert [r["error"] for r in results if r["error"]] == []
    outcomes = [tuple(o) for r in results for o in r["outcomes"]]
    assert {status for _, status in outcomes} <= {"escalated"}, outcomes
    escalated = Counter(c for c, _ in outcomes)
    assert sorted(escalated) == sorted(overdue)
    assert set(escalated.values()) == {1}, "a case was escalated twice"
    for case_id in overdue:
        events = [e.event for e in engine.history(case_id)]
        assert events.count("escalate") == 1
        assert engine.get(case_id).state == "escalated_for_takedown"
    assert all(engine.get(c).state == "rectified" for c in others)
    assert verify(engine).ok
    return [len(r["outcomes"]) for r in results]


@pytest.mark.slow
@pytest.mark.postgres
def test_several_sweepers_at_once_on_postgres(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    overdue = [drive(engine, "pledged", n=i).id for i in range(40)]
    others = [drive(engine, "rectified", n=40 + i).id for i in range(2)]
    results = run_sweepers(postgres_url, n=4, batch_size=2)
    shares = assert_escalated_once(engine, overdue, others, results)
    print(f"postgresql sweepers: {len(overdue)} overdue cases, escalated per sweeper {shares}")


@pytest.mark.slow
def test_several_sweepers_at_once_on_sqlite(
    make_engine: Callable[[str], CaseEngine], sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    overdue = [drive(engine, "pledged", n=i).id for i in range(8)]
    others = [drive(engine, "rectified", n=8).id]
    results = run_sweepers(sqlite_url, n=3, batch_size=2)
    shares = assert_escalated_once(engine, overdue, others, results)
    print(f"sqlite sweepers: {len(overdue)} overdue cases, escalated per sweeper {shares}")


def cli(db_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "appcase", "--db", db_url, "--actor", "cs-cac", *args]


FLAG = ["--category", "vulgar_pornographic", "--description", "低俗图片"]
FLAG_AT = ["--at", "2018-02-21T10:00+08:00"]


@pytest.mark.slow
def test_cli_processes_deciding_on_the_same_version(
    make_engine: Callable[[str], CaseEngine], db_url: str
) -> None:
    engine = make_engine(db_url)
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPCASE_")}
    procs = [
        subprocess.Popen(
            cli(db_url, "flag", case.id, *FLAG, *FLAG_AT, "--expected-version", "1"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    done = [
        (p.returncode, out, err) for p in procs for out, err in [p.communicate(None, TIMEOUT_S)]
    ]
    assert sorted(code for code, _, _ in done) == [0, 3, 3], done
    for code, _out, err in done:
        assert "Traceback" not in err
        if code == 3:
            assert f"case {case.id} changed since version 1" in err
            assert "nothing was written" in err
            assert "retry" in err
    assert [e.event for e in engine.history(case.id)] == ["survey", "flag"]


@pytest.mark.slow
def test_a_client_killed_after_its_commit_retries_with_its_key(
    make_engine: Callable[[str], CaseEngine], db_url: str
) -> None:
    engine = make_engine(db_url)
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    killed = subprocess.run(
        [sys.executable, "-m", "tests.integration.workers.lost_reply", db_url, case.id, "k-9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [written] = engine.history(case.id)[1:]  # committed, though its client never heard
    assert written.idempotency_key == "k-9"
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPCASE_")}
    retried = subprocess.run(
        cli(db_url, "--json", "flag", case.id, *FLAG, *FLAG_AT, "--idempotency-key", "k-9"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["hash"] == written.hash
    assert [e.hash for e in engine.history(case.id)][1:] == [written.hash]
