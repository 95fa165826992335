"""Case numbers on a damaged or busy base: a counter row that holds no case number, surveys
and bulk surveys at once, migration 0011 on ids it cannot read. A new case always gets the
next free number of its prefecture (``0001`` onwards, below 2**40), or a typed error."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from appcase.bootstrap import attach
from appcase.clock import FixedClock
from appcase.errors import BatchRejected, PersistenceError
from appcase.persistence.db import create_db_engine, downgrade, upgrade
from appcase.persistence.repository import SqlStorage
from appcase.states import Event
from appcase.workflow.engine import CaseEngine
from tests.builders import evidence, local, unique_app
from tests.dbcheck import db
from tests.integration.test_case_numbers import AT, CASES, copy_case, counters, survey


def case_ids(engine: CaseEngine) -> list[str]:
    with db(engine).connect() as conn:
        return sorted(conn.execute(select(CASES.c.id)).scalars())


def damage_counter(engine: CaseEngine, value: str) -> None:
    """Write ``value`` (SQL) into Changsha's counter row, below the engine."""
    with db(engine).begin() as conn:
        conn.execute(text(f"UPDATE case_numbers SET last_number = {value}"))


NO_CASE_NUMBER = ["-5", "-1", str(2**40), str(2**63 - 1)]
"""Counter values no case number follows: negative, or at the 2**40 bound and beyond."""


@pytest.mark.parametrize("value", NO_CASE_NUMBER)
def test_a_counter_that_holds_no_case_number_is_rebuilt_from_the_case_ids(
    engine: CaseEngine, value: str
) -> None:
    for n in range(3):
        survey(engine, n)
    damage_counter(engine, value)
    assert survey(engine, 3) == "HN2018-430100-0004"
    assert counters(engine) == {"430100": 4}
    assert case_ids(engine) == [f"HN2018-430100-{n:04d}" for n in range(1, 5)]


@pytest.mark.parametrize("value", NO_CASE_NUMBER)
def test_the_bulk_survey_rebuilds_a_counter_that_holds_no_case_number(
    engine: CaseEngine, value: str
) -> None:
    for n in range(3):
        survey(engine, n)
    damage_counter(engine, value)
    result = engine.survey_batch([unique_app(8), unique_app(9)], actor="cs-cac", at=AT)
    assert result.case_ids == ["HN2018-430100-0004", "HN2018-430100-0005"]
    assert counters(engine) == {"430100": 5}


def test_a_prefecture_past_its_last_case_number_is_refused_writing_nothing(
    engine: CaseEngine,
) -> None:
    """Case numbers are below 2**40: a counter at the last one gives no other."""
    survey(engine, 0)
    damage_counter(engine, str(2**40 - 1))
    with pytest.raises(PersistenceError, match="last case number"):
        survey(engine, 1)
    with pytest.raises(PersistenceError, match="last case number"):
        engine.survey_batch([unique_app(8)], actor="cs-cac", at=AT)
    assert case_ids(engine) == ["HN2018-430100-0001"]
    assert counters(engine) == {"430100": 2**40 - 1}


@pytest.mark.parametrize("value", ["'abc'", "''", "x'00'"])
def test_a_counter_that_is_not_a_number_on_sqlite_is_rebuilt(
    sqlite_engine: CaseEngine, value: str
) -> None:
    """SQLite keeps whatever a hand edit writes into an integer column."""
    for n in range(2):
        survey(sqlite_engine, n)
    damage_counter(sqlite_engine, value)
    assert survey(sqlite_engine, 2) == "HN2018-430100-0003"
    assert counters(sqlite_engine) == {"430100": 3}
    result = sqlite_engine.survey_batch([unique_app(9)], actor="cs-cac", at=AT)
    assert result.case_ids == ["HN2018-430100-0004"]


@pytest.mark.parametrize(
    "odd_id",
    [
        "HN2018-430100-",  # no number
        "HN2018-430100-99999999999999999999",  # past any case number
        "HN2018-430100-١٢",  # digits, not ASCII ones
        "HN2018-430100- 12",
        "HN2018-430100-+7",
        "HN2018-430100-1e3",
    ],
)
def test_0011_skips_ids_that_end_in_no_case_number(
    make_engine: Callable[[str], CaseEngine], db_url: str, odd_id: str
) -> None:
    engine = make_engine(db_url)
    for n in range(3):
        survey(engine, n)
    bind = db(engine)
    downgrade(bind, "0010")
    with bind.begin() as conn:
        copy_case(conn, "HN2018-430100-0003", odd_id)
    upgrade(bind)
    assert counters(engine) == {"430100": 3}
    assert survey(engine, 3) == "HN2018-430100-0004"


# --- bulk surveys at once (PostgreSQL: the counter rows are locked) -----------------------


def waiting_for_a_lock(url: str, application_name: str = "", timeout_s: float = 20.0) -> None:
    """Return once some connection of the server (named ``application_name``, if given)
    waits for a lock."""
    dsn = make_url(url).set(drivername="postgresql", query={})
    with psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True) as conn:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND (%s = '' OR application_name = %s)",
                (application_name, application_name),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("no connection waited for a lock")


def bulk_in_open_transaction(
    engine: CaseEngine, apps: list[dict[str, Any]], actor: str
) -> Iterator[None]:
    """A bulk survey of ``apps`` written in a transaction left open for the block, then
    committed."""
    with db(engine).connect() as conn:
        inside = attach(conn, clock=FixedClock(AT))
        inside.survey_batch(apps, actor=actor, at=AT)
        yield
        conn.commit()


@pytest.mark.postgres
def test_a_bulk_survey_that_waited_for_another_refuses_the_apps_it_listed(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    """Two ledger imports of one prefecture at once, with an app in common: the second
    waits for the first's counter row, then finds the app listed and numbers after it."""
    engine = make_engine(postgres_url)
    first = [unique_app(n) for n in range(3)]
    second = [unique_app(10), unique_app(2), unique_app(11)]
    with (
        ThreadPoolExecutor(1) as pool,
        contextmanager(bulk_in_open_transaction)(engine, first, "cs-cac"),
    ):
        later = pool.submit(engine.survey_batch, second, actor="cs-cac", at=AT, skip_refused=True)
        waiting_for_a_lock(postgres_url)
    result = later.result(timeout=30)
    assert result.case_ids == ["HN2018-430100-0004", None, "HN2018-430100-0005"]
    assert [(i, [r.code for r in why]) for i, why in result.refused] == [(1, ["not_in_ledger"])]
    assert counters(engine) == {"430100": 5}


@pytest.mark.postgres
def test_a_bulk_survey_that_waited_for_another_prefecture_refuses_the_app_it_listed(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    """The same app (credit code and name) listed at once in another prefecture: the bulk
    survey finds it listed once the other commits, and writes nothing."""
    engine = make_engine(postgres_url)
    shared = unique_app(7)
    elsewhere = {**shared, "prefecture": "430200"}
    with (
        ThreadPoolExecutor(1) as pool,
        contextmanager(bulk_in_open_transaction)(engine, [elsewhere], "zz-cac"),
    ):
        later = pool.submit(engine.survey_batch, [unique_app(1), shared], actor="cs-cac", at=AT)
        waiting_for_a_lock(postgres_url)
    with pytest.raises(BatchRejected) as refused:
        later.result(timeout=30)
    assert [(i, [r.code for r in why]) for i, why in refused.value.refused] == [
        (1, ["not_in_ledger"])
    ]
    assert case_ids(engine) == ["HN2018-430200-0001"]
    assert counters(engine) == {"430200": 1}


@pytest.mark.parametrize(
    "odd_id",
    [
        "0050",  # no dash at all
        "HN2018430100-0050",  # one dash
        "HN2018-430200-0050",  # another prefecture's id, on a case of Changsha
        "-430100-0050",  # no prefix
    ],
)
def test_0011_counts_only_ids_of_the_cases_own_prefecture(
    make_engine: Callable[[str], CaseEngine],
    db_url: str,
    odd_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only ``<prefix>-<prefecture>-<number>`` ids, read as a survey would name them,
    move a prefecture's counter: another id would leave a gap in its numbers."""
    engine = make_engine(db_url)
    for n in range(3):
        survey(engine, n)
    bind = db(engine)
    downgrade(bind, "0010")
    with bind.begin() as conn:
        copy_case(conn, "HN2018-430100-0003", odd_id)
    with caplog.at_level(logging.WARNING, logger="appcase.migrations"):
        upgrade(bind)
    assert counters(engine) == {"430100": 3}
    assert f"{odd_id!r} has no case number" in caplog.text
    assert survey(engine, 3) == "HN2018-430100-0004"


@pytest.mark.postgres
def test_a_survey_in_a_transaction_that_wrote_events_does_not_deadlock_with_another_survey(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    """An integrator's transaction flags a case (it then holds the events' feed lock until
    it commits) and lists an app; meanwhile a survey of the same prefecture waits for that
    feed lock. Both succeed, numbered in commit order: neither waits for the other's lock
    while holding one it needs."""
    engine = make_engine(postgres_url)
    case = engine.survey(unique_app(0), actor="cs-cac", at=AT)
    url = make_url(postgres_url)
    named = url.update_query_dict(
        {
            "application_name": "second-survey",
            # the integrator's connection, not this one, finds a deadlock (if there is one)
            "options": f"{url.query['options']} -cdeadlock_timeout=60s",
        }
    )
    second = CaseEngine(
        SqlStorage(create_db_engine(named.render_as_string(hide_password=False))),
        engine.campaign,
        FixedClock(AT),
    )
    try:
        with ThreadPoolExecutor(1) as pool, db(engine).connect() as conn:
            inside = attach(conn, clock=FixedClock(local(4, 30, 12)))
            inside.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
            later = pool.submit(lambda: second.survey(unique_app(1), actor="cs-cac", at=AT).id)
            waiting_for_a_lock(postgres_url, application_name="second-survey")
            mine = inside.survey(unique_app(2), actor="cs-cac", at=AT).id
            conn.commit()
            theirs = later.result(timeout=30)
    finally:
        second.close()
    assert (mine, theirs) == ("HN2018-430100-0002", "HN2018-430100-0003")
    assert counters(engine) == {"430100": 3}
