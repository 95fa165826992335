"""Valid payloads and a driver that walks a case to any state through the engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appcase.states import State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.views import CaseView

SHANGHAI = ZoneInfo("Asia/Shanghai")

ACTORS = {
    "cs-cac": ("cac_prefecture", "430100"),
    "cs-edu": ("edu_prefecture", "430100"),
    "zz-cac": ("cac_prefecture", "430200"),
    "zz-edu": ("edu_prefecture", "430200"),
    "prov": ("cac_province", "430000"),
}
"""Test actors: Changsha's and Zhuzhou's offices and the province."""

# Real, published credit codes (valid check characters), used only as well-formed values.
USCC = ["914403001922038216", "91440300708461136T", "91110108551385082Q"]


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant in 2018, Asia/Shanghai."""
    return datetime(2018, month, day, hour, minute, tzinfo=SHANGHAI)


def register_actors(engine: CaseEngine) -> None:
    """Register :data:`ACTORS`."""
    for actor_id, (role, code) in ACTORS.items():
        engine.add_actor(actor_id, role=role, jurisdiction=code)


def app(n: int = 0, prefecture: str = "430100", **extra: Any) -> dict[str, Any]:
    """A valid app identity, unique per ``n``."""
    return {
        "name": f"测试学习应用{n}",
        "operator": "长沙测试教育科技有限公司",
        "uscc": USCC[n % len(USCC)],
        "prefecture": prefecture,
        **extra,
    }


def evidence(category: str = "vulgar_pornographic") -> dict[str, Any]:
    """A flag payload with one evidence item."""
    return {"evidence": [{"harm_category": category, "description": "低俗图片"}]}


def judgment(
    disposition: str = "interview_rectify", severity: str = "serious", illegal: bool = False
) -> dict[str, Any]:
    """A judge payload with one finding citing evidence 1."""
    return {
        "findings": [
            {
                "harm_category": "vulgar_pornographic",
                "severity": severity,
                "evidence_refs": [1],
                "suspected_illegal": illegal,
            }
        ],
        "disposition": disposition,
    }


def interview(held: datetime, deadline: str = "2018-03-28") -> dict[str, Any]:
    """A complete interview record held at ``held``."""
    return {
        "notice_given_at": (held - timedelta(days=2)).isoformat(),
        "held_at": held.isoformat(),
        "place": "市网信办约谈室",
        "officers": ["张伟", "李娜"],
        "problems": ["传播低俗信息"],
        "rectification_deadline": deadline,
    }


def pledge(signed: datetime, deadline: str = "2018-03-28") -> dict[str, Any]:
    """A signed pledge with two commitments."""
    return {
        "signed_by": "王经理",
        "signed_at": signed.isoformat(),
        "commitments": ["清理违规信息", "完善审核制度"],
        "deadline": deadline,
    }


RECTIFIED = {
    "checks": [{"commitment": "1", "verified": True}, {"commitment": "2", "verified": True}]
}


def drive(
    engine: CaseEngine,
    to: State | str,
    *,
    n: int = 0,
    prefecture: str = "430100",
    disposition: str = "interview_rectify",
    illegal: bool = False,
) -> CaseView:
    """Create a case and walk it to state ``to`` along the usual path, as Changsha's officers.

    ``escalated_for_takedown`` and ``taken_down`` go through a takedown judgment.
    """
    target = State(to)
    cac = "cs-cac" if prefecture == "430100" else "zz-cac"
    edu = "cs-edu" if prefecture == "430100" else "zz-edu"
    if target in (State.ESCALATED_FOR_TAKEDOWN, State.TAKEN_DOWN):
        disposition = "takedown"
    severity = "severe" if disposition == "takedown" else "serious"
    steps: list[tuple[str, str, dict[str, Any], datetime, str | None]] = [
        ("flag", cac, evidence(), local(2, 21), None),
        ("judge", edu, judgment(disposition, severity, illegal), local(3, 12), None),
    ]
    if disposition == "takedown":
        steps += [
            ("escalate", cac, {"ground": "takedown_disposition"}, local(3, 13), "研判建议关停"),
            ("take_down", "prov", {"decision_no": "湘网信〔2018〕1号"}, local(3, 15), None),
        ]
    else:
        steps += [
            ("interview", cac, interview(local(3, 14)), local(3, 14, 11), None),
            ("pledge", cac, pledge(local(3, 14, 12)), local(3, 14, 13), None),
            ("rectify", cac, RECTIFIED, local(3, 27), None),
        ]
    view = engine.survey(app(n, prefecture), actor=cac, at=local(2, 20, 9))
    for event, actor, payload, at, reason in steps:
        if engine.get(view.id).state == target.value:
            break
        engine.fire(view.id, event, actor=actor, payload=payload, at=at, reason=reason)
    result = engine.get(view.id)
    assert result.state == target.value, (result.state, target)
    return result
