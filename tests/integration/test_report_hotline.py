"""Hotline reports (举报): flag a case or join its open flag; the reporter stays confidential."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from structlog.testing import capture_logs

from appcase.errors import GuardRejected, InvalidInput
from appcase.persistence.models import EvidenceRow, ReporterRow
from appcase.states import State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.hotline import find_case, report_hotline
from appcase.workflow.verify import verify
from tests.builders import app, drive, local
from tests.dbcheck import db, orm

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
    with orm(engine) as repo:
        evidence = list(repo.scalars(select(EvidenceRow).order_by(EvidenceRow.number)))
        reporters = list(repo.scalars(select(ReporterRow)))
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


# --- idempotency keys, as fire has them ----------------------------------------------------


def test_a_retried_report_returns_the_first_event(engine: CaseEngine) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    first = report_hotline(
        engine, case.id, _report(), actor="cs-cac", at=local(3, 1), idempotency_key="r-1"
    )
    again = report_hotline(
        engine, case.id, _report(), actor="cs-cac", at=local(3, 1), idempotency_key="r-1"
    )
    assert again == first
    assert [e.event for e in engine.history(case.id)] == ["survey", "flag"]


def test_a_key_reused_for_another_command_is_refused(engine: CaseEngine) -> None:
    """A key names one command: another report, or an officer's patrol flag, under the same
    key is refused, never answered with the other command's event."""
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    report_hotline(engine, case.id, _report(), actor="cs-cac", at=local(3, 1), idempotency_key="k")
    with pytest.raises(InvalidInput, match="already used"):
        report_hotline(
            engine, case.id, _report("other"), actor="cs-cac", at=local(3, 2), idempotency_key="k"
        )
    with pytest.raises(InvalidInput, match="already used"):
        report_hotline(
            engine, case.id, _report(), actor="cs-edu", at=local(3, 2), idempotency_key="k"
        )
    assert [e.event for e in engine.history(case.id)] == ["survey", "flag"]


def test_a_key_reused_with_another_reporter_is_refused(engine: CaseEngine) -> None:
    """The event holds only the reporter's reference: the retry's reporter is compared with
    the stored one, and another reporter's report is refused, not silently dropped."""
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    report_hotline(engine, case.id, _report(), actor="cs-cac", at=local(3, 1), idempotency_key="k")
    other = {**_report(), "reporter": {"name": "李四", "contact": "13700000000"}}
    with pytest.raises(InvalidInput, match="another reporter") as refused:
        report_hotline(engine, case.id, other, actor="cs-cac", at=local(3, 1), idempotency_key="k")
    assert "李四" not in str(refused.value)
    anonymous = {k: v for k, v in _report().items() if k != "reporter"}
    with pytest.raises(InvalidInput, match="another reporter"):
        report_hotline(
            engine, case.id, anonymous, actor="cs-cac", at=local(3, 1), idempotency_key="k"
        )
    with orm(engine) as repo:
        names = list(repo.scalars(select(ReporterRow.name)))
    assert names == [REPORTER["name"]]


@pytest.mark.parametrize("key", ["x" * 201, "two\nlines", ""])
def test_a_malformed_key_is_refused_before_anything_is_written(
    engine: CaseEngine, key: str
) -> None:
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    if key == "":
        # an empty key means no key, as for fire
        report_hotline(
            engine, case.id, _report(), actor="cs-cac", at=local(3, 1), idempotency_key=key
        )
        return
    with pytest.raises(InvalidInput, match="idempotency key"):
        report_hotline(
            engine, case.id, _report(), actor="cs-cac", at=local(3, 1), idempotency_key=key
        )
    assert [e.event for e in engine.history(case.id)] == ["survey"]


@pytest.mark.slow
@pytest.mark.postgres
def test_racing_retries_of_a_report_return_one_event(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    """Two retries wait on a case another command holds; the second, once it gets the case,
    finds the first one's event under the key instead of firing again."""
    engine = make_engine(postgres_url)
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    results: list[object] = []

    def retry() -> None:
        try:
            view = report_hotline(
                engine, case.id, _report(), actor="cs-cac", at=local(3, 1), idempotency_key="same"
            )
            results.append(view.seq)
        except Exception as exc:  # collected, then asserted absent
            results.append(exc)

    with db(engine).connect() as holder, holder.begin():
        holder.execute(text("SELECT 1 FROM cases WHERE id = :i FOR UPDATE"), {"i": case.id})
        threads = [threading.Thread(target=retry) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(1)
    for t in threads:
        t.join(timeout=30)
    assert results == [2, 2], results
    assert [e.event for e in engine.history(case.id)] == ["survey", "flag"]
