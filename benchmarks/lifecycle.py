"""The workload every benchmark shares: actors, payloads and the steps of a case's life.

All instants are aware, Asia/Shanghai, inside the Hunan 2018 campaign's phase windows, so
every guard passes. The engine's clock is fixed after the campaign (2018-04-30 12:00), as in
the tests, so no act is "in the future".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appcase.clock import FixedClock
from appcase.states.identifiers import uscc_check_char
from appcase.workflow.engine import CaseEngine

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFECTURE = "430100"
PROVINCE = "430000"

ACTORS = {
    "cs-cac": ("cac_prefecture", PREFECTURE),
    "cs-edu": ("edu_prefecture", PREFECTURE),
    "prov": ("cac_province", PROVINCE),
}


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant in 2018, Asia/Shanghai."""
    return datetime(2018, month, day, hour, minute, tzinfo=SHANGHAI)


CLOCK_AT = local(4, 30, 12)
SWEEP_AT = local(4, 1, 0)  # after every pledge deadline (2018-03-28) of the lifecycle


def clock() -> FixedClock:
    """The engine clock of every benchmark (after the campaign)."""
    return FixedClock(CLOCK_AT)


def register_actors(engine: CaseEngine) -> None:
    """Register an administrator, then :data:`ACTORS` by it (idempotent)."""
    engine.add_actor("admin", role="administrator")
    for actor_id, (role, code) in ACTORS.items():
        engine.add_actor(actor_id, role=role, jurisdiction=code, by="admin")


def uscc(n: int) -> str:
    """A well-formed unified social credit code (valid check character), unique per ``n``:
    every app has its own operator, so that no judgment sees prior cases."""
    first17 = f"91{PREFECTURE}{n:09d}"
    return first17 + uscc_check_char(first17)


def app(n: int) -> dict[str, Any]:
    """A valid app identity, unique per ``n``."""
    return {
        "name": f"基准学习应用{n:07d}",
        "operator": f"长沙基准教育科技有限公司{n:07d}",
        "uscc": uscc(n),
        "prefecture": PREFECTURE,
    }


EVIDENCE = {"evidence": [{"harm_category": "vulgar_pornographic", "description": "低俗图片"}]}


def judgment(disposition: str) -> dict[str, Any]:
    """A judge payload with one finding citing evidence 1."""
    return {
        "findings": [
            {
                "harm_category": "vulgar_pornographic",
                "severity": "severe" if disposition == "takedown" else "serious",
                "evidence_refs": [1],
            }
        ],
        "disposition": disposition,
    }


_HELD = local(3, 14)
INTERVIEW = {
    "notice_given_at": (_HELD - timedelta(days=2)).isoformat(),
    "held_at": _HELD.isoformat(),
    "place": "市网信办约谈室",
    "officers": ["张伟", "李娜"],
    "problems": ["传播低俗信息"],
    "rectification_deadline": "2018-03-28",
}
PLEDGE = {
    "signed_by": "王经理",
    "signed_at": local(3, 14, 12).isoformat(),
    "commitments": ["清理违规信息", "完善审核制度"],
    "deadline": "2018-03-28",
}
RECTIFY = {"checks": [{"commitment": "1", "verified": True}, {"commitment": "2", "verified": True}]}


@dataclass(frozen=True)
class Step:
    """One ``engine.fire`` of a lifecycle."""

    event: str
    actor: str
    payload: dict[str, Any]
    at: datetime
    reason: str | None = None


SURVEY_ACTOR = "cs-cac"
SURVEY_AT = local(2, 20, 9)

TO_PLEDGED: tuple[Step, ...] = (
    Step("flag", "cs-cac", EVIDENCE, local(2, 21)),
    Step("judge", "cs-edu", judgment("interview_rectify"), local(3, 12)),
    Step("interview", "cs-cac", INTERVIEW, local(3, 14, 11)),
    Step("pledge", "cs-cac", PLEDGE, local(3, 14, 13)),
)
"""survey → … → pledged (the sweep's input)."""

FULL_LIFECYCLE: tuple[Step, ...] = (*TO_PLEDGED, Step("rectify", "cs-cac", RECTIFY, local(3, 27)))
"""survey → flag → judge → interview → pledge → rectify: six transitions with survey."""

TO_JUDGED_TAKEDOWN: tuple[Step, ...] = (
    Step("flag", "cs-cac", EVIDENCE, local(2, 21)),
    Step("judge", "cs-edu", judgment("takedown"), local(3, 12)),
)
"""survey → flag → judge (takedown): ready for one ``escalate``."""

ESCALATE = Step(
    "escalate", "cs-cac", {"ground": "takedown_disposition"}, local(3, 13), "研判建议关停"
)
"""The transition timed by the single-transition benchmarks."""


def run_lifecycle(engine: CaseEngine, n: int, steps: tuple[Step, ...] = FULL_LIFECYCLE) -> str:
    """Survey app ``n`` and fire ``steps`` on it through the engine; return the case id."""
    case = engine.survey(app(n), actor=SURVEY_ACTOR, at=SURVEY_AT)
    for s in steps:
        engine.fire(case.id, s.event, actor=s.actor, payload=s.payload, at=s.at, reason=s.reason)
    return case.id
