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

import heapq
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from appcase.clock import ensure_aware
from appcase.errors import CaseDamaged, InvalidInput, PersistenceError
from appcase.ports import (
    CaseFilter,
    EvidenceRecord,
    FindingRecord,
    Record,
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
        CaseDamaged: a case of the scope whose rows cannot be decoded, or an event whose
            payload is not an object (named; ``appcase audit verify`` tells more).
        PersistenceError: another stored value of the scope that cannot be read.

    The cases are read :data:`REPORT_BATCH` at a time in one snapshot: memory holds a
    batch, the counts, the overrides and the typical cases, not the campaign's events.
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
    tally = _Tally(codes, when, campaign.zone, typical)
    try:
        with engine.storage.reading(snapshot=True) as q:  # one snapshot, read in batches
            after: str | None = None
            while pairs := q.cases(
                campaign.id,
                CaseFilter(prefectures=tuple(codes), after_id=after, limit=REPORT_BATCH),
            ):
                ids = [c.id for c, _ in pairs]
                events, records = q.events_of(ids), q.records_of(ids)
                for case, app in pairs:
                    tally.add(case, app, events[case.id], records[case.id])
                after = ids[-1]
    except UNREADABLE_VALUES as exc:  # a stored value that does not decode
        raise PersistenceError(
            f"a stored row of the report's cases cannot be read ({type(exc).__name__}); "
            "'appcase audit verify' names the damaged case"
        ) from None

    typical_cases = [
        _typical(t.case, t.app, names, t.judged, t.evidence, t.events, engine)
        for t in sorted(tally.candidates, key=attrgetter("rank"))
    ]
    outcomes = tally.outcomes
    pledged, rectified = tally.cases_with["pledge"], tally.cases_with["rectify"]
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
        apps=tally.apps,
        used_by_schools=tally.used_by_schools,
        by_platform=dict(tally.platforms.most_common()),
        by_target_users=dict(tally.targets.most_common()),
        by_prefecture=tally.by_prefecture,
        flagged_cases=tally.cases_with["flag"],
        evidence_by_source=dict(tally.sources.most_common()),
        categories=[
            CategoryCount(
                category=h.id,
                name_zh=h.name_zh,
                name=h.name,
                evidence=tally.evidence[h.id],
                cases=tally.evidence_cases[h.id],
                findings={v.value: tally.findings[(h.id, v.value)] for v in Severity},
                suspected_illegal=tally.illegal[h.id],
            )
            for h in campaign.harm_categories
        ],
        typical=typical_cases,
        interviews=tally.events["interview"],
        pledges=tally.events["pledge"],
        verifications=tally.events["rectify"],
        dismissals=tally.events["dismiss"],
        returns=tally.events["return_for_rectification"],
        escalations=dict(tally.escalations.most_common()),
        takedowns=dict(tally.takedowns.most_common()),
        referrals=tally.cases_with["refer"],
        overrides=tally.overrides,
        outcomes=outcomes,
        pledged_cases=pledged,
        rectified_cases=rectified,
        rectification_rate=(rectified / pledged) if pledged else None,
        overdue_escalated=tally.escalations["rectification_overdue"],
        overdue_open=tally.overdue_open,
        awaiting_judgment=outcomes.get(State.FLAGGED.value, 0),
        awaiting_action=tally.awaiting_action,
        school_apps_with_findings=tally.school_apps_with_findings,
        prefecture_rates=tally.rates if prefecture is None else {},
        prefecture_names=names,
        notes=list(notes or []),
    )


REPORT_BATCH = 1000
"""Cases the summary report reads at a time, with their events and records (a batch per
read transaction): what it holds in memory is a batch, its counts, the overrides it lists
and its typical cases, whatever the size of the campaign."""


@dataclass(frozen=True)
class _Candidate:
    """A case that may be typical, with what its entry in the report shows. Ordered the
    other way round from its rank, so that the top of :class:`_Tally`'s heap is the least
    typical case kept."""

    rank: tuple[int, int, int, str]
    case: StoredCase
    app: StoredApp
    judged: list[FindingRecord]
    evidence: list[EvidenceRecord]
    events: list[StoredEvent]

    def __lt__(self, other: _Candidate) -> bool:
        return self.rank > other.rank


class _Tally:
    """The summary's counts, added up case by case (:func:`gather_summary`); it keeps
    the ``typical`` most typical cases seen (:func:`typical_rank`) and every override."""

    def __init__(self, codes: Sequence[str], when: datetime, zone: tzinfo, typical: int) -> None:
        self.when, self.zone, self.typical = when, zone, typical
        self.apps = self.used_by_schools = self.overdue_open = 0
        self.awaiting_action = self.school_apps_with_findings = 0
        self.platforms: Counter[str] = Counter()
        self.targets: Counter[str] = Counter()
        self.by_prefecture = dict.fromkeys(codes, 0)
        self.outcomes = {s.value: 0 for s in State if s is not State.NEW}
        self.events: Counter[str] = Counter()
        self.cases_with: Counter[str] = Counter()
        self.escalations: Counter[str] = Counter()
        self.takedowns: Counter[str] = Counter()
        self.overrides: list[Override] = []
        self.sources: Counter[str] = Counter()
        self.evidence: Counter[str] = Counter()
        self.evidence_cases: Counter[str] = Counter()
        self.findings: Counter[tuple[str, str]] = Counter()
        self.illegal: Counter[str] = Counter()
        self.rates = dict.fromkeys(codes, (0, 0))
        self.candidates: list[_Candidate] = []

    def add(
        self, case: StoredCase, app: StoredApp, events: list[StoredEvent], records: list[Record]
    ) -> None:
        """Count one case with its events (chain order) and records (each kind in the
        order written).

        Raises:
            CaseDamaged: an event's payload is not an object.
        """
        self.apps += 1
        self.used_by_schools += bool(app.used_by_schools)
        self.platforms.update(set(app.platforms))
        self.targets[app.target_users or "-"] += 1
        self.by_prefecture[case.prefecture] = self.by_prefecture.get(case.prefecture, 0) + 1
        self.outcomes[case.state] = self.outcomes.get(case.state, 0) + 1
        latest_judgment: int | None = None
        for ev in events:
            if not isinstance(ev.payload, dict):
                raise CaseDamaged(ev.case_id, f"event #{ev.seq}'s payload is not an object")
            self.events[ev.event] += 1
            if ev.event == "judge":
                latest_judgment = ev.position
            elif ev.event == "escalate":
                self.escalations[str(ev.payload.get("ground") or "-")] += 1
            elif ev.event == "take_down":
                self.takedowns[str(ev.payload.get("measure") or "takedown")] += 1
            if ev.override:
                self.overrides.append(
                    Override(
                        case_id=ev.case_id,
                        event=ev.event,
                        occurred_at=ev.occurred_at.astimezone(self.zone),
                        reason=str(ev.override.get("reason", "")),
                        authorised_by=str(ev.override.get("authorised_by", ev.actor_id)),
                        waived=[str(w) for w in ev.override.get("waived", [])],
                    )
                )
        kinds = {ev.event for ev in events}
        self.cases_with.update(kinds)
        if case.prefecture in self.rates:
            pledged, rectified = self.rates[case.prefecture]
            self.rates[case.prefecture] = (
                pledged + ("pledge" in kinds),
                rectified + ("rectify" in kinds),
            )
        categories: set[str] = set()
        judged: list[FindingRecord] = []
        evidence: list[EvidenceRecord] = []
        for r in records:
            if isinstance(r, EvidenceRecord):
                evidence.append(r)
                self.sources[r.source] += 1
                self.evidence[r.harm_category] += 1
                categories.add(r.harm_category)
            elif isinstance(r, FindingRecord):
                self.findings[(r.harm_category, r.severity)] += 1
                self.illegal[r.harm_category] += bool(r.suspected_illegal)
                if r.event_id == latest_judgment:
                    judged.append(r)
        self.evidence_cases.update(categories)
        if (
            case.state == State.PLEDGED.value
            and case.pledge_due_at is not None
            and case.pledge_due_at <= self.when
        ):
            self.overdue_open += 1
        if case.state == State.JUDGED.value and case.disposition != Disposition.NO_VIOLATION:
            self.awaiting_action += 1
        if judged and case.disposition != Disposition.NO_VIOLATION.value and app.used_by_schools:
            self.school_apps_with_findings += 1
        if not (
            judged
            or case.state in (State.TAKEN_DOWN.value, State.ESCALATED_FOR_TAKEDOWN.value)
            or case.judicial_state == JudicialState.REFERRED_TO_JUDICIARY.value
        ):
            return
        rank = typical_rank(case.state, case.judicial_state, [f.severity for f in judged], case.id)
        if len(self.candidates) < self.typical:
            heapq.heappush(self.candidates, _Candidate(rank, case, app, judged, evidence, events))
        elif self.candidates and rank < self.candidates[0].rank:
            heapq.heapreplace(
                self.candidates, _Candidate(rank, case, app, judged, evidence, events)
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
