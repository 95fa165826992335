"""Hypothesis strategies shared by the property tests.

The settings profiles (``ci``, ``thorough``, ``dev``) are registered in ``tests/conftest.py``
and chosen by ``APPCASE_HYPOTHESIS_PROFILE``. Orders that a property relies on (severity,
disposition) are written out here rather than read from the code under test, so that a
mutated order in the code is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import strategies as st

from appcase.policies.campaign import Campaign, DeadlineParams, DispositionParams, builtin_campaign
from appcase.policies.disposition import Factors, FindingInput
from appcase.states import Disposition, Event, Severity

HUNAN = builtin_campaign("hunan-2018")
"""The built-in campaign, loaded once."""

SEVERITY_ORDER: tuple[Severity, ...] = (Severity.MINOR, Severity.SERIOUS, Severity.SEVERE)
"""minor < serious < severe, as the source of truth for the properties."""

DISPOSITION_ORDER: tuple[Disposition, ...] = (
    Disposition.NO_VIOLATION,
    Disposition.INTERVIEW_RECTIFY,
    Disposition.TAKEDOWN,
)
"""no violation < interview and rectify < takedown (约谈整改一批、关停下架一批)."""


def severity_rank(s: Severity) -> int:
    """Position of a severity in :data:`SEVERITY_ORDER`."""
    return SEVERITY_ORDER.index(s)


def disposition_rank(d: Disposition) -> int:
    """Position of a disposition in :data:`DISPOSITION_ORDER`."""
    return DISPOSITION_ORDER.index(d)


# --- disposition -------------------------------------------------------------------------

severities = st.sampled_from(SEVERITY_ORDER)
dispositions = st.sampled_from(DISPOSITION_ORDER)


def harm_categories(campaign: Campaign = HUNAN) -> st.SearchStrategy[str]:
    """A harm category id of ``campaign``."""
    return st.sampled_from(sorted(campaign.harm_category_ids))


def finding_inputs(campaign: Campaign = HUNAN) -> st.SearchStrategy[FindingInput]:
    """One finding as the disposition policy sees it."""
    return st.builds(
        FindingInput,
        harm_category=harm_categories(campaign),
        severity=severities,
        suspected_illegal=st.booleans(),
    )


def finding_lists(
    campaign: Campaign = HUNAN, max_size: int = 7
) -> st.SearchStrategy[list[FindingInput]]:
    """Zero or more findings."""
    return st.lists(finding_inputs(campaign), max_size=max_size)


factors = st.builds(
    Factors,
    prior_cases=st.integers(min_value=0, max_value=6),
    seriously_lacking_responsibility=st.booleans(),
    used_by_schools=st.booleans(),
)
"""Circumstances of an app."""

disposition_params = st.builds(
    DispositionParams,
    takedown_severity=st.sampled_from(["serious", "severe"]),
    takedown_serious_count=st.integers(min_value=1, max_value=8),
    recidivism_aggravates=st.booleans(),
    school_use_aggravates=st.booleans(),
    lacking_responsibility_takedown=st.booleans(),
)
"""Any valid thresholds of the disposition policy (the campaign file's
``policy.disposition``); Hunan 2018's among them."""

deadline_params = st.builds(
    DeadlineParams,
    pledge_default_days=st.integers(min_value=1, max_value=40),
    pledge_cap_phase=st.sampled_from([p.id for p in HUNAN.phases]),
    working_days=st.booleans(),
    min_notice_hours=st.integers(min_value=0, max_value=72),
)
"""Any valid deadline parameters over Hunan 2018's phases."""


def campaign_with(
    disposition: DispositionParams | None = None, deadlines: DeadlineParams | None = None
) -> Campaign:
    """Hunan 2018 with other policy parameters."""
    policy = HUNAN.policy.model_copy(
        update={
            k: v
            for k, v in {"disposition": disposition, "deadlines": deadlines}.items()
            if v is not None
        }
    )
    return HUNAN.model_copy(update={"policy": policy})


# --- time ----------------------------------------------------------------------------------

ZONE_NAMES = sorted(available_timezones())
"""Every IANA zone this machine knows."""

fixed_offsets: st.SearchStrategy[tzinfo] = st.integers(
    min_value=-(24 * 60 - 1), max_value=24 * 60 - 1
).map(lambda m: timezone(timedelta(minutes=m)))
"""Fixed UTC offsets from -23:59 to +23:59."""

zones: st.SearchStrategy[tzinfo] = st.one_of(
    st.sampled_from(ZONE_NAMES).map(ZoneInfo), fixed_offsets, st.just(UTC)
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
the sizes of the zone offsets (±8 h is Asia/Shanghai's)."""

nudges: st.SearchStrategy[timedelta] = st.one_of(
    st.sampled_from(NUDGES),
    st.timedeltas(min_value=-timedelta(days=2), max_value=timedelta(days=2)),
)


def campaign_boundaries(campaign: Campaign = HUNAN) -> list[datetime]:
    """Every instant a window of ``campaign`` opens or closes: each phase's first instant and
    the first instant after its deadline day, in the campaign's zone."""
    out = []
    for p in campaign.phases:
        out.append(datetime(p.start.year, p.start.month, p.start.day, tzinfo=campaign.zone))
        after = p.deadline + timedelta(days=1)
        out.append(datetime(after.year, after.month, after.day, tzinfo=campaign.zone))
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
    """An aware instant in ``[start, end]``, written in a random zone."""
    span = int((end - start) / timedelta(microseconds=1))
    return st.builds(
        lambda us, z: (start + timedelta(microseconds=us)).astimezone(z),
        st.integers(min_value=0, max_value=span),
        zones,
    )


naive_datetimes = st.datetimes(
    min_value=datetime(2017, 1, 1), max_value=datetime(2019, 12, 31), timezones=st.none()
)
"""Datetimes with no time zone (an error everywhere in appcase)."""

campaign_days = st.dates(min_value=date(2018, 1, 1), max_value=date(2018, 12, 31))
"""Local dates in 2018, the year of the built-in campaign (chinese_calendar covers it)."""

events = st.sampled_from(list(Event))
"""Any event."""


# --- tampering with stored case histories (tests/property/test_tamper_property.py) ---------

TAMPER_COLUMNS = (
    "track",
    "event",
    "from_state",
    "to_state",
    "actor_id",
    "role",
    "jurisdiction",
    "occurred_at",
    "recorded_at",
    "payload",
    "reason",
    "override",
    "prev_hash",
    "hash",
)
"""Columns of the events table an edit may change (every column that is hashed, and the
stored hash itself)."""


@dataclass(frozen=True)
class Tamper:
    """One act of tampering with the stored events of a case, by hand, triggers dropped.

    Attributes:
        kind: ``edit`` (change ``column`` of event ``seq``), ``delete`` (event ``seq``),
            ``insert`` (a forged event with a valid hash at position ``seq``, the later
            events moved up), ``reorder`` (swap events ``seq`` and ``other``),
            ``delete_case`` (the case and everything of it), ``truncate`` (delete the last
            event and fix the case row to match), ``rewrite`` (edit event ``seq`` and
            recompute every hash after it and the case's head).
        case_id: the case tampered with.
    """

    kind: str
    case_id: str
    seq: int = 0
    other: int = 0
    column: str = ""


@st.composite
def tampers(draw: st.DrawFn, layout: Mapping[str, int]) -> Tamper:
    """A single act of tampering with one case of ``layout`` (case id → number of events)."""
    case_id = draw(st.sampled_from(sorted(layout)))
    n = layout[case_id]
    kinds = ["edit", "delete", "insert", "delete_case", "rewrite"]
    if n >= 2:
        kinds += ["reorder", "truncate"]
    kind = draw(st.sampled_from(kinds))
    if kind == "edit":
        column = draw(st.sampled_from(TAMPER_COLUMNS))
        return Tamper(kind, case_id, draw(st.integers(1, n)), column=column)
    if kind in ("delete", "rewrite"):
        return Tamper(kind, case_id, draw(st.integers(1, n)))
    if kind == "insert":
        return Tamper(kind, case_id, draw(st.integers(1, n + 1)))
    if kind == "reorder":
        first = draw(st.integers(1, n - 1))
        return Tamper(kind, case_id, first, draw(st.integers(first + 1, n)))
    return Tamper(kind, case_id)
