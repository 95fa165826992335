"""Hotline reports (举报): flag a case or join its open flag; the reporter stays confidential."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from appcase.errors import GuardRejected, InvalidInput
from appcase.persistence.models import EvidenceRow, ReporterRow
from appcase.states import State
from appcase.workflow.audit import verify
from appcase.workflow.engine import CaseEngine
from appcase.workflow.hotline import find_case, report_hotline
from tests.builders import app, drive, local

REPORTER = {"name": "王小明", "contact": "13912345678"}


def _report(category: str = "vulgar_pornographic") -> dict[str, object]:
    return {"harm_category": category, "description": "学习社区出现低俗图片", "reporter": REPORTER}


def test_a_report_flags_a_surveyed_case_then_joins_its_open_flag(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    with capture_logs() as logs:
        first = report_hotline(engine, case.id, _report(), actor="cs-cac", at=local(3, 1))
        second = report_hotline(engine, case.id, _report("other"), actor="cs-edu", at=local(3, 2))
    assert (first.event, first.from_state, first.to_state) == ("flag", "surveyed", "flagged")
    assert (second.event, second.from_state, second.to_state) == (
        "add_evidence",
        "flagged",
        "flagged",
    )
    assert engine.get(case.id).state == State.FLAGGED.value
    assert [e.event for e in engine.history(case.id)] == ["survey", "flag", "add_evidence"]
    with engine.store.transaction() as repo:
        evidence = list(repo.session.scalars(select(EvidenceRow).order_by(EvidenceRow.number)))
        reporters = list(repo.session.scalars(select(ReporterRow)))
    assert [(e.number, e.source, e.harm_category) for e in evidence] == [
        (1, "hotline", "vulgar_pornographic"),
        (2, "hotline", "other"),
    ]
    assert {r.ref for r in reporters} == {e.reporter_ref for e in evidence}
    # confidential: not in the events (hashed or returned), not in any log line
    text = json.dumps([e.model_dump(mode="json") for e in engine.history(case.id)])
    text += repr(logs) + repr(first) + repr(second)
    assert REPORTER["name"] not in text
    assert REPORTER["contact"] not in text
    assert verify(engine, case.id).ok  # replay accepts the self-transition


def test_a_report_on_a_rectified_case_flags_it_again(engine: CaseEngine) -> None:
    case = drive(engine, State.RECTIFIED)
    view = report_hotline(
        engine,
        case.id,
        _report(),
        actor="cs-cac",
        at=local(3, 28),
        override={"reason": "整改后群众再次举报"},
    )
    assert (view.event, view.to_state) == ("flag", "flagged")
    assert view.override is not None
    assert view.override["waived"] == ["phase_window"]


def test_a_report_on_a_judged_case_is_refused_and_writes_nothing(engine: CaseEngine) -> None:
    case = drive(engine, State.JUDGED)
    with pytest.raises(GuardRejected) as refused:
        report_hotline(engine, case.id, _report(), actor="cs-cac", at=local(3, 13))
    assert [r.code for r in refused.value.rejections] == ["state"]
    assert engine.get(case.id).event_count == case.event_count


def test_add_evidence_has_the_guards_of_flag(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    report_hotline(engine, case.id, _report(), actor="cs-cac", at=local(3, 1))
    with pytest.raises(GuardRejected) as refused:  # another prefecture, after the window
        report_hotline(engine, case.id, _report("nonsense"), actor="zz-cac", at=local(3, 12))
    codes = sorted(r.code for r in refused.value.rejections)
    assert codes == ["evidence", "jurisdiction", "phase_window"]
    with pytest.raises(GuardRejected):  # the province may not flag
        engine.fire(case.id, "add_evidence", actor="prov", payload={"evidence": []})


def test_find_case_by_name_or_credit_code(engine: CaseEngine) -> None:
    case = engine.survey(app(1), actor="cs-cac", at=local(2, 20))
    engine.survey(app(4), actor="cs-cac", at=local(2, 20))  # same credit code as app(1)
    assert find_case(engine, name=case.app.name).id == case.id
    assert find_case(engine, name=case.app.name, uscc=case.app.uscc).id == case.id
    with pytest.raises(InvalidInput, match="2 apps match"):
        find_case(engine, uscc=case.app.uscc)
    with pytest.raises(InvalidInput, match="no app"):
        find_case(engine, name="没有这个应用")
    with pytest.raises(InvalidInput, match="check character"):
        find_case(engine, uscc=case.app.uscc[:-1] + "0")
