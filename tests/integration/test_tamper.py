"""Tampering with the events table by hand is found by ``appcase audit verify``.

The events table is append-only: database triggers refuse UPDATE and DELETE. A tamperer with
the file first drops the triggers, then edits, deletes or reorders events, or moves a case's
head; ``audit verify`` then exits 1 naming the case, the event (``event #N``) and the kind of
damage, and an intact case next to it stays clean.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from appcase.audit.records import event_hash
from tests.builders import checkpoint, cli_database, run_cli


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path, ids = cli_database(tmp_path_factory.mktemp("tamper"))
    # one case escalated and one referred, besides the standard ones
    referred = run_cli(
        path,
        "refer",
        ids["judged_illegal"],
        "--reason",
        "涉嫌违法",
        "--at",
        "2018-03-13T10:00+08:00",
        actor="cs-cac",
    )
    assert referred.exit_code == 0, referred.output
    checkpoint(path)
    return path, ids


@pytest.fixture
def db(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture(scope="module")
def ids(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


@pytest.fixture
def sql(db: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the file, as a tamperer would open it (autocommit)."""
    conn = sqlite3.connect(db, isolation_level=None)
    with closing(conn):
        yield conn


def drop_triggers(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")


def verify_fails(db: Path) -> str:
    """Run ``audit verify``; it must exit 1; return what it printed."""
    result = run_cli(db, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("refused: audit verification failed:\n")
    as_json = run_cli(db, "audit", "verify", as_json=True)
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "AuditFailure"
    assert error["message"] == result.stderr.removeprefix("refused: ").rstrip("\n")
    return result.stderr


def problems(output: str) -> list[str]:
    return [line[4:] for line in output.splitlines() if line.startswith("  - ")]


def test_the_untouched_database_verifies(db: Path) -> None:
    assert run_cli(db, "audit", "verify").exit_code == 0


def test_the_triggers_refuse_update_and_delete(sql: sqlite3.Connection, db: Path) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="appcase: events are append-only"):
        sql.execute("UPDATE events SET reason = 'changed' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="appcase: events are append-only"):
        sql.execute("DELETE FROM events WHERE seq = 1")
    assert sql.execute("SELECT count(*) FROM events WHERE reason = 'changed'").fetchone() == (0,)
    assert run_cli(db, "audit", "verify").exit_code == 0


def test_an_edited_reason_is_named(sql: sqlite3.Connection, db: Path, ids: dict[str, str]) -> None:
    case = ids["escalated"]
    drop_triggers(sql)
    sql.execute("UPDATE events SET reason = '已整改' WHERE case_id = ? AND seq = 4", (case,))
    out = verify_fails(db)
    assert problems(out) == [
        f"case {case} event #4: edited: the event's content does not match its hash"
    ]


def test_an_edited_payload_is_named(sql: sqlite3.Connection, db: Path, ids: dict[str, str]) -> None:
    case = ids["pledged"]
    drop_triggers(sql)
    sql.execute(
        "UPDATE events SET payload = json_set(payload, '$.disposition', 'no_violation') "
        "WHERE case_id = ? AND seq = 3",
        (case,),
    )
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert f"case {case} event #3: edited" in out


def hashed(event: dict[str, Any], **changes: Any) -> str:
    """The chain hash of an event as ``history --json`` shows it, with fields changed (what a
    tamperer who knows the chain's format computes)."""
    record = {
        "case_id": event["case_id"],
        "seq": event["seq"],
        "track": event["track"],
        "event": event["event"],
        "from": event["from_state"],
        "to": event["to_state"],
        "actor": event["actor"],
        "role": event["role"],
        "jurisdiction": event["jurisdiction"],
        "occurred_at": event["occurred_at"].replace("Z", ".000000Z"),
        "recorded_at": event["recorded_at"].replace("Z", ".000000Z"),
        "payload": event["payload"],
        "reason": event["reason"],
        "override": event["override"],
        "prev_hash": event["prev_hash"],
    }
    assert event_hash(record) == event["hash"]  # the format is understood
    return event_hash(record | changes)


def test_an_edited_event_with_a_recomputed_hash_is_still_found(
    sql: sqlite3.Connection, db: Path, ids: dict[str, str]
) -> None:
    """Rewriting an event and its own hash breaks the link from the next event."""
    case = ids["pledged"]
    judged = json.loads(run_cli(db, "history", case, as_json=True).stdout)[2]
    forged = hashed(judged, actor="zz-edu", jurisdiction="430200")
    drop_triggers(sql)
    sql.execute(
        "UPDATE events SET actor_id = 'zz-edu', jurisdiction = '430200', hash = ? "
        "WHERE case_id = ? AND seq = 3",
        (forged, case),
    )
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case} event #")
    assert any(f": {kind}: " in out for kind in ("edited", "reordered", "deleted")), out


def test_a_deleted_event_is_named(sql: sqlite3.Connection, db: Path, ids: dict[str, str]) -> None:
    case = ids["pledged"]
    drop_triggers(sql)
    sql.execute("DELETE FROM events WHERE case_id = ? AND seq = 2", (case,))
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case} event #2: deleted: ")


def test_a_deleted_last_event_is_named(
    sql: sqlite3.Connection, db: Path, ids: dict[str, str]
) -> None:
    case = ids["pledged"]
    drop_triggers(sql)
    sql.execute("DELETE FROM events WHERE case_id = ? AND seq = 5", (case,))
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case} event #5: deleted: ")


def test_reordered_events_are_named(sql: sqlite3.Connection, db: Path, ids: dict[str, str]) -> None:
    case = ids["pledged"]
    drop_triggers(sql)
    for old, new in ((2, -2), (3, 2), (-2, 3)):  # swap seq 2 and 3
        sql.execute("UPDATE events SET seq = ? WHERE case_id = ? AND seq = ?", (new, case, old))
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case} event #2: reordered: ")


def test_a_moved_head_is_named(sql: sqlite3.Connection, db: Path, ids: dict[str, str]) -> None:
    case = ids["escalated"]
    # no trigger guards the cases table: nothing to drop
    sql.execute("UPDATE cases SET head_hash = ? WHERE id = ?", ("f" * 64, case))
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case}: head_mismatch: ")


def test_a_changed_state_is_named(sql: sqlite3.Connection, db: Path, ids: dict[str, str]) -> None:
    case = ids["judged_illegal"]
    sql.execute("UPDATE cases SET judicial_state = 'not_referred' WHERE id = ?", (case,))
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case}: state_mismatch: ")


def test_an_appended_event_the_case_does_not_account_for_is_named(
    sql: sqlite3.Connection, db: Path, ids: dict[str, str]
) -> None:
    """A forged, well-chained copy of event #4 as #5, after the case's head."""
    case = ids["escalated"]
    head = json.loads(run_cli(db, "history", case, as_json=True).stdout)[-1]
    assert head["seq"] == 4
    forged = hashed(head, seq=5, prev_hash=head["hash"])
    columns = [r[1] for r in sql.execute("PRAGMA table_info(events)") if r[1] != "id"]
    copied = {"seq": "5", "prev_hash": "hash", "hash": "?"}
    copied["idempotency_key"] = "NULL"
    picked = ", ".join(copied.get(c, c) for c in columns)
    sql.execute(
        f"INSERT INTO events ({', '.join(columns)}) SELECT {picked} FROM events "
        "WHERE case_id = ? AND seq = 4",
        (forged, case),
    )
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case} event #5: inserted: ")


def test_a_duplicated_event_is_found(
    sql: sqlite3.Connection, db: Path, ids: dict[str, str]
) -> None:
    case = ids["escalated"]
    columns = [r[1] for r in sql.execute("PRAGMA table_info(events)") if r[1] != "id"]
    copied = {"seq": "seq + 1", "idempotency_key": "NULL"}
    picked = ", ".join(copied.get(c, c) for c in columns)
    sql.execute(
        f"INSERT INTO events ({', '.join(columns)}) SELECT {picked} FROM events "
        "WHERE case_id = ? AND seq = 4",
        (case,),
    )
    out = verify_fails(db)
    assert len(problems(out)) == 1
    assert problems(out)[0].startswith(f"case {case} event #")


def test_damage_in_several_cases_names_each_and_only_them(
    sql: sqlite3.Connection, db: Path, ids: dict[str, str]
) -> None:
    drop_triggers(sql)
    sql.execute("UPDATE events SET reason = 'x' WHERE case_id = ? AND seq = 1", (ids["flagged"],))
    sql.execute("DELETE FROM events WHERE case_id = ? AND seq = 3", (ids["rectified"],))
    out = verify_fails(db)
    assert problems(out) == [
        f"case {ids['flagged']} event #1: edited: the event's content does not match its hash",
        problems(out)[1],
    ]
    assert problems(out)[1].startswith(f"case {ids['rectified']} event #3: deleted: ")
    clean = run_cli(db, "audit", "verify", "--case", ids["pledged"])
    assert clean.exit_code == 0, clean.output
    one = run_cli(db, "audit", "verify", "--case", ids["rectified"])
    assert one.exit_code == 1
    assert ids["flagged"] not in one.stderr
