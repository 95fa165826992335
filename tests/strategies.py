"""Hypothesis strategies shared by the property tests: :mod:`appcase.testing`'s, bound to
Hunan 2018, and the tampering strategies that only appcase's own tests need.

The settings profiles (``ci``, ``thorough``, ``dev``) are registered in ``tests/conftest.py``
and chosen by ``APPCASE_HYPOTHESIS_PROFILE``. Orders that a property relies on (severity,
disposition) are written out here rather than read from the code under test, so that a
mutated order in the code is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import available_timezones

from hypothesis import strategies as st

from appcase import testing
from appcase.policies.campaign import Campaign, DeadlineParams, DispositionParams, builtin_campaign
from appcase.policies.disposition import FindingInput
from appcase.testing import (
    DISPOSITION_ORDER,
    NUDGES,
    SEVERITY_ORDER,
    disposition_params,
    disposition_rank,
    dispositions,
    events,
    factors,
    fixed_offsets,
    instants_in,
    instants_near,
    mostly,
    naive_datetimes,
    nudges,
    severities,
    severity_rank,
    zones,
)

__all__ = [
    "DISPOSITION_ORDER",
    "HUNAN",
    "NUDGES",
    "SEVERITY_ORDER",
    "ZONE_NAMES",
    "Tamper",
    "campaign_boundaries",
    "campaign_days",
    "campaign_with",
    "deadline_params",
    "disposition_params",
    "disposition_rank",
    "dispositions",
    "events",
    "factors",
    "finding_inputs",
    "finding_lists",
    "fixed_offsets",
    "harm_categories",
    "instants_in",
    "instants_near",
    "mostly",
    "naive_datetimes",
    "nudges",
    "severities",
    "severity_rank",
    "tampers",
    "zones",
]

HUNAN = builtin_campaign("hunan-2018")
"""The built-in campaign, loaded once."""

ZONE_NAMES = sorted(available_timezones())
"""Every IANA zone this machine knows."""

# --- the campaign-independent strategies, bound to Hunan 2018 ------------------------------


def harm_categories(campaign: Campaign = HUNAN) -> st.SearchStrategy[str]:
    """A harm category id of ``campaign`` (default Hunan 2018)."""
    return testing.harm_categories(campaign)


def finding_inputs(campaign: Campaign = HUNAN) -> st.SearchStrategy[FindingInput]:
    """One finding as the disposition policy sees it (default Hunan 2018)."""
    return testing.finding_inputs(campaign)


def finding_lists(
    campaign: Campaign = HUNAN, max_size: int = 7
) -> st.SearchStrategy[list[FindingInput]]:
    """Zero or more findings (default Hunan 2018)."""
    return testing.finding_lists(campaign, max_size)


deadline_params = testing.deadline_params(HUNAN)
"""Any valid deadline parameters over Hunan 2018's phases."""


def campaign_with(
    disposition: DispositionParams | None = None, deadlines: DeadlineParams | None = None
) -> Campaign:
    """Hunan 2018 with other policy parameters."""
    return testing.campaign_with(HUNAN, disposition, deadlines)


def campaign_boundaries(campaign: Campaign = HUNAN) -> list[datetime]:
    """Every instant a window of ``campaign`` (default Hunan 2018) opens or closes."""
    return testing.campaign_boundaries(campaign)


campaign_days = st.dates(min_value=date(2018, 1, 1), max_value=date(2018, 12, 31))
"""Local dates in 2018, the year of the built-in campaign (chinese_calendar covers it)."""


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
    "canonical",
)
"""Columns of the events table an edit may change (every column that is hashed, the
stored hash itself, and the bytes it was taken over)."""


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
