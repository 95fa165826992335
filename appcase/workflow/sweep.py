"""The sweep: apply deadline consequences at a given instant (逾期未整改).

Every pledged case whose rectification deadline passed before the sweep's instant is
escalated for takedown by the ``system`` actor with ground ``rectification_overdue`` and
reason "rectification overdue" (source 三(二): 对...整改不到位的, 向省互联网信息办公室提出
下架、关停服务等处置建议). The deadline day is inclusive and read in the campaign's zone
(:func:`appcase.policies.deadlines.deadline_passed`). Flagged cases not judged by the
judgment deadline (研判整治（3月31日前完成）) are reported, never moved.

The escalation goes through the same guards as an officer's command; ``system`` may act
only here (:mod:`appcase.policies.permissions`), so a sweep outside the escalation window is
refused per case and an officer escalates with an override instead.

The sweep reads overdue cases in keyset-paginated batches (constant memory), writes each
batch in one transaction with a savepoint per case, so one failing case never stops the
others, and yields one :class:`~appcase.workflow.views.SweepOutcome` per case. It is
idempotent: escalated cases no longer match, so a second sweep at the same instant changes
nothing. On PostgreSQL each batch is claimed with ``FOR UPDATE SKIP LOCKED`` so several
sweepers can run at once; on SQLite a batch holds the write lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.orm.exc import StaleDataError

from appcase.campaign import Campaign
from appcase.clock import ensure_aware
from appcase.errors import ConcurrentModification, GuardRejected, InvalidInput
from appcase.persistence.repository import CaseFilter
from appcase.policies import deadlines, permissions
from appcase.states import EscalationGround, Event, State
from appcase.workflow.commands import EscalatePayload
from appcase.workflow.context import ActorInfo, Command
from appcase.workflow.engine import SYSTEM_ACTOR, CaseEngine
from appcase.workflow.views import SweepOutcome, SweepReport

__all__ = ["OVERDUE_REASON", "judgment_deadline", "summarise", "sweep"]

OVERDUE_REASON = "rectification overdue"
"""The reason recorded on every escalation the sweep makes."""

FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far past the clock's now a sweep instant may lie (the ``chronology`` guard's slack)."""

log = structlog.get_logger(__name__)


def judgment_deadline(campaign: Campaign) -> date:
    """The last day of the last window of ``judge`` (Hunan 2018: 2018-03-31, 研判整治).

    Args:
        campaign: the campaign whose phases and windows apply.

    Returns:
        A local date; the whole day is inside the window.
    """
    return max(campaign.phase(p).deadline for p in campaign.windows[Event.JUDGE])


def sweep(engine: CaseEngine, at: datetime, *, batch_size: int = 500) -> Iterator[SweepOutcome]:
    """Apply deadline consequences at ``at``; yield one outcome per case concerned.

    Args:
        engine: the engine of the campaign to sweep.
        at: the sweep's instant, aware, any zone (the escalation events occur at it); not
            more than a few minutes after the engine clock's now.
        batch_size: cases per transaction (≥ 1).

    Returns:
        An iterator, evaluated lazily batch by batch, of ``escalated`` / ``refused`` /
        ``conflict`` / ``failed`` outcomes for overdue pledged cases in case id order, then
        ``unjudged`` outcomes for flagged cases once the judgment deadline has passed.
        Nothing is written for a case that is not ``escalated``.

    Raises:
        NaiveDatetimeError: if ``at`` is naive.
        InvalidInput: if ``at`` lies in the future or ``batch_size`` < 1.
    """
    at = ensure_aware(at, "sweep time")
    if batch_size < 1:
        raise InvalidInput(f"batch size must be at least 1, not {batch_size}")
    now = engine.clock.now()
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput(
            f"sweep time {at.isoformat()} is in the future (now {now.isoformat()}); "
            "a deadline can only be found missed after it"
        )
    return _run(engine, at, batch_size)


def _run(engine: CaseEngine, at: datetime, batch_size: int) -> Iterator[SweepOutcome]:
    yield from _escalate_overdue(engine, at, batch_size)
    yield from _unjudged(engine, at, batch_size)


def _escalate_overdue(engine: CaseEngine, at: datetime, batch_size: int) -> Iterator[SweepOutcome]:
    campaign = engine.campaign
    system = ActorInfo(SYSTEM_ACTOR, permissions.SYSTEM_ROLE, campaign.province.code)
    payload = EscalatePayload(ground=EscalationGround.RECTIFICATION_OVERDUE)
    cmd = Command(Event.ESCALATE, system, payload, at, OVERDUE_REASON, via_sweep=True)
    after: str | None = None
    while True:
        outcomes: list[SweepOutcome] = []
        with engine.store.transaction() as repo:
            rows = repo.cases(
                campaign.id,
                CaseFilter(
                    states=(State.PLEDGED.value,),
                    pledge_due_before=at,
                    after_id=after,
                    limit=batch_size,
                    skip_locked=True,
                ),
            )
            for row, _app in rows:
                case_id = row.id
                try:
                    with repo.session.begin_nested():
                        engine._fire_loaded(repo, row, cmd, None)
                    outcomes.append(SweepOutcome(case_id=case_id, status="escalated"))
                except GuardRejected as exc:
                    detail = "; ".join(f"[{r.code}] {r.message}" for r in exc.rejections)
                    outcomes.append(SweepOutcome(case_id=case_id, status="refused", detail=detail))
                except (ConcurrentModification, StaleDataError):
                    outcomes.append(SweepOutcome(case_id=case_id, status="conflict"))
                except Exception as exc:  # one failing case never stops the others
                    log.error("sweep_case_failed", case_id=case_id, exc_info=True)
                    detail = f"{type(exc).__name__}: {exc}"
                    outcomes.append(SweepOutcome(case_id=case_id, status="failed", detail=detail))
        yield from outcomes
        if len(rows) < batch_size:
            return
        after = rows[-1][0].id


def _unjudged(engine: CaseEngine, at: datetime, batch_size: int) -> Iterator[SweepOutcome]:
    campaign = engine.campaign
    last_day = judgment_deadline(campaign)
    if not deadlines.deadline_passed(campaign, last_day, at):
        return
    after: str | None = None
    while True:
        with engine.store.transaction() as repo:
            flagged = repo.cases(
                campaign.id,
                CaseFilter(states=(State.FLAGGED.value,), after_id=after, limit=batch_size),
            )
        for row, _app in flagged:
            yield SweepOutcome(
                case_id=row.id,
                status="unjudged",
                detail=f"flagged, not judged by {last_day}",
            )
        if len(flagged) < batch_size:
            return
        after = flagged[-1][0].id


def summarise(at: datetime, outcomes: Iterable[SweepOutcome]) -> SweepReport:
    """Count outcomes by status (consumes ``outcomes``, keeping only the counts).

    Args:
        at: the sweep's instant, aware.
        outcomes: the sweep's outcomes (e.g. the generator :func:`sweep` returns).

    Returns:
        The totals per status.
    """
    counts = Counter(o.status for o in outcomes)
    return SweepReport(
        at=at,
        escalated=counts["escalated"],
        refused=counts["refused"],
        conflict=counts["conflict"],
        unjudged=counts["unjudged"],
        failed=counts["failed"],
    )
