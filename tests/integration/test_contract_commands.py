"""The engine's command and read contract, on SQLite and on PostgreSQL.

survey, fire, get, list_cases and history behave the same on both engines: case numbers per
prefecture, chained events, versions that move by one per event, refusals that write nothing,
and ``expected_version`` refusing a command decided on a case that has moved on since.
"""

from __future__ import annotations

import pytest

from appcase.audit.records import GENESIS
from appcase.cli.exits import exit_code
from appcase.errors import CaseNotFound, ConcurrentModification, GuardRejected, InvalidInput
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import verify
from tests.builders import app, drive, evidence, judgment, local


def test_survey_numbers_cases_per_prefecture(engine: CaseEngine) -> None:
    first = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    second = engine.survey(app(1), actor="cs-edu", at=local(2, 20))
    other = engine.survey(app(2, "430200"), actor="zz-cac", at=local(2, 20))
    assert [first.id, second.id, other.id] == [
        "HN2018-430100-0001",
        "HN2018-430100-0002",
        "HN2018-430200-0001",
    ]
    assert (first.state, first.version, first.event_count) == ("surveyed", 1, 1)
    [event] = engine.history(first.id)
    assert (event.seq, event.event, event.from_state, event.to_state) == (
        1,
        "survey",
        "new",
        "surveyed",
    )
    assert event.prev_hash == GENESIS
    assert event.hash == first.head_hash


def test_surveying_an_app_twice_is_refused_and_writes_nothing(engine: CaseEngine) -> None:
    engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    with pytest.raises(GuardRejected) as refused:
        engine.survey(app(0), actor="cs-edu", at=local(2, 21))
    assert [r.code for r in refused.value.rejections] == ["not_in_ledger"]
    assert [c.id for c in engine.list_cases()] == ["HN2018-430100-0001"]


def test_fire_chains_the_event_and_moves_the_version(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    flag = engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
    after = engine.get(case.id)
    assert (flag.seq, flag.from_state, flag.to_state) == (2, "surveyed", "flagged")
    assert flag.prev_hash == case.head_hash
    assert (after.state, after.version, after.event_count, after.head_hash) == (
        "flagged",
        2,
        2,
        flag.hash,
    )
    assert [e.hash for e in engine.history(case.id)] == [case.head_hash, flag.hash]


def test_fire_returns_the_event_as_stored(engine: CaseEngine) -> None:
    """The view ``fire`` returns (made from the values just written) is the event as read
    back, on both tracks, and is what a retry with the same key returns."""
    case = drive(engine, "judged", disposition="takedown", illegal=True)
    refer = engine.fire(
        case.id, "refer", actor="cs-cac", payload={}, at=local(3, 13), reason="涉嫌违法"
    )
    fired = [
        engine.fire(
            case.id,
            "escalate",
            actor="cs-cac",
            payload={"ground": "takedown_disposition"},
            at=local(3, 14),
            reason="研判建议关停",
            idempotency_key="escalate-once",
        )
        for _ in range(2)
    ]
    assert engine.history(case.id)[-2:] == [refer, fired[0]]
    assert fired[1] == fired[0]
    assert (refer.track, refer.from_state, refer.to_state) == (
        "judicial",
        "not_referred",
        "referred_to_judiciary",
    )


def test_a_refused_fire_writes_nothing(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
    before = engine.get(case.id)
    with pytest.raises(GuardRejected) as refused:  # the CAC office may not judge
        engine.fire(case.id, "judge", actor="cs-cac", payload=judgment(), at=local(3, 12))
    assert "role" in [r.code for r in refused.value.rejections]
    assert engine.get(case.id) == before
    assert len(engine.history(case.id)) == 2


def test_reads_name_a_missing_case(engine: CaseEngine) -> None:
    with pytest.raises(CaseNotFound):
        engine.get("HN2018-430100-9999")
    with pytest.raises(CaseNotFound):
        engine.history("HN2018-430100-9999")
    with pytest.raises(CaseNotFound):
        engine.fire("HN2018-430100-9999", "flag", actor="cs-cac", payload=evidence())


def test_list_filters_and_orders_by_id(engine: CaseEngine) -> None:
    drive(engine, "pledged", n=0)
    drive(engine, "flagged", n=1)
    drive(engine, "flagged", n=2, prefecture="430200")
    assert [c.id for c in engine.list_cases(states=("flagged",))] == [
        "HN2018-430100-0002",
        "HN2018-430200-0001",
    ]
    assert [c.id for c in engine.list_cases(prefectures=("430100",))] == [
        "HN2018-430100-0001",
        "HN2018-430100-0002",
    ]
    assert [c.id for c in engine.list_cases(overdue_at=local(4, 1, 0, 0))] == ["HN2018-430100-0001"]
    assert [c.id for c in engine.list_cases(limit=1)] == ["HN2018-430100-0001"]


def test_expected_version_applies_to_the_version_read(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    event = engine.fire(
        case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21), expected_version=1
    )
    assert event.seq == 2
    assert engine.get(case.id).version == 2


def test_expected_version_refuses_a_case_that_moved_on(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
    before = engine.get(case.id)
    with pytest.raises(ConcurrentModification) as moved:
        engine.fire(
            case.id,
            "judge",
            actor="cs-edu",
            payload=judgment(),
            at=local(3, 12),
            expected_version=1,
        )
    err = moved.value
    assert (err.case_id, err.expected_version, err.version, exit_code(err)) == (case.id, 1, 2, 3)
    assert "version 1" in err.message
    assert "retry" in err.message
    assert engine.get(case.id) == before


@pytest.mark.parametrize("bad", [0, -1])
def test_expected_version_must_be_a_version(engine: CaseEngine, bad: int) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    with pytest.raises(InvalidInput, match="expected version"):
        engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), expected_version=bad)


def test_expected_version_guards_against_a_decision_on_an_earlier_round(
    engine: CaseEngine,
) -> None:
    """The province decides a takedown on the escalation it read; meanwhile the case was
    returned and escalated again (same state, later version): the stale decision is refused
    with ``expected_version`` -- without it, it would apply to an escalation never read."""
    case = drive(engine, "escalated_for_takedown")
    read = engine.get(case.id)
    engine.fire(case.id, "return_for_rectification", actor="prov", reason="已整改", at=local(3, 16))
    engine.fire(
        case.id,
        "escalate",
        actor="cs-cac",
        payload={"ground": "pledge_refused"},
        reason="拒签承诺书",
        at=local(3, 17),
    )
    assert engine.get(case.id).state == read.state
    decision = {"decision_no": "湘网信〔2018〕2号"}
    with pytest.raises(ConcurrentModification):
        engine.fire(
            case.id,
            "take_down",
            actor="prov",
            payload=decision,
            at=local(3, 18),
            expected_version=read.version,
        )
    done = engine.fire(case.id, "take_down", actor="prov", payload=decision, at=local(3, 18))
    assert done.seq == read.version + 3
    assert verify(engine).ok
