"""The next step of a case along the usual path, as the workers take it.

surveyed → flag → judge (interview_rectify) → interview → pledge → rectify, and for a case
escalated (by the sweep, when its pledge is overdue) → take_down. Every step's time is fixed,
so that any worker taking it produces a valid command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appcase.workflow.engine import CaseEngine
from appcase.workflow.views import CaseView, EventView
from tests.builders import RECTIFIED, evidence, interview, judgment, local, pledge

CAC = {"430100": "cs-cac", "430200": "zz-cac"}
EDU = {"430100": "cs-edu", "430200": "zz-edu"}

SWEEP_AT = local(4, 1, 0, 0)
"""The sweep's instant: after the pledges' deadline (2018-03-28), inside the summary phase."""

FINAL = ("rectified", "taken_down")


@dataclass(frozen=True)
class Step:
    """One command to fire on a case."""

    event: str
    actor: str
    payload: dict[str, Any]
    at: datetime
    reason: str | None = None

    def fire(
        self,
        engine: CaseEngine,
        case_id: str,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> EventView:
        """Fire this step on ``case_id``."""
        return engine.fire(
            case_id,
            self.event,
            actor=self.actor,
            payload=self.payload,
            at=self.at,
            reason=self.reason,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )


def next_step(view: CaseView, *, rectify: bool = True) -> Step | None:
    """The step that moves ``view`` on, or ``None`` when it is final (or waits for the
    sweep: a pledged case with ``rectify=False``)."""
    cac, edu = CAC[view.prefecture], EDU[view.prefecture]
    if view.state == "surveyed":
        return Step("flag", cac, evidence(), local(2, 21))
    if view.state == "flagged":
        return Step("judge", edu, judgment(), local(3, 12))
    if view.state == "judged":
        return Step("interview", cac, interview(local(3, 14)), local(3, 14, 11))
    if view.state == "interviewed":
        return Step("pledge", cac, pledge(local(3, 14, 12)), local(3, 14, 13))
    if view.state == "pledged":
        return Step("rectify", cac, RECTIFIED, local(3, 27)) if rectify else None
    if view.state == "escalated_for_takedown":
        return Step("take_down", "prov", {"decision_no": "湘网信〔2018〕9号"}, local(4, 2))
    return None
