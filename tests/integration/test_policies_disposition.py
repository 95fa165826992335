"""Recidivism as the engine counts it: prior interview or takedown judgments of the same app
or operator, in this and earlier campaigns, before the judgment (rule D3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

from appcase.bootstrap import init_database
from appcase.policies import disposition
from appcase.policies.campaign import Campaign, builtin_campaign
from appcase.states import Disposition
from appcase.workflow.engine import CaseEngine
from tests.builders import RECTIFIED, SHANGHAI, interview, local, pledge, unique_app

HUNAN = builtin_campaign("hunan-2018")


def _judge(
    engine: CaseEngine,
    case_id: str,
    at: datetime,
    disposition: str = "interview_rectify",
    severity: str = "serious",
    override: dict[str, Any] | None = None,
) -> dict[str, Any]:
    findings = (
        []
        if disposition == "no_violation"
        else [{"harm_category": "other", "severity": severity, "evidence_refs": [1]}]
    )
    view = engine.fire(
        case_id,
        "judge",
        actor="cs-edu",
        payload={"findings": findings, "disposition": disposition},
        at=at,
        reason="从严" if disposition == "takedown" else None,
        override=override,
    )
    return view.payload["policy"]


def _flagged(engine: CaseEngine, app: dict[str, Any], at: datetime | None = None) -> str:
    at = at or local(2, 20, 9)
    case = engine.survey(app, actor="cs-cac", at=at)
    engine.fire(
        case.id,
        "flag",
        actor="cs-cac",
        payload={"evidence": [{"harm_category": "other", "description": "截图"}]},
        at=at.replace(hour=12),
    )
    return case.id


def _explain(engine: CaseEngine, case_id: str, at: datetime) -> disposition.DispositionResult:
    findings = [{"harm_category": "other", "severity": "minor", "evidence_refs": [1]}]
    return engine.explain_judgment(case_id, {"findings": findings}, at)


def test_a_prior_judgment_of_the_same_operator_aggravates(engine: CaseEngine) -> None:
    first = _flagged(engine, unique_app(1))
    second = _flagged(engine, unique_app(2, uscc=unique_app(1)["uscc"]))
    assert _judge(engine, first, local(3, 12))["factors"]["prior_cases"] == 0
    policy = _judge(engine, second, local(3, 13), "takedown")
    assert policy["factors"]["prior_cases"] == 1
    assert [r["id"] for r in policy["rules"]] == ["D2", "D3", "D5"]
    assert policy["minimum"] == "takedown"


@pytest.mark.parametrize(
    "same",
    [
        pytest.param(lambda a: {"name": a["name"]}, id="same app name, another operator"),
        pytest.param(lambda a: {"icp_filing": a["icp_filing"]}, id="same ICP filing"),
        pytest.param(lambda a: {"uscc": a["uscc"]}, id="same operator, another app"),
    ],
)
def test_the_same_app_or_operator_counts(
    sqlite_engine: CaseEngine, same: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    engine = sqlite_engine
    earlier = unique_app(1, icp_filing="湘ICP备18001234号-1")
    _judge(engine, _flagged(engine, earlier), local(3, 12))
    later = _flagged(engine, {**unique_app(2), **same(earlier)})
    assert _explain(engine, later, local(3, 13)).factors.prior_cases == 1


def test_unrelated_apps_mild_judgments_and_later_judgments_do_not_count(
    sqlite_engine: CaseEngine,
) -> None:
    engine = sqlite_engine
    operator = unique_app(1)["uscc"]
    _judge(engine, _flagged(engine, unique_app(1)), local(3, 20))  # after the judgment below
    _judge(engine, _flagged(engine, unique_app(2, uscc=operator)), local(3, 5), "no_violation")
    _judge(engine, _flagged(engine, unique_app(3)), local(3, 5))  # another operator
    case = _flagged(engine, unique_app(4, uscc=operator))
    result = _explain(engine, case, local(3, 12))
    assert result.factors.prior_cases == 0
    assert "D3" not in result.rule_ids
    assert _explain(engine, case, local(3, 21)).factors.prior_cases == 1


def test_an_earlier_round_of_the_same_case_counts(sqlite_engine: CaseEngine) -> None:
    """Interviewed, pledged, rectified -- and flagged again: a repeat offence."""
    engine = sqlite_engine
    case = _flagged(engine, unique_app(1))
    _judge(engine, case, local(3, 12))
    engine.fire(
        case, "interview", actor="cs-cac", payload=interview(local(3, 14)), at=local(3, 14, 11)
    )
    engine.fire(
        case, "pledge", actor="cs-cac", payload=pledge(local(3, 14, 12)), at=local(3, 14, 13)
    )
    engine.fire(case, "rectify", actor="cs-cac", payload=RECTIFIED, at=local(3, 20))
    engine.fire(
        case,
        "flag",
        actor="cs-cac",
        payload={"evidence": [{"harm_category": "other", "description": "复发"}]},
        at=local(3, 22),
        override={"reason": "整改后复发，补充取证"},
    )
    policy = _judge(engine, case, local(3, 23), "takedown")
    assert policy["factors"]["prior_cases"] == 1
    assert "D3" in [r["id"] for r in policy["rules"]]


def _campaign_2017() -> Campaign:
    phases = tuple(
        p.model_copy(
            update={"start": p.start.replace(year=2017), "deadline": p.deadline.replace(year=2017)}
        )
        for p in HUNAN.phases
    )
    return HUNAN.model_copy(
        update={
            "id": "hunan-2017",
            "case_prefix": "HN2017",
            "issued_on": date(2017, 2, 13),
            "phases": phases,
        }
    )


def test_a_case_in_an_earlier_campaign_counts(sqlite_url: str, sqlite_engine: CaseEngine) -> None:
    earlier = init_database(sqlite_url, _campaign_2017(), sqlite_engine.clock)
    try:
        app = unique_app(7)
        old = _flagged(earlier, app, at=datetime(2017, 2, 20, 9, tzinfo=SHANGHAI))
        _judge(earlier, old, datetime(2017, 3, 12, 10, tzinfo=SHANGHAI))
    finally:
        earlier.close()
    case = _flagged(sqlite_engine, app)
    policy = _judge(sqlite_engine, case, local(3, 12), "takedown")
    assert policy["factors"]["prior_cases"] == 1
    assert policy["minimum"] == Disposition.TAKEDOWN.value
