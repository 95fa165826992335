"""Database failures that pass -- the server ending the connection mid-command, a lock held
past the lock timeout -- are "nothing was written, retry" (exit 3) in plain words: never the
server's text, never a SQL statement, never "bad input"."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from appcase import bootstrap
from appcase.cli.exits import RETRY
from appcase.errors import DatabaseUnavailable
from appcase.persistence import db
from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import sweep
from tests.builders import drive, local, run_cli

pytestmark = pytest.mark.postgres


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _terminate(url: str, pid: int) -> None:
    """End the server process behind a connection, as an administrator (or a restart)
    would, and wait until it is gone."""
    with psycopg.connect(_dsn(url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.01)


def _kill_at(engine: Engine, url: str, marker: str, nth: int) -> None:
    """Terminate the connection that is about to run the ``nth`` statement holding
    ``marker``, just before it runs (so mid-transaction)."""
    seen = 0

    @event.listens_for(engine, "before_cursor_execute")
    def _hook(conn: Any, *_args: Any) -> None:
        nonlocal seen
        statement = _args[1]
        if marker in statement:
            seen += 1
            if seen == nth:
                _terminate(url, conn.connection.dbapi_connection.info.backend_pid)


@pytest.fixture
def killing(monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> Callable[[str, int], None]:
    """Make the engines the command line opens terminate their connection at a statement."""
    made = bootstrap.create_db_engine

    def arm(marker: str, nth: int) -> None:
        def create(*args: Any, **kwargs: Any) -> Engine:
            engine = made(*args, **kwargs)
            _kill_at(engine, postgres_url, marker, nth)
            return engine

        monkeypatch.setattr(bootstrap, "create_db_engine", create)

    return arm


@pytest.fixture
def pledged(make_engine: Callable[[str], CaseEngine], postgres_url: str) -> list[str]:
    engine = make_engine(postgres_url)
    ids = [drive(engine, "pledged", n=n).id for n in range(3)]
    engine.close()
    return ids


def _states(url: str, ids: list[str]) -> list[str]:
    engine = bootstrap.open_engine(url)
    try:
        return [engine.get(i).state for i in ids]
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("marker", "nth"),
    [("SKIP LOCKED", 2), ("INSERT INTO events", 2), ("UPDATE cases", 2)],
    ids=["reading a batch", "writing a batch's events", "writing a batch's cases"],
)
def test_a_connection_ended_mid_sweep_is_retryable(
    make_engine: Callable[[str], CaseEngine],
    postgres_url: str,
    pledged: list[str],
    marker: str,
    nth: int,
) -> None:
    engine = make_engine(postgres_url)
    _kill_at(engine.storage.engine, postgres_url, marker, nth)  # type: ignore[attr-defined]
    with pytest.raises(DatabaseUnavailable) as caught:
        list(sweep(engine, local(4, 1), batch_size=1))
    assert "connection to the database was lost" in caught.value.message
    assert "terminating" not in caught.value.message
    assert _states(postgres_url, pledged) == ["escalated_for_takedown", "pledged", "pledged"]
    # the retry finishes the sweep
    assert {o.status for o in sweep(engine, local(4, 1))} == {"escalated"}


def test_the_command_line_says_retry_when_the_sweep_loses_its_connection(
    postgres_url: str, pledged: list[str], killing: Callable[[str, int], None]
) -> None:
    killing("SKIP LOCKED", 2)
    result = run_cli(postgres_url, "sweep", "--at", "2018-04-01T10:00+08:00", "--batch-size", "1")
    assert result.exit_code == RETRY, result.output
    assert "retry" in result.output
    assert "terminating connection" not in result.output
    assert "SELECT" not in result.output


def test_the_command_line_says_retry_when_an_export_loses_its_connection(
    postgres_url: str, pledged: list[str], killing: Callable[[str, int], None], tmp_path: Path
) -> None:
    killing("FROM events", 1)
    out = tmp_path / "bundle"
    result = run_cli(postgres_url, "audit", "export", "--out", str(out))
    assert result.exit_code == RETRY, result.output
    assert "retry" in result.output
    assert "terminating connection" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_db_upgrade_waiting_past_the_lock_timeout_is_retryable(
    make_engine: Callable[[str], CaseEngine],
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_engine(postgres_url)
    monkeypatch.setattr(
        bootstrap, "create_db_engine", partial(db.create_db_engine, lock_timeout_ms=200)
    )
    with psycopg.connect(_dsn(postgres_url)) as holder:
        holder.execute(f"LOCK TABLE {db.VERSION_TABLE} IN ACCESS EXCLUSIVE MODE")
        result = run_cli(postgres_url, "db", "upgrade")
        with pytest.raises(DatabaseUnavailable, match="lock"):
            bootstrap.upgrade_database(postgres_url)
        holder.rollback()
    assert result.exit_code == RETRY, result.output
    assert "lock timeout" in result.output
    assert "retry" in result.output
    assert "^" not in result.output
    assert "SELECT" not in result.output
    assert run_cli(postgres_url, "db", "upgrade").exit_code == 0
