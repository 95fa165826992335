"""The sweep: apply deadline consequences at a given instant (逾期未整改).

Every pledged case whose rectification deadline passed before the sweep's instant is
escalated for takedown by the ``system`` actor with ground ``rectification_overdue`` and
reason "rectification overdue" (source 三(二): 整改不到位的, 向省互联网信息办公室提出下架、
关停服务等处置建议). Flagged cases not judged by the judgment deadline are reported, not
moved.

The sweep reads overdue cases in keyset-paginated batches (constant memory), writes each
batch in one transaction with a savepoint per case, so one failing case never stops the
others, and yields one :class:`SweepOutcome` per case. It is idempotent: escalated cases no
longer match, so a second sweep at the same instant changes nothing. On PostgreSQL each
batch is claimed with ``FOR UPDATE SKIP LOCKED`` so several sweepers can run at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

from appcase.clock import ensure_aware
from appcase.errors import ConcurrentModification, GuardRejected
from appcase.persistence.repository import CaseFilter
from appcase.policies import deadlines
from appcase.states import EscalationGround, Event, State
from appcase.workflow.commands import EscalatePayload
from appcase.workflow.context import ActorInfo, Command
from appcase.workflow.engine import SYSTEM_ACTOR, CaseEngine
from appcase.workflow.views import SweepOutcome, SweepReport

__all__ = ["OVERDUE_REASON", "summarise", "sweep"]

OVERDUE_REASON = "rectification overdue"
"""The reason recorded on every escalation the sweep makes."""


def sweep(engine: CaseEngine, at: datetime, *, batch_size: int = 500) -> Iterator[SweepOutcome]:
    """Apply deadline consequences at ``at``; yield one outcome per case touched.

    Args:
        engine: the engine of the campaign to sweep.
        at: the sweep's instant, aware (the escalation events occur at it).
        batch_size: cases per transaction.

    Yields:
        ``escalated`` / ``refused`` / ``conflict`` outcomes for overdue pledged cases, then
        ``unjudged`` outcomes for flagged cases past the judgment deadline.

    Raises:
        NaiveDatetimeError: if ``at`` is naive.
    """
    at = ensure_aware(at, "sweep time")
    campaign = engine.campaign
    system = ActorInfo(SYSTEM_ACTOR, "system", campaign.province.code)
    payload = EscalatePayload(ground=EscalationGround.RECTIFICATION_OVERDUE)
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
                cmd = Command(Event.ESCALATE, system, payload, at, OVERDUE_REASON, via_sweep=True)
                try:
                    with repo.session.begin_nested():
                        engine._fire_loaded(repo, row, cmd, None)
                    outcomes.append(SweepOutcome(case_id=row.id, status="escalated"))
                except GuardRejected as exc:
                    detail = "; ".join(f"[{r.code}] {r.message}" for r in exc.rejections)
                    outcomes.append(SweepOutcome(case_id=row.id, status="refused", detail=detail))
                except ConcurrentModification:
                    outcomes.append(SweepOutcome(case_id=row.id, status="conflict"))
        yield from outcomes
        if len(rows) < batch_size:
            break
        after = rows[-1][0].id

    judge_deadline = max(campaign.phase(p).deadline for p in campaign.windows[Event.JUDGE])
    if deadlines.deadline_passed(campaign, judge_deadline, at):
        after = None
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
                    detail=f"flagged, not judged by {judge_deadline}",
                )
            if len(flagged) < batch_size:
                break
            after = flagged[-1][0].id


def summarise(at: datetime, outcomes: Iterable[SweepOutcome]) -> SweepReport:
    """Count outcomes by status (consumes ``outcomes``)."""
    counts = Counter(o.status for o in outcomes)
    return SweepReport(
        at=at,
        escalated=counts["escalated"],
        refused=counts["refused"],
        conflict=counts["conflict"],
        unjudged=counts["unjudged"],
    )
