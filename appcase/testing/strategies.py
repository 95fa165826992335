"""Hypothesis strategies for any campaign: findings, evidence, event payloads, actors,
instants inside and outside every window, and whole sequences of commands.

Every strategy that depends on the campaign takes it as its first argument, so the same
strategies serve the built-in Hunan 2018 file and an analyst's own. Orders that a property
relies on (severity, disposition) are written out here rather than read from the code under
test, so that a mutated order in the code is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import strategies as st

from appcase.policies import deadlines
from appcase.policies.campaign import Campaign, DeadlineParams, DispositionParams
from appcase.policies.disposition import Factors, FindingInput
from appcase.states import Disposition, EscalationGround, Event, Severity
from appcase.states.identifiers import uscc_check_char

__all__ = [
    "DISPOSITION_ORDER",
    "NUDGES",
    "SEVERITY_ORDER",
    "ActorSpec",
    "CommandSpec",
    "actors",
    "app_identities",
    "campaign_boundaries",
    "campaign_days",
    "campaign_with",
    "commands",
    "deadline_params",
    "disposition_params",
    "disposition_rank",
    "dispositions",
    "events",
    "evidence_items",
    "factors",
    "finding_inputs",
    "finding_lists",
    "findings",
    "fixed_offsets",
    "harm_categories",
    "instants_in",
    "instants_in_window",
    "instants_near",
    "instants_outside_window",
    "mostly",
    "naive_datetimes",
    "nudges",
    "payloads",
    "severities",
    "severity_rank",
    "unique_app",
    "zones",
]

SEVERITY_ORDER: tuple[Severity, ...] = (Severity.MINOR, Severity.SERIOUS, Severity.SEVERE)
"""minor < serious < severe, as the source of truth for the properties."""

DISPOSITION_ORDER: tuple[Disposition, ...] = (
    Disposition.NO_VIOLATION,
    Disposition.INTERVIEW_RECTIFY,
    Disposition.TAKEDOWN,
)
"""no violation < interview and rectify < takedown (约谈整改一批、关停下架一批)."""


def severity_rank(s: Severity) -> int:
    """Position of a severity in :data:`SEVERITY_ORDER` (0 = minor)."""
    return SEVERITY_ORDER.index(s)


def disposition_rank(d: Disposition) -> int:
    """Position of a disposition in :data:`DISPOSITION_ORDER` (0 = no violation)."""
    return DISPOSITION_ORDER.index(d)


def mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int = 4) -> Any:
    """``usual`` ``odds`` times as often as ``rare`` (before shrinking).

    Args:
        usual: the common strategy.
        rare: the occasional one.
        odds: how many times more often ``usual`` is drawn.

    Returns:
        A strategy drawing from one or the other.
    """
    return st.integers(0, odds).flatmap(lambda i: rare if i == odds else usual)


# --- disposition ---------------------------------------------------------------------------

severities: st.SearchStrategy[Severity] = st.sampled_from(SEVERITY_ORDER)
"""Any severity, minor first (so that shrinking goes towards minor)."""

dispositions: st.SearchStrategy[Disposition] = st.sampled_from(DISPOSITION_ORDER)
"""Any disposition, no violation first."""


def harm_categories(campaign: Campaign) -> st.SearchStrategy[str]:
    """A harm category id of ``campaign`` (sorted, so shrinking goes to the first)."""
    return st.sampled_from(sorted(campaign.harm_category_ids))


def finding_inputs(campaign: Campaign) -> st.SearchStrategy[FindingInput]:
    """One finding as the disposition policy sees it, in a category of ``campaign``."""
    return st.builds(
        FindingInput,
        harm_category=harm_categories(campaign),
        severity=severities,
        suspected_illegal=st.booleans(),
    )


def finding_lists(campaign: Campaign, max_size: int = 7) -> st.SearchStrategy[list[FindingInput]]:
    """Zero or more findings (at most ``max_size``) in categories of ``campaign``."""
    return st.lists(finding_inputs(campaign), max_size=max_size)


def findings(
    campaign: Campaign, evidence_count: int = 1, max_size: int = 3
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Findings as a ``judge`` payload carries them (JSON-ready dicts).

    Args:
        campaign: whose harm categories to use.
        evidence_count: how many evidence items the case holds (refs run 1..this, ≥ 1).
        max_size: at most this many findings.

    Returns:
        A strategy of lists of ``{"harm_category", "severity", "evidence_refs",
        "suspected_illegal"}``.
    """
    refs = st.lists(st.integers(1, max(evidence_count, 1)), min_size=1, max_size=2, unique=True)
    one = st.fixed_dictionaries(
        {
            "harm_category": harm_categories(campaign),
            "severity": severities.map(str),
            "evidence_refs": refs,
            "suspected_illegal": st.booleans(),
        }
    )
    return st.lists(one, max_size=max_size)


def evidence_items(campaign: Campaign) -> st.SearchStrategy[dict[str, Any]]:
    """One evidence item as a ``flag`` or ``add_evidence`` payload carries it."""
    return st.fixed_dictionaries(
        {
            "harm_category": harm_categories(campaign),
            "description": st.sampled_from(["低俗图片", "不良信息截图", "screenshot"]),
        }
    )


factors: st.SearchStrategy[Factors] = st.builds(
    Factors,
    prior_cases=st.integers(min_value=0, max_value=6),
    seriously_lacking_responsibility=st.booleans(),
    used_by_schools=st.booleans(),
)
"""Circumstances of an app (prior cases 0..6)."""

disposition_params: st.SearchStrategy[DispositionParams] = st.builds(
    DispositionParams,
    takedown_severity=st.sampled_from(["serious", "severe"]),
    takedown_serious_count=st.integers(min_value=1, max_value=8),
    recidivism_aggravates=st.booleans(),
    school_use_aggravates=st.booleans(),
    lacking_responsibility_takedown=st.booleans(),
)
"""Any valid thresholds of the disposition policy without a ladder (the campaign file's
``policy.disposition``); Hunan 2018's among them."""


def deadline_params(campaign: Campaign) -> st.SearchStrategy[DeadlineParams]:
    """Any valid deadline parameters over ``campaign``'s phases."""
    return st.builds(
        DeadlineParams,
        pledge_default_days=st.integers(min_value=1, max_value=40),
        pledge_cap_phase=st.sampled_from([p.id for p in campaign.phases]),
        working_days=st.booleans(),
        min_notice_hours=st.integers(min_value=0, max_value=72),
    )


def campaign_with(
    campaign: Campaign,
    disposition: DispositionParams | None = None,
    deadlines: DeadlineParams | None = None,
) -> Campaign:
    """``campaign`` with other policy parameters.

    Args:
        campaign: the campaign to copy.
        disposition: thresholds to put instead of its own (``None``: keep).
        deadlines: deadline parameters to put instead of its own (``None``: keep).

    Returns:
        A new :class:`~appcase.policies.campaign.Campaign` (not validated again).
    """
    changes = {"disposition": disposition, "deadlines": deadlines}
    policy = campaign.policy.model_copy(update={k: v for k, v in changes.items() if v})
    return campaign.model_copy(update={"policy": policy})


# --- time ----------------------------------------------------------------------------------

fixed_offsets: st.SearchStrategy[tzinfo] = st.integers(
    min_value=-(24 * 60 - 1), max_value=24 * 60 - 1
).map(lambda m: timezone(timedelta(minutes=m)))
"""Fixed UTC offsets from -23:59 to +23:59."""

zones: st.SearchStrategy[tzinfo] = st.one_of(
    st.sampled_from(sorted(available_timezones())).map(ZoneInfo), fixed_offsets, st.just(UTC)
)
"""A time zone an instant may be written in: any IANA zone, any fixed offset, or UTC."""

NUDGES: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(microseconds=1),
    -timedelta(microseconds=1),
    timedelta(seconds=1),
    -timedelta(seconds=1),
    timedelta(hours=1),
    -timedelta(hours=1),
    timedelta(hours=8),
    -timedelta(hours=8),
    timedelta(hours=16),
    -timedelta(hours=16),
    timedelta(days=1),
    -timedelta(days=1),
)
"""Offsets from a boundary that matter: the boundary itself, a microsecond either side, and
the sizes of common zone offsets (±8 h is Asia/Shanghai's)."""

nudges: st.SearchStrategy[timedelta] = st.one_of(
    st.sampled_from(NUDGES),
    st.timedeltas(min_value=-timedelta(days=2), max_value=timedelta(days=2)),
)
"""A small offset from a boundary: one of :data:`NUDGES` or anything within two days."""


def campaign_boundaries(campaign: Campaign) -> list[datetime]:
    """Every instant a window of ``campaign`` opens or closes.

    Returns:
        Each phase's first instant and the first instant after its deadline day, aware in the
        campaign's zone, sorted, without repeats.
    """
    out = []
    for p in campaign.phases:
        out.append(deadlines.day_start(campaign, p.start))
        out.append(deadlines.due_at(campaign, p.deadline))
    return sorted(set(out))


def instants_near(boundaries: list[datetime]) -> st.SearchStrategy[datetime]:
    """An aware instant near one of ``boundaries``, written in a random zone."""
    return st.builds(
        lambda b, d, z: (b + d).astimezone(z),
        st.sampled_from(boundaries),
        nudges,
        zones,
    )


def instants_in(start: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    """An aware instant in ``[start, end]`` (both aware), written in a random zone."""
    span = int((end - start) / timedelta(microseconds=1))
    return st.builds(
        lambda us, z: (start + timedelta(microseconds=us)).astimezone(z),
        st.integers(min_value=0, max_value=span),
        zones,
    )


def instants_in_window(campaign: Campaign, event: Event) -> st.SearchStrategy[datetime]:
    """An aware instant inside one of ``event``'s windows in ``campaign``, any zone."""
    spans = deadlines.windows_for(campaign, event)
    return st.one_of([instants_in(start, end - timedelta(microseconds=1)) for start, end in spans])


def instants_outside_window(campaign: Campaign, event: Event) -> st.SearchStrategy[datetime]:
    """An aware instant outside every window of ``event`` in ``campaign``, within 30 days of
    one of the campaign's boundaries, written in any zone."""
    near = st.builds(
        lambda b, d, z: (b + d).astimezone(z),
        st.sampled_from(campaign_boundaries(campaign)),
        st.one_of(st.sampled_from(NUDGES), st.timedeltas(-timedelta(days=30), timedelta(days=30))),
        zones,
    )
    return near.filter(lambda at: not deadlines.window_open(campaign, event, at))


naive_datetimes: st.SearchStrategy[datetime] = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001 -- naive on purpose
    max_value=datetime(2099, 12, 31),  # noqa: DTZ001 -- naive on purpose
    timezones=st.none(),
)
"""Datetimes with no time zone (an error everywhere in appcase)."""


def campaign_days(campaign: Campaign) -> st.SearchStrategy[date]:
    """Local dates in the calendar years the campaign's phases touch."""
    first = min(p.start for p in campaign.phases)
    last = max(p.deadline for p in campaign.phases)
    return st.dates(min_value=date(first.year, 1, 1), max_value=date(last.year, 12, 31))


events: st.SearchStrategy[Event] = st.sampled_from(list(Event))
"""Any event."""


# --- actors and apps -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """An actor to register: ``engine.add_actor(id, role=role, jurisdiction=jurisdiction)``.

    Attributes:
        id: the actor id, ``"<role>-<code>"``.
        role: a role id of the campaign (or ``"system"``).
        jurisdiction: a GB/T 2260 code: the province's, or a prefecture's.
    """

    id: str
    role: str
    jurisdiction: str


def actors(campaign: Campaign, *, prefectures: int | None = None) -> list[ActorSpec]:
    """One actor of every role in every jurisdiction it can hold (not a strategy: the whole
    cast, in a stable order; draw from it with ``st.sampled_from``).

    Args:
        campaign: whose roles and jurisdictions to use.
        prefectures: only the first this many prefectures (default: all).

    Returns:
        Province-scope roles at the province's code; prefecture-scope roles in each
        prefecture kept.
    """
    codes = [p.code for p in campaign.prefectures][:prefectures]
    out: list[ActorSpec] = []
    for role in campaign.roles:
        places = [campaign.province.code] if role.scope == "province" else codes
        out.extend(ActorSpec(f"{role.id}-{code}", role.id, code) for code in places)
    return out


def unique_app(n: int, prefecture: str, **extra: Any) -> dict[str, Any]:
    """A valid app identity whose credit code is unique per ``(n, prefecture)``, so that no
    case counts as another's prior case (recidivism).

    Args:
        n: a number, unique within the prefecture.
        prefecture: the GB/T 2260 code of the app's prefecture.
        extra: more fields (e.g. ``used_by_schools=True``).

    Returns:
        ``{"name", "operator", "uscc", "prefecture", **extra}``.
    """
    first17 = f"91{prefecture}T{n:08d}"
    return {
        "name": f"独立测试应用{n}",
        "operator": f"测试运营公司{n}",
        "uscc": first17 + uscc_check_char(first17),
        "prefecture": prefecture,
        **extra,
    }


def app_identities(campaign: Campaign) -> st.SearchStrategy[dict[str, Any]]:
    """A valid app identity in a prefecture of ``campaign`` (distinct credit codes per
    number drawn, so two draws are the same app only if they are equal)."""
    return st.builds(
        lambda n, code, schools: unique_app(n, code, used_by_schools=schools),
        st.integers(0, 99_999_999),
        st.sampled_from([p.code for p in campaign.prefectures]),
        st.booleans(),
    )


# --- payloads and commands -----------------------------------------------------------------


def payloads(campaign: Campaign, event: Event, at: datetime) -> st.SearchStrategy[dict[str, Any]]:
    """A complete, well-formed payload for ``event`` acted at ``at`` (aware).

    The payload is valid on its own; whether the command succeeds also depends on the case
    (its state, its evidence count, the policy's minimum for a judgment).

    Args:
        campaign: whose categories and deadlines to use.
        event: the event.
        at: the instant of the act; dates in the payload are local to the campaign.

    Returns:
        A strategy of JSON-ready payload dicts.
    """
    cap = deadlines.rectification_deadline_cap(campaign)
    day = deadlines.local_day(campaign, at)
    due = st.integers(0, 20).map(lambda k: min(day + timedelta(days=k), cap).isoformat())
    if event in (Event.FLAG, Event.ADD_EVIDENCE):
        return st.fixed_dictionaries(
            {"evidence": st.lists(evidence_items(campaign), min_size=1, max_size=2)}
        )
    if event is Event.JUDGE:
        return st.fixed_dictionaries(
            {
                "findings": findings(campaign),
                "disposition": dispositions.map(str),
                "seriously_lacking_responsibility": st.booleans(),
            }
        )
    if event is Event.INTERVIEW:
        return st.fixed_dictionaries(
            {
                "notice_given_at": st.just((at - timedelta(days=2)).isoformat()),
                "held_at": st.just(at.isoformat()),
                "place": st.just("约谈室"),
                "officers": st.just(["张伟", "李娜"]),
                "problems": st.just(["传播低俗信息"]),
                "rectification_deadline": due,
            }
        )
    if event is Event.PLEDGE:
        return st.fixed_dictionaries(
            {
                "signed_by": st.just("王经理"),
                "signed_at": st.just((at - timedelta(hours=1)).isoformat()),
                "commitments": st.sampled_from(
                    [["清理违规信息"], ["清理违规信息", "完善审核制度"]]
                ),
                "deadline": due,
            }
        )
    if event is Event.RECTIFY:
        return st.just({"checks": [{"commitment": "1", "verified": True}]})
    if event is Event.ESCALATE:
        return st.fixed_dictionaries(
            {"ground": st.sampled_from([g.value for g in EscalationGround])}
        )
    if event is Event.TAKE_DOWN:
        return st.just({"decision_no": "〔2018〕7号"})
    if event is Event.REFER:
        return st.just({"authority": "公安机关网安部门"})
    if event is Event.RETURN_FOR_RECTIFICATION:
        return st.just({})
    return st.just({})


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command of a drawn sequence: ``actor`` fires ``event`` at ``at``.

    Attributes:
        event: the event (``survey`` opens a new case: ``payload`` is the app identity).
        actor: an actor id of :func:`actors`.
        at: the aware instant of the act.
        payload: the command's payload.
        case: for events on a case, the index of an earlier ``survey`` in the sequence.
    """

    event: Event
    actor: str
    at: datetime
    payload: dict[str, Any]
    case: int = 0


@st.composite
def commands(draw: st.DrawFn, campaign: Campaign, max_size: int = 12) -> list[CommandSpec]:
    """A whole sequence of commands for ``campaign``: one or more surveys and events on the
    surveyed cases, by any actor of :func:`actors` (prefectures: the first two), at instants
    moving forward through the campaign's phases, each with a well-formed payload.

    Args:
        draw: supplied by hypothesis.
        campaign: the campaign.
        max_size: at most this many commands (≥ 1).

    Returns:
        The list of :class:`CommandSpec`, the first a survey.
    """
    cast = actors(campaign, prefectures=2)
    start = campaign_boundaries(campaign)[0] + timedelta(hours=8)
    at = start
    out: list[CommandSpec] = []
    surveys = 0
    for i in range(draw(st.integers(1, max_size))):
        at += draw(st.timedeltas(timedelta(0), timedelta(days=5)), label="step")
        if i == 0 or draw(st.integers(0, 5)) == 0:
            app = unique_app(
                surveys, draw(st.sampled_from([p.code for p in campaign.prefectures[:2]]))
            )
            actor = draw(st.sampled_from([a.id for a in cast]))
            out.append(CommandSpec(Event.SURVEY, actor, at, app, surveys))
            surveys += 1
            continue
        event = draw(st.sampled_from([e for e in Event if e is not Event.SURVEY]))
        actor = draw(st.sampled_from([a.id for a in cast]))
        payload = draw(payloads(campaign, event, at))
        out.append(CommandSpec(event, actor, at, payload, draw(st.integers(0, surveys - 1))))
    return out
