"""Embedding: appcase inside the caller's transaction, listeners, the event feed, a shared
database -- on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from appcase.bootstrap import attach, init_database
from appcase.errors import GuardRejected, ListenerVetoed
from appcase.persistence.db import VERSION_TABLE
from appcase.states import Event, State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.feed import cloudevent, feed
from appcase.workflow.hotline import report_hotline
from appcase.workflow.listeners import Transition
from appcase.workflow.sweep import sweep
from appcase.workflow.verify import verify
from tests.builders import advance, app, drive, evidence, local, register_actors, unique_app
from tests.dbcheck import db

TICKETS = "CREATE TABLE tickets (note VARCHAR(100), at_ms BIGINT)"


def _tables(engine: CaseEngine) -> dict[str, int]:
    """Row counts of appcase's tables (a command that writes nothing leaves them equal)."""
    names = ("apps", "cases", "events", "evidence", "findings", "reporters")
    with db(engine).connect() as conn:
        return {n: int(conn.execute(text(f"SELECT count(*) FROM {n}")).scalar_one()) for n in names}


def _tickets(engine: CaseEngine) -> list[str]:
    with db(engine).connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT note FROM tickets ORDER BY at_ms"))]


@pytest.fixture
def own(engine: CaseEngine) -> CaseEngine:
    """An engine of its own, with the caller's ``tickets`` table beside appcase's."""
    with db(engine).begin() as conn:
        conn.execute(text(TICKETS))
    return engine


# --- the caller's transaction ---------------------------------------------------------------


def test_the_callers_row_and_a_fire_commit_together(own: CaseEngine) -> None:
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    with db(own).connect() as conn:
        conn.execute(text("INSERT INTO tickets (note, at_ms) VALUES ('hotline call 1', 1)"))
        inside = attach(conn, clock=own.clock)
        inside.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
        assert own.get(case.id).state == "surveyed"  # not committed yet: others don't see it
        conn.commit()
    assert own.get(case.id).state == "flagged"
    assert _tickets(own) == ["hotline call 1"]


def test_a_rollback_of_the_caller_leaves_neither(own: CaseEngine) -> None:
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    before = _tables(own)
    with db(own).connect() as conn:
        conn.execute(text("INSERT INTO tickets (note, at_ms) VALUES ('never', 2)"))
        inside = attach(conn, clock=own.clock)
        inside.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
        conn.rollback()
    assert own.get(case.id).state == "surveyed"
    assert _tables(own) == before
    assert _tickets(own) == []


def test_a_refused_command_leaves_the_callers_transaction_usable(own: CaseEngine) -> None:
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    before = _tables(own)
    with db(own).connect() as conn:
        conn.execute(text("INSERT INTO tickets (note, at_ms) VALUES ('before', 3)"))
        inside = attach(conn, clock=own.clock)
        with pytest.raises(GuardRejected):  # judging a surveyed case: wrong state and more
            inside.fire(case.id, Event.JUDGE, actor="cs-cac", payload={}, at=local(2, 21))
        conn.execute(text("INSERT INTO tickets (note, at_ms) VALUES ('after', 4)"))
        conn.commit()
    assert _tables(own) == before
    assert _tickets(own) == ["before", "after"]


def test_a_session_commits_its_rows_and_appcase_s_together(own: CaseEngine) -> None:
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    with Session(db(own)) as session:
        session.execute(text("INSERT INTO tickets (note, at_ms) VALUES ('from a session', 5)"))
        inside = attach(session, clock=own.clock)
        with pytest.raises(GuardRejected):
            inside.fire(case.id, Event.JUDGE, actor="cs-cac", payload={}, at=local(2, 21))
        inside.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
        session.commit()
    assert own.get(case.id).state == "flagged"
    assert _tickets(own) == ["from a session"]


def test_a_plain_sqlite_engine_of_the_callers_rolls_appcase_back_too(tmp_path: Path) -> None:
    """A caller's own SQLite engine, without appcase's connection settings: an appcase
    command as the first statement of the caller's transaction is still undone by the
    caller's rollback (pysqlite begins no transaction before a SAVEPOINT by itself)."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    setup = init_database(url, "hunan-2018", None)
    register_actors(setup)
    case = setup.survey(app(0), actor="cs-cac", at=local(2, 20))
    setup.close()
    plain = create_engine(url)
    try:
        with plain.connect() as conn:
            inside = attach(conn)
            inside.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
            conn.rollback()
        with closing(sqlite3.connect(tmp_path / "shared.sqlite")) as check:
            assert check.execute("SELECT state FROM cases").fetchall() == [("surveyed",)]
    finally:
        plain.dispose()


# --- listeners ------------------------------------------------------------------------------


def test_after_commit_listeners_hear_only_what_committed(own: CaseEngine) -> None:
    heard: list[Transition] = []
    own.listeners.add(heard.append)
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    assert [(t.event, t.to_state) for t in heard] == [(Event.SURVEY, State.SURVEYED)]
    with pytest.raises(GuardRejected):
        own.fire(case.id, Event.JUDGE, actor="cs-cac", payload={}, at=local(2, 21))
    assert len(heard) == 1  # a refused command is never heard
    with db(own).connect() as conn:
        inside = attach(conn, clock=own.clock)
        inside.listeners.add(heard.append)
        inside.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
        assert len(heard) == 1  # not before the caller commits
        conn.rollback()
    assert len(heard) == 1  # and never for a rolled-back transaction
    with db(own).connect() as conn:
        inside = attach(conn, clock=own.clock)
        inside.listeners.add(heard.append)
        event = inside.fire(
            case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21)
        )
        conn.commit()
    assert [t.hash for t in heard[1:]] == [event.hash]
    assert heard[1].from_state is State.SURVEYED
    assert heard[1].to_state is State.FLAGGED
    assert heard[1].position > heard[0].position


def test_an_in_transaction_listener_vetoes_and_nothing_is_written(own: CaseEngine) -> None:
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    before = _tables(own)
    heard: list[Transition] = []
    own.listeners.add(heard.append)

    def veto(t: Transition) -> None:
        raise RuntimeError(f"the document system refuses {t.event}")

    remove = own.listeners.add(veto, kind="transaction", events=[Event.FLAG])
    with pytest.raises(ListenerVetoed) as vetoed:
        own.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
    assert isinstance(vetoed.value.cause, RuntimeError)
    assert _tables(own) == before
    assert own.get(case.id).state == "surveyed"
    assert heard == []  # the after-commit listener never heard the vetoed command
    remove()
    own.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
    assert [t.event for t in heard] == [Event.FLAG]


def test_a_veto_inside_the_callers_transaction_leaves_it_usable(own: CaseEngine) -> None:
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    before = _tables(own)
    with db(own).connect() as conn:
        conn.execute(text("INSERT INTO tickets (note, at_ms) VALUES ('kept', 6)"))
        inside = attach(conn, clock=own.clock)
        inside.listeners.add(lambda t: 1 / 0, kind="transaction")
        with pytest.raises(ListenerVetoed):
            inside.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
        conn.commit()
    assert _tables(own) == before
    assert _tickets(own) == ["kept"]


def test_a_failing_after_commit_listener_never_hides_the_commit(own: CaseEngine) -> None:
    own.listeners.add(lambda t: 1 / 0)
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    with capture_logs() as logs:
        view = own.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
    assert own.get(case.id).event_count == view.seq == 2
    [failed] = [e for e in logs if e["event"] == "listener_failed"]
    assert failed["case_id"] == case.id
    assert failed["error"].startswith("ZeroDivisionError")


def test_the_sweep_is_heard_and_a_veto_fails_only_its_case(own: CaseEngine) -> None:

    first = drive(own, "pledged", n=1)
    second = drive(own, "pledged", n=2)
    heard: list[Transition] = []
    own.listeners.add(heard.append, events=[Event.ESCALATE])

    def veto_second(t: Transition) -> None:
        if t.case_id == second.id:
            raise ValueError("held back")

    own.listeners.add(veto_second, kind="transaction")
    outcomes = {o.case_id: o.status for o in sweep(own, local(3, 29, 0))}
    assert outcomes == {first.id: "escalated", second.id: "failed"}
    assert [(t.case_id, t.actor) for t in heard] == [(first.id, "system")]
    assert own.get(second.id).state == "pledged"


# --- the feed ---------------------------------------------------------------------------------


def test_the_feed_returns_every_event_by_position(own: CaseEngine) -> None:
    drive(own, "pledged", n=1)
    drive(own, "taken_down", n=2)
    everything = feed(own, 0, 1000)
    positions = [t.position for t in everything]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert len(everything) == sum(c.event_count for c in own.list_cases())
    page, rest = feed(own, 0, 3), feed(own, positions[2], 1000)
    assert page + rest == everything
    assert feed(own, positions[-1], 10) == []
    entry = cloudevent(everything[0], own.campaign.id)
    assert entry["specversion"] == "1.0"
    assert entry["subject"] == everything[0].case_id
    assert entry["type"] == "org.appcase.case.survey"
    assert entry["id"] == str(positions[0])


def test_reporters_never_reach_the_feed_or_a_listener(own: CaseEngine) -> None:
    marker_name, marker_contact = "举报人MARKER-feed-7f3", "MARKER-13700000000"
    heard: list[Transition] = []
    own.listeners.add(heard.append)
    own.listeners.add(heard.append, kind="transaction")
    case = own.survey(app(0), actor="cs-cac", at=local(2, 20))
    report_hotline(
        own,
        case.id,
        {
            "harm_category": "vulgar_pornographic",
            "description": "举报内容",
            "reporter": {"name": marker_name, "contact": marker_contact},
        },
        actor="cs-cac",
        at=local(2, 21),
    )
    seen = repr(heard) + repr([cloudevent(t, own.campaign.id) for t in feed(own, 0, 100)])
    assert len(heard) == 4
    assert marker_name not in seen
    assert marker_contact not in seen


@pytest.mark.postgres
def test_a_reader_following_the_feed_never_skips_an_event(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    """Writers commit in an order unlike the order they got their ids in (each one sleeps a
    random while inside its transaction, after its event is written) while a reader follows
    the feed: the reader sees every event exactly once and its positions only grow."""
    engine = make_engine(postgres_url)
    cases = [engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20)).id for n in range(8)]
    start = feed(engine, 0, 1000)[-1].position
    rng = random.Random(20181)
    engine.listeners.add(lambda t: time.sleep(rng.random() / 50), kind="transaction")
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def writer(case_id: str) -> None:
        try:
            engine.fire(case_id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
            for _ in range(4):
                engine.fire(
                    case_id, Event.ADD_EVIDENCE, actor="cs-cac", payload=evidence(), at=local(2, 22)
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    def reader() -> None:
        after = start
        while True:
            finished = done.is_set()
            for t in feed(engine, after, 50):
                seen.append(t.position)
                after = t.position
            if finished:
                return
            time.sleep(0.002)

    threads = [threading.Thread(target=writer, args=(c,)) for c in cases]
    follower = threading.Thread(target=reader)
    follower.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    follower.join()
    assert errors == []
    committed = [t.position for t in feed(engine, start, 10_000)]
    assert len(committed) == 8 * 5
    assert seen == committed  # every event once, in position order, none skipped


# --- a database shared with another application ---------------------------------------------


def _other_application(bind: Engine) -> None:
    with bind.begin() as conn:
        conn.execute(text("CREATE TABLE orders (id INTEGER NOT NULL, item VARCHAR(40))"))
        conn.execute(text("INSERT INTO orders (id, item) VALUES (1, 'paper'), (2, 'ink')"))
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('9f2c1e7a0b3d')"))


def _other_rows(bind: Engine) -> tuple[list[Any], list[Any]]:
    with bind.connect() as conn:
        orders = list(conn.execute(text("SELECT id, item FROM orders ORDER BY id")))
        versions = list(conn.execute(text("SELECT version_num FROM alembic_version")))
    return [tuple(r) for r in orders], [tuple(r) for r in versions]


def test_migrations_leave_another_applications_tables_and_history_alone(db_url: str) -> None:
    other = create_engine(db_url)
    try:
        _other_application(other)
        before = _other_rows(other)
        engine = init_database(db_url, "hunan-2018", None)
        try:
            register_actors(engine)
            engine.survey(app(0), actor="cs-cac", at=local(2, 20))
            names = set(inspect(db(engine)).get_table_names())
            assert {"orders", "alembic_version", VERSION_TABLE, "cases"} <= names
        finally:
            engine.close()
        assert _other_rows(other) == before
    finally:
        other.dispose()


@pytest.mark.postgres
def test_a_schema_of_its_own_beside_another_applications_tables(
    postgres_url: str, clock: Any
) -> None:
    schema = f"appcase_{random.randrange(16**8):08x}"
    other = create_engine(postgres_url)
    try:
        _other_application(other)
        before = _other_rows(other)
        engine = init_database(postgres_url, "hunan-2018", clock, schema=schema)
        try:
            register_actors(engine)
            case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
            overdue = engine.survey(app(1), actor="cs-cac", at=local(2, 20))
            advance(engine, overdue.id, "pledged")
            with other.connect() as conn:
                inside = attach(conn, clock=clock, schema=schema)
                inside.fire(
                    case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21)
                )
                swept = [o.status for o in sweep(inside, local(3, 29, 0))]  # batch writes
                conn.commit()
            assert engine.get(case.id).state == "flagged"
            assert swept == ["escalated"]
            assert engine.get(overdue.id).state == "escalated_for_takedown"
            assert verify(engine).ok
        finally:
            engine.close()
        assert _other_rows(other) == before
        with other.connect() as conn:
            assert "cases" not in inspect(conn).get_table_names()
            assert "cases" in inspect(conn).get_table_names(schema=schema)
    finally:
        with other.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        other.dispose()


def test_a_database_made_before_the_own_version_table_is_adopted(sqlite_url: str) -> None:
    engine = init_database(sqlite_url, "hunan-2018", None)
    bind = db(engine)
    with bind.begin() as conn:  # as databases were before: appcase's revision in alembic_version
        rev = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:rev)"), {"rev": rev})
    engine.close()
    again = init_database(sqlite_url, "hunan-2018", None)
    try:
        names = set(inspect(db(again)).get_table_names())
        assert VERSION_TABLE in names
        assert "alembic_version" not in names
    finally:
        again.close()
