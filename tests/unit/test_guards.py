"""Every guard of :data:`appcase.workflow.guards.GUARDS`: a passing case and each way it fails.

Guards are pure functions of a :class:`GuardContext`; these tests build contexts by hand
(Hunan 2018, a Changsha case) and call each guard directly, checking the rejection codes and
that each message says what is wrong. Through the engine, see
``tests/integration/test_guards.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from appcase.policies.campaign import builtin_campaign
from appcase.policies.disposition import Factors, FindingInput, evaluate
from appcase.ports import StoredGrant
from appcase.states import Disposition, Event, JudicialState, Severity, State, Track
from appcase.workflow.commands import Override
from appcase.workflow.context import ActorInfo, CaseFacts, Command, GuardContext
from appcase.workflow.engine import parse_payload
from appcase.workflow.guards import (
    COMMAND_GUARDS,
    GUARDS,
    PROVINCE_WIDE_GUARDS,
    command_level,
    run_guards,
    settle,
)
from appcase.workflow.table import COMMON_GUARDS, POST_JUDGMENT_STATES, spec_for
from tests.builders import ACTORS, evidence, interview, local, pledge

CAMPAIGN = builtin_campaign("hunan-2018")
NOW = local(4, 30, 12)
COMMITMENTS = ("清理违规信息", "完善审核制度")


def actor(actor_id: str) -> ActorInfo:
    if actor_id == "system":
        return ActorInfo("system", "system", "430000")
    role, code = ACTORS.get(actor_id, ("mayor", "430100"))
    return ActorInfo(actor_id, role, code)


def make(
    event: Event,
    payload: dict[str, Any] | None = None,
    *,
    by: str = "cs-cac",
    at: datetime | None = None,
    reason: str | None = None,
    override: str | None = None,
    override_by: str | None = None,
    grant: dict[str, Any] | None = None,
    via_sweep: bool = False,
    minimum: Disposition | None = None,
    **facts: Any,
) -> GuardContext:
    """A guard context for ``event`` on Changsha case 0001 (in the event's first source
    state unless ``state=`` says otherwise), evaluated at :data:`NOW`. With
    ``override_by``, the override is a grant that officer recorded for this case and event
    (``grant``: fields of it changed)."""
    spec = spec_for(event)
    facts.setdefault(
        "state", State.JUDGED if spec.track is Track.JUDICIAL else State(spec.sources[0])
    )
    facts.setdefault("prefecture", "430100")
    case = CaseFacts(
        case_id=None if event is Event.SURVEY else "HN2018-430100-0001",
        judicial_state=JudicialState.NOT_REFERRED,
        **facts,
    )
    stored = None
    if override_by:
        fields: dict[str, Any] = {
            "id": "og-1",
            "case_id": case.case_id,
            "prefecture": case.prefecture,
            "event": event.value,
            "authoriser_id": override_by,
            "reason": override or "经批准",
            "created_at": NOW - timedelta(days=1),
            "expires_at": NOW + timedelta(days=1),
        }
        stored = StoredGrant(**(fields | (grant or {})))
    cmd = Command(
        event,
        actor(by),
        parse_payload(event, payload),
        at or local(3, 12),
        reason,
        Override(grant="og-1") if stored else Override(reason=override) if override else None,
        actor(override_by) if override_by else None,
        via_sweep,
        stored,
    )
    ctx = GuardContext(case, cmd, CAMPAIGN, NOW)
    if minimum is not None:
        # the policy's real answer for one finding whose severity gives that minimum
        severity = {Disposition.INTERVIEW_RECTIFY: "serious", Disposition.TAKEDOWN: "severe"}
        ctx.policy = evaluate(
            [FindingInput("vulgar_pornographic", Severity(severity[minimum]))],
            Factors(),
            CAMPAIGN.policy.disposition,
            CAMPAIGN.policy.version,
        )
        assert ctx.policy.minimum is minimum
    return ctx


def survey_app(prefecture: str = "430100") -> dict[str, Any]:
    return {
        "app": {
            "name": "星学口算",
            "operator": "长沙星学教育科技有限公司",
            "uscc": "914403001922038216",
            "prefecture": prefecture,
        }
    }


def judge(disposition: str | None = "interview_rectify", *findings: dict[str, Any]) -> Any:
    body: dict[str, Any] = {"findings": list(findings)}
    if disposition:
        body["disposition"] = disposition
    return body


FINDING = {"harm_category": "vulgar_pornographic", "severity": "serious", "evidence_refs": [1]}
HELD = local(3, 14)
INTERVIEW_AT = local(3, 14, 11)


def interview_with(**changes: Any) -> dict[str, Any]:
    body = interview(HELD) | changes
    return {k: v for k, v in body.items() if v is not None}


PLEDGE_AT = local(3, 14, 13)


def pledge_with(**changes: Any) -> dict[str, Any]:
    body = pledge(local(3, 14, 12)) | changes
    return {k: v for k, v in body.items() if v is not None}


def checks(*pairs: tuple[str, bool]) -> dict[str, Any]:
    return {"checks": [{"commitment": c, "verified": v} for c, v in pairs]}


def rectify(payload: dict[str, Any], at: datetime | None = None) -> GuardContext:
    return make(
        Event.RECTIFY,
        payload,
        at=at or local(3, 27),
        pledge_commitments=COMMITMENTS,
        pledge_deadline=date(2018, 3, 28),
    )


def escalate(ground: str | None, state: State, at: datetime | None = None, **facts: Any) -> Any:
    body = {"ground": ground} if ground else {}
    return make(Event.ESCALATE, body, state=state, at=at or local(3, 20), **facts)


Case = tuple[str, str, Callable[[], GuardContext], list[str], str]
"""(guard, case name, context factory, expected rejection codes, text in the messages)."""

CASES: list[Case] = [
    # --- permission: role × event × jurisdiction ---
    ("permission", "own prefecture", lambda: make(Event.FLAG, evidence()), [], ""),
    (
        "permission",
        "province acts anywhere",
        lambda: make(Event.TAKE_DOWN, by="prov", state=State.ESCALATED_FOR_TAKEDOWN),
        [],
        "",
    ),
    (
        "permission",
        "role may not",
        lambda: make(Event.INTERVIEW, by="cs-edu"),
        ["role"],
        "role edu_prefecture may not interview; roles that may: cac_prefecture",
    ),
    (
        "permission",
        "other prefecture",
        lambda: make(Event.FLAG, evidence(), by="zz-cac"),
        ["jurisdiction"],
        "an officer of 430200 acts only on cases of that prefecture; this case belongs to 430100",
    ),
    (
        "permission",
        "role and prefecture",
        lambda: make(Event.INTERVIEW, by="zz-edu"),
        ["role", "jurisdiction"],
        "may not interview",
    ),
    (
        "permission",
        "undeclared role",
        lambda: make(Event.FLAG, evidence(), by="nobody"),
        ["role"],
        "role 'mayor' is not declared by the campaign",
    ),
    (
        "permission",
        "system outside the sweep",
        lambda: make(Event.ESCALATE, by="system", state=State.PLEDGED),
        ["role"],
        "the system actor acts only through the sweep",
    ),
    (
        "permission",
        "system escalates in the sweep",
        lambda: make(Event.ESCALATE, by="system", via_sweep=True, state=State.PLEDGED),
        [],
        "",
    ),
    (
        "permission",
        "system may only escalate",
        lambda: make(Event.FLAG, evidence(), by="system", via_sweep=True),
        ["role"],
        "the system actor may only escalate, not flag",
    ),
    (
        "permission",
        "sweep as an officer",
        lambda: make(Event.ESCALATE, by="cs-cac", via_sweep=True, state=State.PLEDGED),
        ["role"],
        "the sweep acts only as the system actor",
    ),
    # --- phase_window: deadline day inclusive, in the campaign's zone; overrides ---
    (
        "phase_window",
        "last instant of the deadline day",
        lambda: make(Event.FLAG, evidence(), at=local(3, 10, 23, 59) + timedelta(seconds=59)),
        [],
        "",
    ),
    (
        "phase_window",
        "deadline day written in UTC",
        lambda: make(Event.FLAG, evidence(), at=datetime(2018, 3, 10, 15, 59, tzinfo=UTC)),
        [],
        "",
    ),
    (
        "phase_window",
        "the day after the deadline",
        lambda: make(Event.FLAG, evidence(), at=local(3, 11, 0)),
        ["phase_window"],
        "flag at 2018-03-11T00:00:00+08:00 is outside its window (2018-02-13..2018-03-10); "
        "an override is needed, but no override was recorded",
    ),
    (
        "phase_window",
        "the day after, written in UTC",
        lambda: make(Event.FLAG, evidence(), at=datetime(2018, 3, 10, 16, tzinfo=UTC)),
        ["phase_window"],
        "at 2018-03-11T00:00:00+08:00 is outside",
    ),
    (
        "phase_window",
        "escalate in the summary phase",
        lambda: make(Event.ESCALATE, state=State.PLEDGED, at=local(4, 3)),
        [],
        "",
    ),
    (
        "phase_window",
        "judge after the campaign",
        lambda: make(Event.JUDGE, judge(None, FINDING), by="cs-edu", at=local(4, 6)),
        ["phase_window"],
        "(2018-02-13..2018-03-31)",
    ),
    (
        "phase_window",
        "override by the acting officer",
        lambda: make(Event.FLAG, evidence(), at=local(3, 15), override="举报晚到"),
        [],
        "",
    ),
    (
        "phase_window",
        "override by the province",
        lambda: make(
            Event.JUDGE, judge(), by="cs-edu", at=local(4, 2), override="逾期", override_by="prov"
        ),
        [],
        "",
    ),
    (
        "phase_window",
        "override by a role that may not",
        lambda: make(Event.JUDGE, judge(), by="cs-edu", at=local(4, 2), override="逾期"),
        ["phase_window"],
        "an override is needed, but cs-edu (edu_prefecture) may not authorise an override",
    ),
    (
        "phase_window",
        "override from another prefecture",
        lambda: make(
            Event.FLAG, evidence(), at=local(3, 15), override="晚到", override_by="zz-cac"
        ),
        ["phase_window"],
        "but zz-cac may authorise overrides only in 430200",
    ),
    (
        "phase_window",
        "a grant by a role that may not override",
        lambda: make(Event.FLAG, evidence(), at=local(3, 15), override_by="cs-edu"),
        ["phase_window"],
        "but cs-edu (edu_prefecture) may not authorise an override",
    ),
    *[
        (
            "phase_window",
            f"a grant {name}",
            lambda changed=changed: make(
                Event.FLAG, evidence(), at=local(3, 15), override_by="prov", grant=changed
            ),
            ["phase_window"],
            message,
        )
        for name, changed, message in [
            ("for another case", {"case_id": "HN2018-430100-0002"}, "not this case"),
            ("for a survey", {"case_id": None}, "is for a survey in 430100, not this case"),
            ("for another event", {"event": "judge"}, "is for judge, not flag"),
            ("expired", {"expires_at": NOW}, "grant og-1 expired at"),
            ("revoked", {"revoked_at": NOW, "revoked_by": "prov"}, "was revoked by prov"),
            ("used", {"used_at": NOW, "used_by": "cs-cac"}, "was already used"),
        ]
    ],
    # --- chronology ---
    ("chronology", "in the past", lambda: make(Event.FLAG, evidence(), at=local(3, 1)), [], ""),
    (
        "chronology",
        "five minutes ahead of the clock",
        lambda: make(Event.FLAG, evidence(), at=NOW + timedelta(minutes=5)),
        [],
        "",
    ),
    (
        "chronology",
        "in the future",
        lambda: make(Event.FLAG, evidence(), at=NOW + timedelta(minutes=6)),
        ["chronology"],
        "event time 2018-04-30T12:06:00+08:00 is in the future",
    ),
    (
        "chronology",
        "after the previous event",
        lambda: make(Event.FLAG, evidence(), at=local(3, 1), last_occurred_at=local(3, 1)),
        [],
        "",
    ),
    (
        "chronology",
        "before the previous event",
        lambda: make(Event.FLAG, evidence(), at=local(3, 1), last_occurred_at=local(3, 2)),
        ["chronology"],
        "event time 2018-03-01T10:00:00+08:00 is before the case's previous event "
        "(2018-03-02T10:00:00+08:00)",
    ),
    # --- survey ---
    ("app_identity", "a prefecture of Hunan", lambda: make(Event.SURVEY, survey_app()), [], ""),
    (
        "app_identity",
        "a prefecture of Guangdong",
        lambda: make(Event.SURVEY, survey_app("440100")),
        ["app_identity"],
        "prefecture 440100 is not one of this campaign's",
    ),
    ("not_in_ledger", "new app", lambda: make(Event.SURVEY, survey_app()), [], ""),
    (
        "not_in_ledger",
        "listed twice",
        lambda: make(Event.SURVEY, survey_app(), already_in_ledger=True),
        ["not_in_ledger"],
        "this app is already in the campaign's ledger",
    ),
    # --- flag ---
    ("evidence", "one item", lambda: make(Event.FLAG, evidence()), [], ""),
    (
        "evidence",
        "no item",
        lambda: make(Event.FLAG, {"evidence": []}),
        ["evidence"],
        "flag needs at least one evidence item",
    ),
    (
        "evidence",
        "unknown categories, each named",
        lambda: make(
            Event.FLAG,
            {
                "evidence": [
                    {"harm_category": "gambling", "description": "赌博"},
                    {"harm_category": "other", "description": "广告"},
                    {"harm_category": "spam", "description": "垃圾信息"},
                ]
            },
        ),
        ["evidence", "evidence"],
        "evidence 1: unknown harm category 'gambling'",
    ),
    # --- judge ---
    (
        "findings",
        "a finding citing evidence",
        lambda: make(Event.JUDGE, judge("interview_rectify", FINDING), evidence_numbers={1}),
        [],
        "",
    ),
    (
        "findings",
        "no finding, no violation",
        lambda: make(Event.JUDGE, judge("no_violation")),
        [],
        "",
    ),
    (
        "findings",
        "no disposition",
        lambda: make(Event.JUDGE, judge(None, FINDING), evidence_numbers={1}),
        ["findings"],
        "judge needs a disposition",
    ),
    (
        "findings",
        "no finding",
        lambda: make(Event.JUDGE, judge("interview_rectify")),
        ["findings"],
        "judge needs at least one finding",
    ),
    (
        "findings",
        "neither",
        lambda: make(Event.JUDGE, judge(None)),
        ["findings", "findings"],
        "judge needs a disposition",
    ),
    (
        "findings",
        "unknown category",
        lambda: make(
            Event.JUDGE,
            judge("interview_rectify", FINDING | {"harm_category": "gambling"}),
            evidence_numbers={1},
        ),
        ["findings"],
        "finding 1: unknown harm category 'gambling'",
    ),
    (
        "findings",
        "evidence not in the case",
        lambda: make(
            Event.JUDGE,
            judge("interview_rectify", FINDING | {"evidence_refs": [1, 3, 2]}),
            evidence_numbers={1},
        ),
        ["findings"],
        "finding 1: no evidence numbered [2, 3] in this case",
    ),
    (
        "disposition_minimum",
        "the minimum",
        lambda: make(Event.JUDGE, judge(), minimum=Disposition.INTERVIEW_RECTIFY),
        [],
        "",
    ),
    (
        "disposition_minimum",
        "no policy answer yet",
        lambda: make(Event.JUDGE, judge()),
        [],
        "",
    ),
    (
        "disposition_minimum",
        "no disposition (the findings guard says so)",
        lambda: make(Event.JUDGE, judge(None), minimum=Disposition.TAKEDOWN),
        [],
        "",
    ),
    (
        "disposition_minimum",
        "milder than the minimum",
        lambda: make(Event.JUDGE, judge(), by="cs-edu", minimum=Disposition.TAKEDOWN),
        ["disposition_minimum"],
        "disposition interview_rectify is milder than the policy's minimum takedown (rules D2, "
        "D5); an override is needed, but no override was recorded",
    ),
    (
        "disposition_minimum",
        "milder, overridden by the province",
        lambda: make(
            Event.JUDGE,
            judge(),
            by="cs-edu",
            override="特批",
            override_by="prov",
            minimum=Disposition.TAKEDOWN,
        ),
        [],
        "",
    ),
    (
        "disposition_minimum",
        "stricter without a reason",
        lambda: make(Event.JUDGE, judge("takedown"), minimum=Disposition.INTERVIEW_RECTIFY),
        ["disposition_minimum"],
        "disposition takedown is stricter than the policy's minimum interview_rectify; "
        "give a reason",
    ),
    (
        "disposition_minimum",
        "stricter with a reason",
        lambda: make(
            Event.JUDGE,
            judge("takedown"),
            reason="从严处置",
            minimum=Disposition.INTERVIEW_RECTIFY,
        ),
        [],
        "",
    ),
    # --- dismiss, interview ---
    (
        "disposition_is_no_violation",
        "judged no violation",
        lambda: make(Event.DISMISS, disposition=Disposition.NO_VIOLATION),
        [],
        "",
    ),
    (
        "disposition_is_no_violation",
        "judged interview",
        lambda: make(Event.DISMISS, disposition=Disposition.INTERVIEW_RECTIFY),
        ["disposition"],
        "only a 'no_violation' judgment can be dismissed; this one is interview_rectify",
    ),
    (
        "disposition_is_no_violation",
        "no judgment",
        lambda: make(Event.DISMISS),
        ["disposition"],
        "this one is missing",
    ),
    (
        "disposition_is_interview",
        "judged interview",
        lambda: make(Event.INTERVIEW, disposition=Disposition.INTERVIEW_RECTIFY),
        [],
        "",
    ),
    (
        "disposition_is_interview",
        "judged takedown",
        lambda: make(Event.INTERVIEW, disposition=Disposition.TAKEDOWN),
        ["disposition"],
        "an interview needs a judgment of 'interview_rectify'; this one is takedown",
    ),
    (
        "disposition_is_interview",
        "no judgment",
        lambda: make(Event.INTERVIEW),
        ["disposition"],
        "this one is missing",
    ),
    (
        "interview_record",
        "complete",
        lambda: make(Event.INTERVIEW, interview_with(), at=INTERVIEW_AT),
        [],
        "",
    ),
    (
        "interview_record",
        "recorded at the moment it was held",
        lambda: make(Event.INTERVIEW, interview_with(), at=HELD),
        [],
        "",
    ),
    (
        "interview_record",
        "empty",
        lambda: make(Event.INTERVIEW, {}, at=INTERVIEW_AT),
        ["interview_record"] * 6,
        "record when notice was given (reason, time, place and participants in advance)",
    ),
    (
        "interview_record",
        "no notice",
        lambda: make(Event.INTERVIEW, interview_with(notice_given_at=None), at=INTERVIEW_AT),
        ["interview_record"],
        "record when notice was given",
    ),
    (
        "interview_record",
        "not held",
        lambda: make(Event.INTERVIEW, interview_with(held_at=None), at=INTERVIEW_AT),
        ["interview_record"],
        "record when the interview was held",
    ),
    (
        "interview_record",
        "notice too short",
        lambda: make(
            Event.INTERVIEW,
            interview_with(notice_given_at=(HELD - timedelta(hours=23)).isoformat()),
            at=INTERVIEW_AT,
        ),
        ["interview_record"],
        "notice must be given at least 24 h in advance",
    ),
    (
        "interview_record",
        "notice after the interview",
        lambda: make(
            Event.INTERVIEW,
            interview_with(notice_given_at=(HELD + timedelta(minutes=30)).isoformat()),
            at=INTERVIEW_AT,
        ),
        ["interview_record"],
        "notice must be given at least 24 h in advance",
    ),
    (
        "interview_record",
        "held after the event time",
        lambda: make(Event.INTERVIEW, interview_with(), at=HELD - timedelta(minutes=1)),
        ["interview_record"],
        "the interview is recorded as held after the event time",
    ),
    (
        "interview_record",
        "held before the judgment",
        lambda: make(
            Event.INTERVIEW,
            interview_with(),
            at=INTERVIEW_AT,
            last_occurred_at=HELD + timedelta(minutes=30),
        ),
        ["interview_record"],
        "the interview is recorded as held before the case's previous event "
        "(2018-03-14T10:30+08:00): it follows the judgment",
    ),
    (
        "interview_record",
        "no place",
        lambda: make(Event.INTERVIEW, interview_with(place="  "), at=INTERVIEW_AT),
        ["interview_record"],
        "record the place",
    ),
    (
        "interview_record",
        "one officer, named twice",
        lambda: make(Event.INTERVIEW, interview_with(officers=["张伟", "张伟 "]), at=INTERVIEW_AT),
        ["interview_record"],
        "at least 2 distinct officers must attend",
    ),
    (
        "interview_record",
        "no problems",
        lambda: make(Event.INTERVIEW, interview_with(problems=[]), at=INTERVIEW_AT),
        ["interview_record"],
        "record the problems pointed out",
    ),
    (
        "interview_record",
        "no deadline",
        lambda: make(Event.INTERVIEW, interview_with(rectification_deadline=None), at=INTERVIEW_AT),
        ["interview_record"],
        "set a rectification deadline",
    ),
    (
        "interview_record",
        "deadline after the cap",
        lambda: make(
            Event.INTERVIEW, interview_with(rectification_deadline="2018-04-01"), at=INTERVIEW_AT
        ),
        ["interview_record"],
        "rectification deadline 2018-04-01 is after the cap 2018-03-31",
    ),
    (
        "interview_record",
        "deadline before the interview",
        lambda: make(
            Event.INTERVIEW, interview_with(rectification_deadline="2018-03-13"), at=INTERVIEW_AT
        ),
        ["interview_record"],
        "rectification deadline is before the interview",
    ),
    # --- pledge ---
    ("pledge_record", "complete", lambda: make(Event.PLEDGE, pledge_with(), at=PLEDGE_AT), [], ""),
    (
        "pledge_record",
        "deadline on the cap day",
        lambda: make(Event.PLEDGE, pledge_with(deadline="2018-03-31"), at=PLEDGE_AT),
        [],
        "",
    ),
    (
        "pledge_record",
        "empty",
        lambda: make(Event.PLEDGE, {}, at=PLEDGE_AT),
        ["pledge_record"] * 4,
        "record who signed the pledge for the operator",
    ),
    (
        "pledge_record",
        "not signed by anyone",
        lambda: make(Event.PLEDGE, pledge_with(signed_by=""), at=PLEDGE_AT),
        ["pledge_record"],
        "record who signed the pledge for the operator",
    ),
    (
        "pledge_record",
        "no signing time",
        lambda: make(Event.PLEDGE, pledge_with(signed_at=None), at=PLEDGE_AT),
        ["pledge_record"],
        "record when the pledge was signed",
    ),
    (
        "pledge_record",
        "signed after the event time",
        lambda: make(Event.PLEDGE, pledge_with(), at=local(3, 14, 11)),
        ["pledge_record"],
        "the pledge is recorded as signed after the event time",
    ),
    (
        "pledge_record",
        "no commitment",
        lambda: make(Event.PLEDGE, pledge_with(commitments=[]), at=PLEDGE_AT),
        ["pledge_record"],
        "the pledge needs at least one commitment",
    ),
    (
        "pledge_record",
        "no deadline",
        lambda: make(Event.PLEDGE, pledge_with(deadline=None), at=PLEDGE_AT),
        ["pledge_record"],
        "the pledge needs a rectification deadline",
    ),
    (
        "pledge_record",
        "deadline after the cap",
        lambda: make(Event.PLEDGE, pledge_with(deadline="2018-04-01"), at=PLEDGE_AT),
        ["pledge_record"],
        "deadline 2018-04-01 is after the cap 2018-03-31",
    ),
    (
        "pledge_record",
        "deadline already passed",
        lambda: make(Event.PLEDGE, pledge_with(deadline="2018-03-13"), at=PLEDGE_AT),
        ["pledge_record"],
        "deadline 2018-03-13 has already passed",
    ),
    # --- rectify ---
    (
        "rectification_verified",
        "every commitment, by number",
        lambda: rectify(checks(("1", True), ("2", True))),
        [],
        "",
    ),
    (
        "rectification_verified",
        "every commitment, by text, on the deadline day",
        lambda: rectify(checks((COMMITMENTS[1], True), (COMMITMENTS[0], True)), local(3, 28, 23)),
        [],
        "",
    ),
    (
        "rectification_verified",
        "one not verified",
        lambda: rectify(checks(("1", True), ("2", False))),
        ["rectification"],
        "commitment 2 not verified: 完善审核制度",
    ),
    (
        "rectification_verified",
        "one not checked, one unknown",
        lambda: rectify(checks(("1", True), ("3", True))),
        ["rectification", "rectification"],
        "'3' is not a pledged commitment",
    ),
    (
        "rectification_verified",
        "nothing checked",
        lambda: rectify({}),
        ["rectification", "rectification"],
        "commitment 1 not verified: 清理违规信息",
    ),
    (
        "rectification_verified",
        "after the deadline day",
        lambda: rectify(checks(("1", True), ("2", True)), local(3, 29, 0)),
        ["rectification"],
        "verified after the pledge deadline 2018-03-28",
    ),
    # --- escalate ---
    (
        "escalation_ground",
        "takedown judgment",
        lambda: escalate("takedown_disposition", State.JUDGED, disposition=Disposition.TAKEDOWN),
        [],
        "",
    ),
    (
        "escalation_ground",
        "takedown ground for an interview judgment",
        lambda: escalate(
            "takedown_disposition", State.JUDGED, disposition=Disposition.INTERVIEW_RECTIFY
        ),
        ["escalation_ground"],
        "ground takedown_disposition needs a judged case whose disposition is takedown; "
        "this case is judged, disposition interview_rectify",
    ),
    (
        "escalation_ground",
        "pledge refused after the interview",
        lambda: escalate("pledge_refused", State.INTERVIEWED),
        [],
        "",
    ),
    (
        "escalation_ground",
        "pledge refused, but pledged",
        lambda: escalate("pledge_refused", State.PLEDGED),
        ["escalation_ground"],
        "ground pledge_refused needs an interviewed case (no pledge signed); this case is pledged",
    ),
    (
        "escalation_ground",
        "rectification failed",
        lambda: escalate("rectification_failed", State.PLEDGED),
        [],
        "",
    ),
    (
        "escalation_ground",
        "rectification failed before a pledge",
        lambda: escalate("rectification_failed", State.INTERVIEWED),
        ["escalation_ground"],
        "ground rectification_failed needs a pledged case; this case is interviewed",
    ),
    (
        "escalation_ground",
        "overdue",
        lambda: escalate(
            "rectification_overdue",
            State.PLEDGED,
            local(3, 29, 0),
            pledge_deadline=date(2018, 3, 28),
        ),
        [],
        "",
    ),
    (
        "escalation_ground",
        "overdue on the deadline day",
        lambda: escalate(
            "rectification_overdue",
            State.PLEDGED,
            local(3, 28, 23, 59),
            pledge_deadline=date(2018, 3, 28),
        ),
        ["escalation_ground"],
        "ground rectification_overdue needs a pledged case whose deadline (2018-03-28) has "
        "passed; this case is pledged",
    ),
    (
        "escalation_ground",
        "no ground",
        lambda: escalate(None, State.PLEDGED),
        ["escalation_ground"],
        "give the ground of the escalation",
    ),
    # --- escalate, return, refer: a reason ---
    ("reason", "given", lambda: make(Event.REFER, reason="涉嫌违法"), [], ""),
    (
        "reason",
        "missing",
        lambda: make(Event.RETURN_FOR_RECTIFICATION),
        ["reason"],
        "return_for_rectification needs a reason",
    ),
    (
        "reason",
        "blank",
        lambda: make(Event.REFER, reason="  \n"),
        ["reason"],
        "refer needs a reason",
    ),
    # --- take down ---
    (
        "decision_record",
        "numbered",
        lambda: make(Event.TAKE_DOWN, {"decision_no": "湘网信〔2018〕12号"}),
        [],
        "",
    ),
    (
        "decision_record",
        "no number",
        lambda: make(Event.TAKE_DOWN, {"decision_no": " "}),
        ["decision_record"],
        "record the decision's document number",
    ),
    # --- refer ---
    *[
        ("after_judgment", f"from {s}", lambda s=s: make(Event.REFER, state=State(s)), [], "")
        for s in POST_JUDGMENT_STATES
    ],
    (
        "after_judgment",
        "from surveyed",
        lambda: make(Event.REFER, state=State.SURVEYED),
        ["after_judgment"],
        "a case in state surveyed has not been judged yet",
    ),
    (
        "after_judgment",
        "from flagged",
        lambda: make(Event.REFER, state=State.FLAGGED),
        ["after_judgment"],
        "a case in state flagged has not been judged yet",
    ),
    (
        "suspected_illegal",
        "recorded",
        lambda: make(Event.REFER, suspected_illegal=True),
        [],
        "",
    ),
    (
        "suspected_illegal",
        "not recorded",
        lambda: make(Event.REFER),
        ["suspected_illegal"],
        "no suspected-illegal finding is recorded for this case",
    ),
]


@pytest.mark.parametrize(
    ("name", "build", "codes", "text"),
    [pytest.param(g, b, c, t, id=f"{g}: {n}") for g, n, b, c, t in CASES],
)
def test_guard(name: str, build: Callable[[], GuardContext], codes: list[str], text: str) -> None:
    ctx = build()
    verdict = GUARDS[name](ctx)
    assert [r.code for r in verdict] == codes, verdict
    if text:
        assert any(text in r.message for r in verdict), verdict
    for r in verdict:
        assert r.message.strip(), r


def test_every_registered_guard_has_a_passing_and_a_failing_case() -> None:
    passing = {g for g, _, _, codes, _ in CASES if not codes}
    failing = {g for g, _, _, codes, _ in CASES if codes}
    assert set(GUARDS) - passing == set(), "guards without a passing case"
    assert set(GUARDS) - failing == set(), "guards without a failing case"


def test_an_override_that_is_used_is_recorded_as_waived() -> None:
    ctx = make(Event.FLAG, evidence(), at=local(3, 15), override="举报晚到")
    assert GUARDS["phase_window"](ctx) == []
    assert ctx.waived == ["phase_window"]
    inside = make(Event.FLAG, evidence(), at=local(3, 1), override="不需要")
    assert GUARDS["phase_window"](inside) == []
    assert inside.waived == []


def test_run_guards_collects_every_rejection_in_order() -> None:
    ctx = make(Event.INTERVIEW, {}, by="zz-edu", at=local(4, 10))
    rejections = run_guards(("permission", "phase_window", "chronology", "interview_record"), ctx)
    assert [r.code for r in rejections] == [
        "role",
        "jurisdiction",
        "phase_window",
        *["interview_record"] * 6,
    ]


def test_a_guard_that_returns_a_bare_false_is_a_programming_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(GUARDS, "sloppy", lambda ctx: False)
    monkeypatch.setitem(GUARDS, "sloppier", lambda ctx: ["not a rejection"])
    ctx = make(Event.FLAG, evidence())
    with pytest.raises(TypeError, match="guard 'sloppy' returned False"):
        run_guards(["sloppy"], ctx)
    with pytest.raises(TypeError, match="not a list of Rejection"):
        run_guards(["sloppier"], ctx)
    assert run_guards(["evidence"], ctx) == []


_OTHER_CASES = [
    CaseFacts("HN2018-430200-0009", "430200", State.SURVEYED, JudicialState.NOT_REFERRED),
    CaseFacts(
        "HN2018-430300-0002",
        "430300",
        State.PLEDGED,
        JudicialState.REFERRED_TO_JUDICIARY,
        last_occurred_at=local(4, 20),
        evidence_numbers=frozenset({1, 2}),
        disposition=Disposition.TAKEDOWN,
        suspected_illegal=True,
        pledge_commitments=COMMITMENTS,
        pledge_deadline=date(2018, 3, 1),
        prior_cases=3,
        already_in_ledger=True,
    ),
]


@pytest.mark.parametrize(
    ("name", "build"),
    [pytest.param(g, b, id=f"{g}: {n}") for g, n, b, _, _ in CASES],
)
def test_a_command_level_guard_gives_every_case_the_same_verdict(
    name: str, build: Callable[[], GuardContext]
) -> None:
    """The declaration of command-level guards holds: their verdict and waivers on a command
    do not change with the case (what lets a sweep take them once)."""
    ctx = build()
    if name not in command_level(ctx):
        return
    first = (GUARDS[name](ctx), ctx.waived)
    for other in _OTHER_CASES:
        again = GuardContext(other, ctx.command, ctx.campaign, ctx.now, ctx.policy)
        assert (GUARDS[name](again), again.waived) == first


def test_which_guards_are_command_level() -> None:
    assert set(COMMAND_GUARDS) | set(PROVINCE_WIDE_GUARDS) <= set(GUARDS)
    sweep = make(Event.ESCALATE, {"ground": "rectification_overdue"}, by="system", via_sweep=True)
    assert command_level(sweep) == ("permission", "phase_window", "reason")
    province = make(Event.TAKE_DOWN, {"decision_no": "1"}, by="prov")
    assert command_level(province) == ("permission", "phase_window", "decision_record")
    officer = make(Event.TAKE_DOWN, {"decision_no": "1"}, by="cs-cac")
    assert command_level(officer) == ("decision_record",)
    authorised = make(Event.FLAG, evidence(), by="prov", override="晚", override_by="cs-cac")
    assert command_level(authorised) == ("evidence",)


def test_settled_verdicts_are_applied_as_if_the_guards_ran() -> None:
    """A sweep after the escalation window: the settled refusal and an override's waiver are
    what running the guards on each case gives, in the same order."""
    late = local(4, 6)
    row = (*COMMON_GUARDS, *spec_for(Event.ESCALATE).guards)
    sweep = make(
        Event.ESCALATE, {"ground": "rectification_overdue"}, by="system", via_sweep=True, at=late
    )
    settled = settle(sweep)
    assert [r.code for r in settled["phase_window"][0]] == ["phase_window"]
    for facts in _OTHER_CASES:
        plain = GuardContext(facts, sweep.command, CAMPAIGN, NOW)
        fast = GuardContext(facts, sweep.command, CAMPAIGN, NOW, settled=settled)
        assert run_guards(row, fast) == run_guards(row, plain)
        assert fast.waived == plain.waived
    waived = make(Event.FLAG, evidence(), by="prov", at=local(3, 15), override="举报晚到")
    settled = settle(waived)
    assert settled["phase_window"] == ((), ("phase_window",))
    again = GuardContext(waived.case, waived.command, CAMPAIGN, NOW, settled=settled)
    assert run_guards(("phase_window",), again) == []
    assert again.waived == ["phase_window"]
