"""The records the guards rely on (evidence, findings, the interview, the pledge, the
verification) are checked against the events that wrote them: a record deleted, changed or
added by hand is ``record_mismatch`` damage naming the case and the event, and a command that
needs a missing record refuses with ``CaseDamaged`` instead of a puzzling guard message."""

from __future__ import annotations

import json
import sqlite3

import pytest

from appcase.bootstrap import open_engine
from appcase.errors import CaseDamaged
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import verify
from tests.builders import RECTIFIED, drive, judgment, local, run_cli


def _sql(url: str, statement: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute(statement)


CASE = "case_id = '{id}'"

DAMAGE: dict[str, tuple[str, str, int, str]] = {
    # name: (state to drive to, statement, seq of the event named, words of the detail)
    "evidence deleted": ("flagged", f"DELETE FROM evidence WHERE {CASE}", 2, "missing"),
    "findings deleted": ("judged", f"DELETE FROM findings WHERE {CASE}", 3, "missing"),
    "interview deleted": ("interviewed", f"DELETE FROM interviews WHERE {CASE}", 4, "missing"),
    "pledge deleted": ("pledged", f"DELETE FROM pledges WHERE {CASE}", 5, "missing"),
    "verification deleted": (
        "rectified",
        f"DELETE FROM verifications WHERE {CASE}",
        6,
        "missing",
    ),
    "evidence changed": (
        "pledged",
        f"UPDATE evidence SET description = '另一张图片' WHERE {CASE}",
        2,
        "evidence #1 record differs from the event: description",
    ),
    "pledge changed": (
        "pledged",
        f"UPDATE pledges SET commitments = '[\"只清理信息\"]' WHERE {CASE}",
        5,
        "pledge record differs from the event: commitments",
    ),
    "pledge deadline changed": (
        "pledged",
        f"UPDATE pledges SET deadline = '2018-12-31' WHERE {CASE}",
        5,
        "deadline",
    ),
    "finding made milder": (
        "pledged",
        f"UPDATE findings SET severity = 'minor' WHERE {CASE}",
        3,
        "severity",
    ),
    "verification flipped": (
        "rectified",
        f"UPDATE verifications SET all_verified = 0 WHERE {CASE}",
        6,
        "all_verified",
    ),
    "pledge added to the interview": (
        "pledged",
        "INSERT INTO pledges (case_id, event_id, signed_by, signed_at, commitments, deadline) "
        "SELECT case_id, event_id - 1, signed_by, signed_at, commitments, deadline "
        f"FROM pledges WHERE {CASE}",
        4,
        "it wrote interview; stored for it: interview, pledge",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_verify_checks_every_record_against_the_event_that_wrote_it(
    sqlite_engine: CaseEngine, sqlite_url: str, damage: str
) -> None:
    state, statement, seq, words = DAMAGE[damage]
    case = drive(sqlite_engine, state)
    other = drive(sqlite_engine, state, n=1)
    assert verify(sqlite_engine).ok
    _sql(sqlite_url, statement.format(id=case.id))
    report = verify(sqlite_engine)
    ((case_id, found_seq, kind, detail),) = report.problems
    assert (case_id, found_seq, kind) == (case.id, seq, "record_mismatch")
    assert words in detail
    assert verify(sqlite_engine, case.id).problems == report.problems
    assert verify(sqlite_engine, other.id).ok
    result = run_cli(sqlite_url, "audit", "verify", "--case", case.id)
    assert result.exit_code == 1
    assert "record_mismatch" in result.output


def test_rectify_on_a_case_whose_pledge_was_deleted_is_refused_as_damaged(
    sqlite_engine: CaseEngine, sqlite_url: str
) -> None:
    case = drive(sqlite_engine, "pledged")
    sqlite_engine.close()
    _sql(sqlite_url, f"DELETE FROM pledges WHERE case_id = '{case.id}'")
    engine = open_engine(sqlite_url, clock=sqlite_engine.clock)
    try:
        with pytest.raises(CaseDamaged, match="pledge"):
            engine.fire(case.id, "rectify", actor="cs-cac", payload=RECTIFIED, at=local(3, 27))
    finally:
        engine.close()
    result = run_cli(
        sqlite_url,
        "rectify",
        case.id,
        "--payload",
        "-",
        "--at",
        "2018-03-27T10:00+08:00",
        actor="cs-cac",
        stdin=json.dumps(RECTIFIED),
    )
    assert result.exit_code == 1
    assert "damaged" in result.output
    assert "audit verify" in result.output


def test_judge_on_a_case_whose_evidence_was_deleted_is_refused_as_damaged(
    sqlite_engine: CaseEngine, sqlite_url: str
) -> None:
    case = drive(sqlite_engine, "flagged")
    _sql(sqlite_url, f"DELETE FROM evidence WHERE case_id = '{case.id}'")
    with pytest.raises(CaseDamaged, match="evidence"):
        sqlite_engine.fire(case.id, "judge", actor="cs-edu", payload=judgment(), at=local(3, 12))
