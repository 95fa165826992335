"""Races, each played out deterministically: a read made before a concurrent writer committed
(a stale lookup, a stale version), a case held by another command, rows claimed by another
sweeper -- and what the engine does about each.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from appcase.cli.exits import exit_code
from appcase.clock import FixedClock
from appcase.errors import ConcurrentModification, GuardRejected, PersistenceError
from appcase.persistence.db import create_db_engine
from appcase.persistence.models import ActorRow, AppRow, CaseRow
from appcase.persistence.repository import Repository, SqlStorage
from appcase.ports import StoredActor
from appcase.workflow.engine import SURVEY_ATTEMPTS, CaseEngine
from appcase.workflow.sweep import sweep
from appcase.workflow.verify import verify
from appcase.workflow.views import CaseView
from tests.builders import app, drive, evidence, local
from tests.dbcheck import db, orm

SWEEP_AT = local(4, 1, 0, 0)


def count(engine: CaseEngine, model: Any) -> int:
    with orm(engine) as repo:
        return int(repo.scalar(select(func.count()).select_from(model)) or 0)


def patch_calls(
    monkeypatch: pytest.MonkeyPatch, method: str, answer: Callable[[int, Any], Any]
) -> list[int]:
    """Replace ``Repository.<method>`` by ``answer(call_number, real_result)``."""
    real = getattr(Repository, method)
    calls = [0]

    def patched(self: Repository, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return answer(calls[0], real(self, *args, **kwargs))

    monkeypatch.setattr(Repository, method, patched)
    return calls


# --- surveys ---------------------------------------------------------------------------------


def test_a_survey_that_lost_the_race_for_a_number_takes_the_next(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    # the count was behind the cases (a stale read): 0001 is taken again, then recounted
    calls = patch_calls(
        monkeypatch, "take_case_number", lambda n, real: real - 1 if n == 1 else real
    )
    case = engine.survey(app(1), actor="cs-cac", at=local(2, 20))
    assert case.id == "HN2018-430100-0002"
    assert calls[0] == 2
    assert count(engine, AppRow) == count(engine, CaseRow) == 2


def test_a_survey_of_an_app_listed_meanwhile_is_refused(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    patch_calls(monkeypatch, "find_app", lambda n, real: None if n == 1 else real)
    with pytest.raises(GuardRejected) as refused:
        engine.survey(app(0), actor="cs-edu", at=local(2, 21))
    assert [r.code for r in refused.value.rejections] == ["not_in_ledger"]
    assert count(engine, AppRow) == count(engine, CaseRow) == 1


def test_a_survey_that_keeps_losing_gives_up_writing_nothing(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    calls = patch_calls(monkeypatch, "take_case_number", lambda n, real: 1)
    with pytest.raises(ConcurrentModification) as lost:
        engine.survey(app(1), actor="cs-cac", at=local(2, 20))
    assert lost.value.case_id == "HN2018-430100-0001"
    assert exit_code(lost.value) == 3
    assert calls[0] == SURVEY_ATTEMPTS
    assert count(engine, AppRow) == count(engine, CaseRow) == 1


def surveys_at_once(n: int, survey: Callable[[int], CaseView]) -> list[CaseView | Exception]:
    gate = threading.Barrier(n)

    def one(i: int) -> CaseView | Exception:
        gate.wait(timeout=30)
        try:
            return survey(i)
        except (GuardRejected, ConcurrentModification) as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_surveys_of_one_app_at_once_make_one_case(engine: CaseEngine) -> None:
    results = surveys_at_once(5, lambda i: engine.survey(app(0), actor="cs-cac", at=local(2, 20)))
    made = [r for r in results if isinstance(r, CaseView)]
    refused = [r for r in results if not isinstance(r, CaseView)]
    assert len(made) == 1
    for exc in refused:
        assert isinstance(exc, ConcurrentModification) or [r.code for r in exc.rejections] == [
            "not_in_ledger"
        ]
    assert count(engine, AppRow) == count(engine, CaseRow) == 1


def test_surveys_of_several_apps_at_once_get_consecutive_numbers(engine: CaseEngine) -> None:
    results = surveys_at_once(6, lambda i: engine.survey(app(i), actor="cs-cac", at=local(2, 20)))
    assert sorted(r.id for r in results if isinstance(r, CaseView)) == [
        f"HN2018-430100-{n:04d}" for n in range(1, 7)
    ]


def test_survey_retries_at_once_return_one_case(engine: CaseEngine) -> None:
    results = surveys_at_once(
        4, lambda i: engine.survey(app(0), actor="cs-cac", at=local(2, 20), idempotency_key="s")
    )
    assert all(isinstance(r, CaseView) for r in results)
    assert len({r.id for r in results if isinstance(r, CaseView)}) == 1
    assert count(engine, CaseRow) == 1


# --- version checks -----------------------------------------------------------------------------


def test_every_case_update_is_version_checked(engine: CaseEngine) -> None:
    """The case UPDATE carries ``WHERE version = <the version read>``: a write that slipped
    in between makes it fail, and the whole command rolls back."""
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))

    def write_after_another_writer() -> None:
        with engine.storage.transaction(case.id) as repo:
            state = repo.case(case.id)
            assert state is not None
            repo.conn.execute(  # another writer's update, behind the command's back
                text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": case.id}
            )
            read = dataclasses.replace(state)
            state.disposition = "takedown"
            repo.save_case(state, read)

    with pytest.raises(ConcurrentModification) as lost:
        write_after_another_writer()
    assert lost.value.case_id == case.id
    assert engine.get(case.id) == case


def test_a_command_whose_case_moved_after_the_read_writes_nothing(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ``fire``: another writer bumps the version right after the engine read the
    case; the event insert already ran when the update finds the version moved, and the
    command still leaves nothing (no event, no evidence, the case as it was)."""
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    real = Repository.case_with_head  # the read of a command, that locks the case

    def read_then_overtaken(self: Repository, case_id: str, **kwargs: Any) -> Any:
        state = real(self, case_id, **kwargs)
        self.conn.execute(
            text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": case_id}
        )
        return state

    monkeypatch.setattr(Repository, "case_with_head", read_then_overtaken)
    with pytest.raises(ConcurrentModification):
        engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
    monkeypatch.undo()
    assert engine.get(case.id) == case
    assert [e.event for e in engine.history(case.id)] == ["survey"]
    assert verify(engine).ok


@pytest.mark.postgres
def test_a_stale_unlocked_write_loses_on_postgres(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    """Two transactions, no row lock: the one that read version 1 and writes after the other
    committed version 2 gets ConcurrentModification."""
    engine = make_engine(postgres_url)
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))

    def write_stale() -> None:
        with engine.storage.transaction(case.id) as repo:
            state = repo.case(case.id)
            assert state is not None
            assert state.version == 1
            engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
            read = dataclasses.replace(state)
            state.disposition = "takedown"
            repo.save_case(state, read)

    with pytest.raises(ConcurrentModification):
        write_stale()
    after = engine.get(case.id)
    assert (after.version, after.state, after.disposition) == (2, "flagged", None)


# --- PostgreSQL row locks ----------------------------------------------------------------------


@contextmanager
def held(url: str, sql: str) -> Iterator[None]:
    """Run ``sql`` in a transaction of another connection and keep it open (locks held)."""
    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute(sql)
        yield
        conn.rollback()


def engine_with(url: str, engine: CaseEngine, lock_timeout_ms: int) -> CaseEngine:
    bind = create_db_engine(url, lock_timeout_ms=lock_timeout_ms)
    return CaseEngine(SqlStorage(bind), engine.campaign, FixedClock(local(4, 30, 12)))


@pytest.mark.postgres
def test_a_case_held_too_long_by_another_command_is_a_conflict(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    impatient = engine_with(postgres_url, engine, lock_timeout_ms=200)
    try:
        with held(postgres_url, f"SELECT 1 FROM cases WHERE id = '{case.id}' FOR UPDATE"):
            with pytest.raises(ConcurrentModification) as lost:
                impatient.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
            assert "can be retried" in lost.value.message
        event = impatient.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
        assert event.seq == 2
    finally:
        impatient.close()


@pytest.mark.postgres
def test_a_sweep_skips_cases_another_sweeper_holds(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    ids = [drive(engine, "pledged", n=i).id for i in range(5)]
    claimed = ids[1:3]
    # were the sweep to wait for the held rows, the lock timeout would fail it
    sweeper = engine_with(postgres_url, engine, lock_timeout_ms=2000)
    try:
        listed = ", ".join(f"'{c}'" for c in claimed)
        with held(postgres_url, f"SELECT 1 FROM cases WHERE id IN ({listed}) FOR UPDATE"):
            first = [(o.case_id, o.status) for o in sweep(sweeper, SWEEP_AT, batch_size=2)]
        assert first == [(c, "escalated") for c in ids if c not in claimed]
        second = [(o.case_id, o.status) for o in sweep(sweeper, SWEEP_AT, batch_size=2)]
        assert second == [(c, "escalated") for c in claimed]
    finally:
        sweeper.close()
    assert all(engine.get(c).state == "escalated_for_takedown" for c in ids)


@pytest.mark.postgres
def test_lock_timeout_is_set_on_every_connection(postgres_url: str) -> None:
    db = create_db_engine(postgres_url, lock_timeout_ms=1234)
    try:
        with db.connect() as conn:
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
    finally:
        db.dispose()


# --- SQLite's one write lock --------------------------------------------------------------------


@contextmanager
def sqlite_writer(url: str) -> Iterator[None]:
    """Another process's write transaction on the SQLite file, held open."""
    conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_readers_do_not_wait_for_a_writer_on_sqlite(sqlite_engine: CaseEngine) -> None:
    """Reads begin deferred and read the last committed state; were they to queue for the
    write lock, they would fail after the busy timeout instead."""
    case = sqlite_engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    with sqlite_writer(str(db(sqlite_engine).url)):
        assert sqlite_engine.get(case.id) == case
        assert [c.id for c in sqlite_engine.list_cases()] == [case.id]
        assert len(sqlite_engine.history(case.id)) == 1
        assert verify(sqlite_engine).ok


@pytest.mark.slow
def test_a_writer_held_up_beyond_the_busy_timeout_is_told_so_on_sqlite(
    sqlite_engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = sqlite_engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    monkeypatch.setattr("appcase.persistence.db.SQLITE_BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr("appcase.persistence.repository.SQLITE_BUSY_TIMEOUT_MS", 200)
    with (
        sqlite_writer(str(db(sqlite_engine).url)),
        pytest.raises(PersistenceError) as busy,
    ):
        sqlite_engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
    assert "stayed locked by another process for more than 0.2 s" in busy.value.message
    assert exit_code(busy.value) == 3  # retryable: nothing was written
    assert sqlite_engine.get(case.id) == case


# --- savepoints ----------------------------------------------------------------------------------


def actor(actor_id: str) -> StoredActor:
    return StoredActor(id=actor_id, role="cac_prefecture", jurisdiction="430100")


def test_a_failed_savepoint_leaves_no_write_of_its_block(engine: CaseEngine) -> None:
    """What a savepoint's block wrote is gone when the block raises; what came before it
    and after it is committed."""
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    actors_before = count(engine, ActorRow)
    with engine.storage.transaction() as repo:
        state = repo.case(case.id)
        assert state is not None

        def fails_in_a_savepoint() -> None:
            with repo.savepoint():
                read = dataclasses.replace(state)
                state.disposition = "takedown"
                repo.save_case(state, read)
                repo.add_actor(actor("ghost"), local(2, 20))
                raise KeyError("the block fails")

        with pytest.raises(KeyError):
            fails_in_a_savepoint()
        repo.add_actor(actor("kept"), local(2, 20))
    assert engine.get(case.id) == case
    with engine.storage.reading() as repo:
        assert repo.actor("ghost") is None
        assert repo.actor("kept") is not None
    assert count(engine, ActorRow) == actors_before + 1


def test_a_database_error_in_a_savepoint_undoes_only_the_block(engine: CaseEngine) -> None:
    """A write the database refuses inside the block (here a duplicate key) undoes the block
    alone, as a :class:`PersistenceError` (never SQLAlchemy's own error): what came before
    and after it is committed."""
    with engine.storage.transaction() as repo:
        repo.add_actor(actor("before"), local(2, 20))

        def duplicate_in_a_savepoint() -> None:
            with repo.savepoint():
                repo.add_actor(actor("inside"), local(2, 20))
                repo.add_actor(actor("before"), local(2, 20))  # a duplicate key

        with pytest.raises(PersistenceError):
            duplicate_in_a_savepoint()
        repo.add_actor(actor("after"), local(2, 20))
    with engine.storage.reading() as repo:
        assert repo.actor("before") is not None
        assert repo.actor("inside") is None
        assert repo.actor("after") is not None
