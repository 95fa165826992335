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

The sweep reads overdue cases in keyset-paginated batches (constant memory), each with the
hashes its head check needs, and handles each batch in one transaction through a
:class:`~appcase.workflow.pipeline.Batch`: the guards that depend on the sweep alone (the
system actor's permission, the escalation window, the reason) run once per sweep and their
verdicts apply to every case; every case goes through the per-case guards and the machine on
its own (a damaged, refused or failing case writes nothing and never stops the others) and
its record is built from a template (the batch's events are recorded at one instant, the
clock's now when the batch begins); then the batch's events are inserted and its cases
updated, version-checked, with one statement each. If that write fails or a version check
loses a race, the batch is rolled back and redone case by case through the per-case pipeline
(:meth:`~appcase.workflow.pipeline.Pipeline.run`), each case in its own savepoint, from the
cases as read (the transaction still holds them). It yields one
:class:`~appcase.workflow.views.SweepOutcome` per case. It is idempotent: escalated cases
no longer match, so a second sweep at the same instant changes nothing. On PostgreSQL each
batch is claimed with ``FOR UPDATE SKIP LOCKED`` so several sweepers can run at once; on
SQLite a batch holds the write lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from functools import partial

import structlog

from appcase.clock import ensure_aware
from appcase.errors import (
    CaseDamaged,
    ConcurrentModification,
    DatabaseUnavailable,
    GuardRejected,
    InvalidInput,
    PersistenceError,
)
from appcase.policies import deadlines, permissions
from appcase.policies.campaign import Campaign
from appcase.ports import CaseFilter, CaseStore, StoredCase
from appcase.states import EscalationGround, Event, State
from appcase.workflow.commands import EscalatePayload
from appcase.workflow.context import ActorInfo, Command
from appcase.workflow.damage import HEAD_DAMAGE, intact, unreadable_rows
from appcase.workflow.engine import CaseEngine
from appcase.workflow.pipeline import SYSTEM_ACTOR, Batch, Fired
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
    batch = Batch(engine.pipeline, cmd)
    after = ""  # every id is greater: the first batch walks the keyset index as the others
    while True:
        flt = CaseFilter(
            states=(State.PLEDGED.value,),
            pledge_due_before=at,
            after_id=after,
            limit=batch_size,
            skip_locked=True,
        )
        with engine.storage.transaction() as store:
            heads, unreadable, last = unreadable_rows(partial(store.case_heads, campaign.id, flt))
            batch.begin(engine.clock.now())
            outcomes, ready = _checked(batch, store, heads)
            if not _written(batch, store, ready):
                outcomes = [_one(engine, store, head, cmd) for head in heads]
        yield from (_failure(c, CaseDamaged(c, why)) for c, _, why in unreadable)
        yield from outcomes
        if len(heads) + len(unreadable) < batch_size:
            return
        after = last or heads[-1][0].id


_Head = tuple[StoredCase, str | None, str | None]
"""A case as the batch read it, with the hashes of its events number ``event_count`` and
``event_count + 1``."""


def _damaged(head: _Head) -> SweepOutcome | None:
    """The outcome of a case whose head is not its last stored event, else ``None``."""
    case, last, beyond = head
    if intact(case, last, beyond):
        return None
    return _failure(case.id, CaseDamaged(case.id, HEAD_DAMAGE))


def _checked(
    batch: Batch, store: CaseStore, heads: list[_Head]
) -> tuple[list[SweepOutcome], list[Fired]]:
    """Check the command on every case of a batch (a damaged, refused or failing case is
    reported and left out); nothing is written.

    Returns:
        One outcome per case, in order, and the cases ready to be written.
    """
    outcomes: list[SweepOutcome] = []
    ready: list[Fired] = []
    for head in heads:
        damaged = _damaged(head)
        if damaged is not None:
            outcomes.append(damaged)
            continue
        case = head[0]
        try:
            ready.append(batch.prepare(store, case))
        except Exception as exc:  # reported per case, as _one does
            outcomes.append(_failure(case.id, exc))
            continue
        outcomes.append(SweepOutcome(case_id=case.id, status="escalated"))
    return outcomes, ready


def _written(batch: Batch, store: CaseStore, ready: list[Fired]) -> bool:
    """Write the batch's checked cases in a savepoint: ``False`` if that failed or lost a
    race (then nothing of it was written, and the caller redoes it case by case)."""
    try:
        with store.savepoint():
            if not batch.write(store, ready):
                raise _BatchLost
    except DatabaseUnavailable:  # the transaction is lost: nothing to redo it in
        raise
    except Exception:  # any failure of the batch write: redone case by case, each reported
        log.info("sweep_batch_redone_per_case", cases=len(ready))
        return False
    return True


class _BatchLost(Exception):
    """A version check of the batch update found a case changed meanwhile."""


def _one(engine: CaseEngine, store: CaseStore, head: _Head, cmd: Command) -> SweepOutcome:
    """Fire ``cmd`` on one case of a batch that could not be written, through the per-case
    pipeline in its own savepoint, from the case as the batch read it (the batch's
    transaction still holds it, and the case's update is version-checked); a damaged case
    is reported as the batch found it."""
    damaged = _damaged(head)
    if damaged is not None:
        return damaged
    case = head[0]
    try:
        with store.savepoint():
            engine.pipeline.run(store, case, cmd)
    except DatabaseUnavailable:  # the transaction is lost: so are the others
        raise
    except Exception as exc:  # one failing case never stops the others
        return _failure(case.id, exc)
    return SweepOutcome(case_id=case.id, status="escalated")


def _failure(case_id: str, exc: Exception) -> SweepOutcome:
    """The outcome of a case whose command raised ``exc``."""
    if isinstance(exc, GuardRejected):
        detail = "; ".join(f"[{r.code}] {r.message}" for r in exc.rejections)
        return SweepOutcome(case_id=case_id, status="refused", detail=detail)
    if isinstance(exc, ConcurrentModification):
        return SweepOutcome(case_id=case_id, status="conflict")
    if isinstance(exc, PersistenceError | CaseDamaged):
        # The store's words: never the statement or its parameters.
        detail = str(exc)
        log.error("sweep_case_failed", case_id=case_id, error=detail)
        return SweepOutcome(case_id=case_id, status="failed", detail=detail)
    log.error("sweep_case_failed", case_id=case_id, exc_info=exc)
    return SweepOutcome(case_id=case_id, status="failed", detail=f"{type(exc).__name__}: {exc}")


def _unjudged(engine: CaseEngine, at: datetime, batch_size: int) -> Iterator[SweepOutcome]:
    campaign = engine.campaign
    last_day = judgment_deadline(campaign)
    if not deadlines.deadline_passed(campaign, last_day, at):
        return
    after: str | None = None
    while True:
        flt = CaseFilter(states=(State.FLAGGED.value,), after_id=after, limit=batch_size)
        with engine.storage.reading() as store:
            flagged, unreadable, last = unreadable_rows(
                partial(store.case_states, campaign.id, flt)
            )
        yield from (_failure(c, CaseDamaged(c, why)) for c, _, why in unreadable)
        for row in flagged:
            yield SweepOutcome(
                case_id=row.id,
                status="unjudged",
                detail=f"flagged, not judged by {last_day}",
            )
        if len(flagged) + len(unreadable) < batch_size:
            return
        after = last or flagged[-1].id


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
