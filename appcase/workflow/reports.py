"""Gathering the summary report's facts (总结): numbers and cases, no wording.

Source: 三(三) 总结提升 -- by 2018-04-05 each prefecture reports to the provincial office on
its campaign: the basic situation of education apps (教育类移动应用程序基本情况), problems
found (存在问题), typical cases (典型案例), measures taken (专项整治具体做法), main results
(主要成果) and suggestions (意见建议). :func:`gather_summary` reads those facts from the
database (through the named reads of :class:`appcase.ports.Queries`) for one prefecture or
the whole province; :mod:`appcase.adapters.render` words them.

Reporters' personal details (举报人) are never read: the ``reporters`` table is not
queried, and evidence is summarised by category and source only.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from appcase.clock import ensure_aware
from appcase.errors import CaseDamaged, InvalidInput, PersistenceError
from appcase.ports import (
    CaseFilter,
    EvidenceRecord,
    FindingRecord,
    StoredApp,
    StoredCase,
    StoredEvent,
)
from appcase.states import Disposition, JudicialState, Severity, State
from appcase.workflow.damage import UNREADABLE_VALUES

if TYPE_CHECKING:
    from appcase.workflow.engine import CaseEngine

__all__ = [
    "TYPICAL_CASES",
    "CategoryCount",
    "Override",
    "Step",
    "SummaryData",
    "TypicalCase",
    "gather_summary",
    "typical_rank",
]

TYPICAL_CASES = 5
"""How many typical cases the report shows by default (configurable default)."""


class CategoryCount(BaseModel):
    """Problems found in one harm category.

    Attributes:
        category: the harm category id; name_zh / name: its names.
        evidence: evidence items of that category; cases: cases with such evidence.
        findings: judged findings by severity (``minor``, ``serious``, ``severe``).
        suspected_illegal: findings of the category marked suspected illegal.
    """

    category: str
    name_zh: str
    name: str
    evidence: int
    cases: int
    findings: dict[str, int]
    suspected_illegal: int


class Step(BaseModel):
    """One thing done on a case, for the typical cases: the event, its local date, details."""

    event: str
    on: date
    detail: str = ""


class TypicalCase(BaseModel):
    """A typical case (典型案例): the app, what was found and what was done.

    Attributes:
        case_id, app, operator, prefecture (code), prefecture_name: who.
        state / judicial_state: where the case stands.
        findings: ``(category, severity, suspected_illegal)`` of the latest judgment.
        evidence: the evidence descriptions (at most three).
        steps: the case's events after the survey, in order.
    """

    case_id: str
    app: str
    operator: str
    prefecture: str
    prefecture_name: str
    state: str
    judicial_state: str
    findings: list[tuple[str, str, bool]]
    evidence: list[str]
    steps: list[Step]


class Override(BaseModel):
    """An override (特批): an act after its window closed, or below the policy's minimum."""

    case_id: str
    event: str
    occurred_at: datetime
    reason: str
    authorised_by: str
    waived: list[str]


class SummaryData(BaseModel):
    """The summary report's facts for one scope (a prefecture, or the province).

    Attributes:
        campaign_id, title_zh, document_number, deadline: the campaign and the report's due
            date (the last phase's deadline).
        scope: the GB/T 2260 code reported on; scope_name_zh / scope_name: its names;
            province: whether it is the whole province.
        as_of: the instant the facts were read at (in the campaign's zone; overdue is judged
            at it).
        apps: apps in the ledger; used_by_schools: of which schools use;
            by_platform / by_target_users / by_prefecture: ledger counts.
        flagged_cases: cases ever flagged; evidence_by_source: evidence items by source
            (``patrol``, ``hotline`` …); categories: problems by harm category.
        typical: the typical cases (rule: :func:`typical_rank`).
        interviews, pledges, verifications, dismissals, returns: counts of those events.
        escalations: by ground; takedowns: by measure; referrals: cases referred.
        overrides: every override, with reason and authoriser (local times).
        outcomes: cases by current administrative state.
        pledged_cases / rectified_cases: cases that ever signed a pledge, and that were
            ever verified rectified; rectification_rate: their ratio (``None`` without
            pledges).
        overdue_escalated: escalations for overdue rectification (by the sweep or an
            officer); overdue_open: pledged cases past their deadline at ``as_of``, not
            escalated yet.
        awaiting_judgment: flagged, not judged at ``as_of``; awaiting_action: judged, not
            yet interviewed, dismissed or escalated.
        school_apps_with_findings: apps used by schools among the apps judged to violate.
        prefecture_rates: for the province, each prefecture's ``(pledged, rectified)``.
        prefecture_names: Chinese names of the prefectures, by code.
        notes: the officer's own text (paragraphs), from ``--notes``.
    """

    campaign_id: str
    title_zh: str
    document_number: str
    deadline: date
    scope: str
    scope_name_zh: str
    scope_name: str
    province: bool
    as_of: datetime
    apps: int
    used_by_schools: int
    by_platform: dict[str, int]
    by_target_users: dict[str, int]
    by_prefecture: dict[str, int]
    flagged_cases: int
    evidence_by_source: dict[str, int]
    categories: list[CategoryCount]
    typical: list[TypicalCase]
    interviews: int
    pledges: int
    verifications: int
    dismissals: int
    returns: int
    escalations: dict[str, int]
    takedowns: dict[str, int]
    referrals: int
    overrides: list[Override]
    outcomes: dict[str, int]
    pledged_cases: int
    rectified_cases: int
    rectification_rate: float | None
    overdue_escalated: int
    overdue_open: int
    awaiting_judgment: int
    awaiting_action: int
    school_apps_with_findings: int
    prefecture_rates: dict[str, tuple[int, int]]
    prefecture_names: dict[str, str]
    notes: list[str] = []


_SEVERITY_RANK = {s.value: s.rank for s in Severity}


def typical_rank(
    state: str, judicial_state: str, severities: list[str], case_id: str
) -> tuple[int, int, int, str]:
    """The sort key that chooses typical cases (smallest first).

    The rule (configurable default; the source asks for 典型案例 without a rule): cases
    taken down or referred to the judiciary first, then cases escalated for takedown, then
    other cases with findings; within each tier the most severe finding first, then the
    most findings, then the case id.

    Args:
        state / judicial_state: the case's two tracks.
        severities: the severities of its latest judgment's findings.
        case_id: the tie-breaker.
    """
    if state == State.TAKEN_DOWN.value or judicial_state == JudicialState.REFERRED_TO_JUDICIARY:
        tier = 0
    elif state == State.ESCALATED_FOR_TAKEDOWN.value:
        tier = 1
    else:
        tier = 2
    worst = max((_SEVERITY_RANK.get(s, 0) for s in severities), default=-1)
    return (tier, -worst, -len(severities), case_id)


def gather_summary(
    engine: CaseEngine,
    *,
    prefecture: str | None = None,
    as_of: datetime | None = None,
    typical: int = TYPICAL_CASES,
    notes: list[str] | None = None,
) -> SummaryData:
    """Read the summary report's facts for a prefecture, or the whole province.

    Args:
        engine: the campaign's engine.
        prefecture: a GB/T 2260 prefecture code of the campaign; ``None`` for the province.
        as_of: the report's instant, aware (default: the clock's now); overdue pledges are
            judged at it.
        typical: how many typical cases to choose.
        notes: the officer's own paragraphs for the suggestions.

    Returns:
        The facts (see :class:`SummaryData`).

    Raises:
        InvalidInput: an unknown prefecture, a naive ``as_of``, a negative ``typical``, or
            a note holding a control character or a lone surrogate (no report format can
            show one; Word refuses it).
    """
    campaign = engine.campaign
    when = ensure_aware(as_of, "report time") if as_of is not None else engine.clock.now()
    if typical < 0:
        raise InvalidInput("the number of typical cases cannot be negative")
    for i, note in enumerate(notes or (), 1):
        shown = (c for c in note if c not in "\n\r\t")
        bad = next((c for c in shown if unicodedata.category(c) in ("Cc", "Cs")), None)
        if bad is not None:
            raise InvalidInput(
                f"notes paragraph {i} holds a control character (U+{ord(bad):04X}); remove it"
            )
    if prefecture is None:
        scope = campaign.province
        codes = [p.code for p in campaign.prefectures]
    else:
        found = next((p for p in campaign.prefectures if p.code == prefecture), None)
        if found is None:
            known = ", ".join(f"{p.code} {p.name_zh}" for p in campaign.prefectures)
            raise InvalidInput(f"{prefecture!r} is not a prefecture of {campaign.id}: {known}")
        scope, codes = found, [found.code]
    names = {p.code: p.name_zh for p in campaign.prefectures}
    try:
        with engine.storage.reading(snapshot=True) as q:
            cases = q.cases(campaign.id, CaseFilter(prefectures=tuple(codes)))
            events = q.events_in(campaign.id, codes)
            evidence = q.evidence_in(campaign.id, codes)
            findings = q.findings_in(campaign.id, codes)
    except UNREADABLE_VALUES as exc:  # a stored value that does not decode
        raise PersistenceError(
            f"a stored row of the report's cases cannot be read ({type(exc).__name__}); "
            "'appcase audit verify' names the damaged case"
        ) from None
    for ev in events:
        if not isinstance(ev.payload, dict):
            raise CaseDamaged(ev.case_id, f"event #{ev.seq}'s payload is not an object")

    by_case: dict[str, list[StoredEvent]] = defaultdict(list)
    for ev in events:
        by_case[ev.case_id].append(ev)
    latest_judgment: dict[str, int] = {}
    for ev in events:
        if ev.event == "judge":
            latest_judgment[ev.case_id] = ev.position
    judged_findings: dict[str, list[FindingRecord]] = defaultdict(list)
    for f in findings:
        if latest_judgment.get(f.case_id) == f.event_id:
            judged_findings[f.case_id].append(f)
    evidence_by_case: dict[str, list[EvidenceRecord]] = defaultdict(list)
    for e in evidence:
        evidence_by_case[e.case_id].append(e)

    def count_events(name: str) -> int:
        return sum(1 for ev in events if ev.event == name)

    def cases_with(name: str) -> int:
        return len({ev.case_id for ev in events if ev.event == name})

    categories = []
    for h in campaign.harm_categories:
        fs = [f for f in findings if f.harm_category == h.id]
        categories.append(
            CategoryCount(
                category=h.id,
                name_zh=h.name_zh,
                name=h.name,
                evidence=sum(1 for e in evidence if e.harm_category == h.id),
                cases=len({e.case_id for e in evidence if e.harm_category == h.id}),
                findings={s.value: sum(1 for f in fs if f.severity == s.value) for s in Severity},
                suspected_illegal=sum(1 for f in fs if f.suspected_illegal),
            )
        )

    platforms: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    for _, a in cases:
        platforms.update(set(a.platforms))
        targets[a.target_users or "-"] += 1

    candidates = [
        (c, a)
        for c, a in cases
        if judged_findings.get(c.id)
        or c.state in (State.TAKEN_DOWN.value, State.ESCALATED_FOR_TAKEDOWN.value)
        or c.judicial_state == JudicialState.REFERRED_TO_JUDICIARY.value
    ]
    candidates.sort(
        key=lambda ca: typical_rank(
            ca[0].state,
            ca[0].judicial_state,
            [f.severity for f in judged_findings.get(ca[0].id, [])],
            ca[0].id,
        )
    )
    typical_cases = [
        _typical(c, a, names, judged_findings[c.id], evidence_by_case[c.id], by_case[c.id], engine)
        for c, a in candidates[:typical]
    ]

    escalations: Counter[str] = Counter()
    takedowns: Counter[str] = Counter()
    overrides = []
    overdue_escalated = 0
    for ev in events:
        if ev.event == "escalate":
            ground = str(ev.payload.get("ground") or "-")
            escalations[ground] += 1
            overdue_escalated += ground == "rectification_overdue"
        elif ev.event == "take_down":
            takedowns[str(ev.payload.get("measure") or "takedown")] += 1
        if ev.override:
            overrides.append(
                Override(
                    case_id=ev.case_id,
                    event=ev.event,
                    occurred_at=ev.occurred_at.astimezone(campaign.zone),
                    reason=str(ev.override.get("reason", "")),
                    authorised_by=str(ev.override.get("authorised_by", ev.actor_id)),
                    waived=[str(w) for w in ev.override.get("waived", [])],
                )
            )

    outcomes = {s.value: 0 for s in State if s is not State.NEW}
    for c, _ in cases:
        outcomes[c.state] = outcomes.get(c.state, 0) + 1
    pledged = cases_with("pledge")
    rectified = cases_with("rectify")
    disposition_of = {c.id: c.disposition for c, _ in cases}
    violating = {
        cid
        for cid, fs in judged_findings.items()
        if fs and disposition_of.get(cid) != Disposition.NO_VIOLATION.value
    }
    rates: dict[str, tuple[int, int]] = {}
    if prefecture is None:
        pref_of = {c.id: c.prefecture for c, _ in cases}
        p_cases = {ev.case_id for ev in events if ev.event == "pledge"}
        r_cases = {ev.case_id for ev in events if ev.event == "rectify"}
        for code in codes:
            rates[code] = (
                sum(1 for cid in p_cases if pref_of.get(cid) == code),
                sum(1 for cid in r_cases if pref_of.get(cid) == code),
            )

    return SummaryData(
        campaign_id=campaign.id,
        title_zh=campaign.title_zh,
        document_number=campaign.document_number,
        deadline=campaign.phases[-1].deadline,
        scope=scope.code,
        scope_name_zh=scope.name_zh,
        scope_name=scope.name,
        province=prefecture is None,
        as_of=when.astimezone(campaign.zone),
        apps=len(cases),
        used_by_schools=sum(1 for _, a in cases if a.used_by_schools),
        by_platform=dict(platforms.most_common()),
        by_target_users=dict(targets.most_common()),
        by_prefecture={code: sum(1 for c, _ in cases if c.prefecture == code) for code in codes},
        flagged_cases=cases_with("flag"),
        evidence_by_source=dict(Counter(e.source for e in evidence).most_common()),
        categories=categories,
        typical=typical_cases,
        interviews=count_events("interview"),
        pledges=count_events("pledge"),
        verifications=count_events("rectify"),
        dismissals=count_events("dismiss"),
        returns=count_events("return_for_rectification"),
        escalations=dict(escalations.most_common()),
        takedowns=dict(takedowns.most_common()),
        referrals=cases_with("refer"),
        overrides=overrides,
        outcomes=outcomes,
        pledged_cases=pledged,
        rectified_cases=rectified,
        rectification_rate=(rectified / pledged) if pledged else None,
        overdue_escalated=overdue_escalated,
        overdue_open=sum(
            1
            for c, _ in cases
            if c.state == State.PLEDGED.value
            and c.pledge_due_at is not None
            and c.pledge_due_at <= when
        ),
        awaiting_judgment=outcomes.get(State.FLAGGED.value, 0),
        awaiting_action=sum(
            1
            for c, _ in cases
            if c.state == State.JUDGED.value and c.disposition != Disposition.NO_VIOLATION
        ),
        school_apps_with_findings=sum(
            1 for c, a in cases if c.id in violating and a.used_by_schools
        ),
        prefecture_rates=rates,
        prefecture_names=names,
        notes=list(notes or []),
    )


def _typical(
    case: StoredCase,
    app: StoredApp,
    names: dict[str, str],
    findings: list[FindingRecord],
    evidence: list[EvidenceRecord],
    events: list[StoredEvent],
    engine: CaseEngine,
) -> TypicalCase:
    zone = engine.campaign.zone
    steps = []
    for ev in events:
        if ev.event == "survey":
            continue
        detail = _detail(ev)
        steps.append(Step(event=ev.event, on=ev.occurred_at.astimezone(zone).date(), detail=detail))
    return TypicalCase(
        case_id=case.id,
        app=app.name,
        operator=app.operator,
        prefecture=case.prefecture,
        prefecture_name=names.get(case.prefecture, case.prefecture),
        state=case.state,
        judicial_state=case.judicial_state,
        findings=[(f.harm_category, f.severity, f.suspected_illegal) for f in findings],
        evidence=list(dict.fromkeys(e.description for e in evidence))[:3],
        steps=steps,
    )


def _detail(ev: StoredEvent) -> str:
    p: dict[str, Any] = ev.payload
    if ev.event == "judge":
        return str(p.get("disposition") or "")
    if ev.event == "pledge":
        return str(p.get("deadline") or "")
    if ev.event == "interview":
        return str(p.get("rectification_deadline") or "")
    if ev.event == "escalate":
        return str(p.get("ground") or "")
    if ev.event == "take_down":
        return " ".join(
            x for x in (str(p.get("decision_no") or ""), str(p.get("measure") or "")) if x
        )
    if ev.event == "refer":
        return str(p.get("authority") or "")
    if ev.event in ("flag", "add_evidence"):
        return ", ".join(sorted({str(e.get("source", "")) for e in p.get("evidence", [])}))
    return ""
