"""The engine's read filters: what a person asks for (states, a phase, a sort) checked and
turned into the :class:`~appcase.ports.CaseFilter` the store reads with."""

from __future__ import annotations

from datetime import datetime, timedelta

from appcase.clock import ensure_aware
from appcase.errors import InvalidInput
from appcase.policies import deadlines
from appcase.policies.campaign import Campaign
from appcase.ports import CASE_ORDERS, CaseFilter
from appcase.states import JudicialState, State

__all__ = ["MAX_LIST_LIMIT", "case_filter"]

MAX_LIST_LIMIT = 10**9
"""The largest ``limit`` a listing takes (a database needs it to fit in 64 bits)."""


def case_filter(
    campaign: Campaign,
    *,
    states: tuple[str, ...] = (),
    judicial_states: tuple[str, ...] = (),
    prefectures: tuple[str, ...] = (),
    overdue_at: datetime | None = None,
    text: str | None = None,
    phase: str | None = None,
    sort: str = "id",
    limit: int | None = None,
) -> CaseFilter:
    """The store's filter for a listing of ``campaign``'s cases (arguments as
    :meth:`~appcase.workflow.engine.CaseEngine.list_cases` takes them).

    A phase becomes the window of instants from local midnight of its first day to local
    midnight after its deadline day, in the campaign's zone.

    Raises:
        InvalidInput: an unknown state, judicial state, phase or sort, or a naive
            ``overdue_at``.
    """
    for s in states:
        if s not in {x.value for x in State}:
            raise InvalidInput(f"unknown state {s!r}")
    for s in judicial_states:
        if s not in {x.value for x in JudicialState}:
            raise InvalidInput(f"unknown judicial state {s!r}")
    if limit is not None and not 0 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"a limit is from 0 to {MAX_LIST_LIMIT:,}, not {str(limit)[:40]}")
    if sort not in CASE_ORDERS:
        raise InvalidInput(f"unknown sort {sort!r}; one of {', '.join(CASE_ORDERS)}")
    window: tuple[datetime, datetime] | tuple[None, None] = (None, None)
    if phase is not None:
        try:
            p = campaign.phase(phase)
        except KeyError:
            known = ", ".join(x.id for x in campaign.phases)
            raise InvalidInput(f"unknown phase {phase!r}; phases are: {known}") from None
        window = (
            deadlines.day_start(campaign, p.start),
            deadlines.day_start(campaign, p.deadline + timedelta(1)),
        )
    return CaseFilter(
        states=states,
        judicial_states=judicial_states,
        prefectures=prefectures,
        pledge_due_before=ensure_aware(overdue_at, "overdue time") if overdue_at else None,
        text=text,
        last_event_from=window[0],
        last_event_before=window[1],
        order=sort,
        limit=limit,
    )
