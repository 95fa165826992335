"""Idempotency keys, on SQLite and on PostgreSQL.

A command retried with the same key returns the event (or case) written the first time and
writes nothing more: after a plain retry, after a lost reply (the commit succeeded, the caller
never heard), when retries race each other, and when the key's lookup lost a race to a
concurrent writer (the unique index has the last word).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from appcase.errors import InvalidInput
from appcase.persistence.models import EventRow
from appcase.persistence.repository import Repository
from appcase.workflow.engine import CaseEngine
from tests.builders import app, evidence, local
from tests.dbcheck import db, orm


class ReplyLost(ConnectionError):
    """The connection dropped after the database committed: the caller never saw the reply."""


@pytest.fixture
def lose_next_reply(engine: CaseEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Set ``[0]`` to 1 to make the next commit raise :class:`ReplyLost` after the database
    has committed."""
    armed = [0]
    dialect = db(engine).dialect
    commit = dialect.do_commit

    def commit_then_drop(dbapi_connection: Any) -> None:
        commit(dbapi_connection)
        if armed[0]:
            armed[0] = 0
            raise ReplyLost("connection reset after COMMIT")

    monkeypatch.setattr(dialect, "do_commit", commit_then_drop)
    return armed


def events_with_key(engine: CaseEngine, key: str) -> list[tuple[str, int]]:
    with orm(engine) as repo:
        rows = repo.execute(
            select(EventRow.case_id, EventRow.seq).where(EventRow.idempotency_key == key)
        )
        return [(c, s) for c, s in rows]


def flag(engine: CaseEngine, case_id: str, key: str | None) -> Any:
    return engine.fire(
        case_id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21), idempotency_key=key
    )


def test_a_retry_returns_the_first_event(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    first = flag(engine, case.id, "k-1")
    again = flag(engine, case.id, "k-1")
    assert again == first
    assert events_with_key(engine, "k-1") == [(case.id, 2)]
    assert engine.get(case.id).version == 2


def test_a_key_reused_for_another_command_is_refused(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    other = engine.survey(app(1), actor="cs-cac", at=local(2, 20))
    flag(engine, case.id, "k-1")
    with pytest.raises(InvalidInput, match="already used for flag on case"):
        flag(engine, other.id, "k-1")
    with pytest.raises(InvalidInput, match="already used"):
        engine.fire(case.id, "escalate", actor="cs-cac", reason="x", idempotency_key="k-1")
    assert engine.get(other.id).version == 1


def test_another_callers_key_is_refused_without_naming_their_command(
    engine: CaseEngine,
) -> None:
    """A key another officer used is refused without their case or their id (over HTTP the
    caller is another system: the refusal must not tell it what someone else did)."""
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    other = engine.survey(app(1), actor="cs-cac", at=local(2, 20))
    flag(engine, case.id, "k-1")
    with pytest.raises(InvalidInput, match="already used by another command") as refused:
        engine.fire(
            other.id,
            "flag",
            actor="cs-edu",
            payload=evidence(),
            at=local(2, 21),
            idempotency_key="k-1",
        )
    assert case.id not in str(refused.value)
    assert "cs-cac" not in str(refused.value)
    assert engine.get(other.id).version == 1


def test_a_survey_retry_returns_the_first_case(engine: CaseEngine) -> None:
    first = engine.survey(app(0), actor="cs-cac", at=local(2, 20), idempotency_key="s-1")
    again = engine.survey(app(0), actor="cs-cac", at=local(2, 20), idempotency_key="s-1")
    assert again == first
    assert len(engine.list_cases()) == 1


def test_a_lost_reply_then_a_retry_yields_one_event(
    engine: CaseEngine, lose_next_reply: list[int]
) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    lose_next_reply[0] = 1
    with pytest.raises(ReplyLost):
        flag(engine, case.id, "k-lost")
    assert events_with_key(engine, "k-lost") == [(case.id, 2)]  # it did commit
    retried = flag(engine, case.id, "k-lost")
    assert (retried.case_id, retried.seq) == (case.id, 2)
    assert events_with_key(engine, "k-lost") == [(case.id, 2)]
    assert [e.event for e in engine.history(case.id)] == ["survey", "flag"]


def test_a_lost_survey_reply_then_a_retry_yields_one_case(
    engine: CaseEngine, lose_next_reply: list[int]
) -> None:
    lose_next_reply[0] = 1
    with pytest.raises(ReplyLost):
        engine.survey(app(0), actor="cs-cac", at=local(2, 20), idempotency_key="s-lost")
    again = engine.survey(app(0), actor="cs-cac", at=local(2, 20), idempotency_key="s-lost")
    assert [c.id for c in engine.list_cases()] == [again.id]


def test_racing_retries_write_one_event(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    n = 6
    gate = threading.Barrier(n)

    def retry(_: int) -> Any:
        gate.wait(timeout=30)
        return flag(engine, case.id, "k-race")

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(retry, range(n)))
    assert len({(r.seq, r.hash) for r in results}) == 1
    assert events_with_key(engine, "k-race") == [(case.id, 2)]


def test_a_key_lookup_that_lost_a_race_ends_at_the_unique_index(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key was written by a concurrent command after this one looked it up: the unique
    index refuses the second event, and the command then reports the key's first use."""
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    other = engine.survey(app(1), actor="cs-cac", at=local(2, 20))
    flag(engine, case.id, "k-1")
    miss_once(monkeypatch, "event_by_key")
    with pytest.raises(InvalidInput, match=f"already used for flag on case {case.id}"):
        flag(engine, other.id, "k-1")
    assert engine.get(other.id).version == 1
    assert events_with_key(engine, "k-1") == [(case.id, 2)]


def test_racing_survey_retries_create_one_case(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both retries looked the key and the app up before either wrote: the second one's
    insert hits the ledger's unique key, it starts again and finds the first one's case."""
    first = engine.survey(app(0), actor="cs-cac", at=local(2, 20), idempotency_key="s-1")
    miss_once(monkeypatch, "event_by_key")
    miss_once(monkeypatch, "find_app")
    again = engine.survey(app(0), actor="cs-cac", at=local(2, 20), idempotency_key="s-1")
    assert again == first
    assert len(engine.list_cases()) == 1


def miss_once(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Make ``Repository.<method>`` find nothing the first time: a read made before a
    concurrent writer committed."""
    real = getattr(Repository, method)
    calls = [0]

    def stale(self: Repository, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return None if calls[0] == 1 else real(self, *args, **kwargs)

    monkeypatch.setattr(Repository, method, stale)
