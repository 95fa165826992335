"""Typed read models returned by the engine (pydantic; ``model_dump(mode="json")`` is the
stable ``--json`` shape of the command line). Instants are aware, in UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from appcase.errors import CaseDamaged, Rejection
from appcase.states import Disposition, Event, JudicialState, State, Track
from appcase.workflow.commands import AppIdentity

__all__ = [
    "ActorView",
    "CaseView",
    "EventView",
    "SurveyBatchResult",
    "SweepOutcome",
    "SweepReport",
    "VerifyReport",
    "case_view",
    "event_view",
    "identity_of",
]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ActorView(_View):
    """A registered actor: id, role id, GB/T 2260 jurisdiction, display name."""

    id: str
    role: str
    jurisdiction: str
    name: str


class CaseView(_View):
    """A case as stored.

    Attributes:
        id: e.g. ``"HN2018-430100-0001"``.
        state / judicial_state: the two tracks (:class:`~appcase.states.State`,
            :class:`~appcase.states.JudicialState`).
        version: optimistic-concurrency version, +1 per event.
        disposition: the latest judgment's disposition, if any.
        pledge_deadline: the current pledge's deadline (local date), if any.
        event_count / head_hash: length and head of the hash chain.
        last_occurred_at: when the latest event happened (UTC).
    """

    id: str
    campaign_id: str
    prefecture: str
    app: AppIdentity
    state: State
    judicial_state: JudicialState
    version: int
    disposition: Disposition | None
    suspected_illegal: bool
    pledge_deadline: date | None
    event_count: int
    head_hash: str
    created_at: datetime
    last_occurred_at: datetime


class EventView(_View):
    """One event of a case's history (the hashed fields, plus the database's bookkeeping).

    Attributes:
        seq: 1, 2, … within the case.
        track: ``administrative`` or ``judicial``.
        event: the event fired.
        from_state / to_state: the transition on that track (a :class:`State` on the
            administrative track, a :class:`JudicialState` on the judicial one).
        payload: the command's payload as JSON (for ``judge`` also ``policy``: version,
            minimum, refer and the rules that fired).
        override: ``{"reason", "authorised_by", "waived"}`` when an override was used.
        idempotency_key: the caller's key, if one was given (not hashed).
    """

    case_id: str
    seq: int
    track: Track
    event: Event
    from_state: State | JudicialState
    to_state: State | JudicialState
    actor: str
    role: str
    jurisdiction: str
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    reason: str | None
    override: dict[str, Any] | None
    idempotency_key: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class SurveyBatchResult:
    """What :meth:`CaseEngine.survey_batch` did.

    Attributes:
        case_ids: one entry per app, in order: the new case's id, or ``None`` if refused.
        refused: ``(index, rejections)`` for every app the guards refused (0-based index).
    """

    case_ids: list[str | None]
    refused: list[tuple[int, list[Rejection]]] = field(default_factory=list)


class SweepOutcome(_View):
    """What the sweep did with one case.

    Attributes:
        status: ``escalated``; ``refused`` (a guard failed -- ``detail`` says which);
            ``conflict`` (the case changed meanwhile; the next sweep retries it);
            ``failed`` (an error other than a guard or a conflict; ``detail`` says which;
            nothing was written for the case and the sweep went on with the others);
            ``unjudged`` (flagged and not judged by the judgment deadline; reported only).
        detail: for ``refused``, every failed guard as ``[code] message``; for ``failed``,
            the error; for ``unjudged``, the deadline missed.
    """

    case_id: str
    status: Literal["escalated", "refused", "conflict", "failed", "unjudged"]
    detail: str = ""


class SweepReport(_View):
    """Totals of a sweep at ``at`` (aware), one count per :class:`SweepOutcome` status."""

    at: datetime
    escalated: int
    refused: int
    conflict: int
    unjudged: int
    failed: int = 0


class VerifyReport(_View):
    """Result of an audit verification.

    Attributes:
        cases / events: how many were checked.
        problems: ``(case_id, seq or None, kind, detail)`` per damaged case; empty when
            the chain is intact. Kinds: ``edited``, ``deleted``, ``inserted``,
            ``reordered``, ``head_mismatch``, ``unreadable``, ``record_mismatch``, ``state_mismatch``.
    """

    cases: int
    events: int
    problems: list[tuple[str, int | None, str, str]]

    @property
    def ok(self) -> bool:
        """Whether nothing was found wrong."""
        return not self.problems


def identity_of(app: Any) -> AppIdentity:
    """The :class:`AppIdentity` of a ledger row (``appcase.persistence.models.AppRow``).

    Built without validation: stored rows were validated when written, and an audit must be
    able to show a row that was tampered with afterwards.
    """
    return AppIdentity.model_construct(
        name=app.name,
        operator=app.operator,
        uscc=app.uscc,
        icp_filing=app.icp_filing,
        platforms=tuple(app.platforms),
        target_users=app.target_users,
        used_by_schools=app.used_by_schools,
        prefecture=app.prefecture,
    )


def case_view(case: Any, app: Any) -> CaseView:
    """The view of a stored case (:class:`~appcase.ports.StoredCase`) and its ledger entry
    (:class:`~appcase.ports.StoredApp`).

    Raises:
        CaseDamaged: a stored value is not one a case can hold (an unknown state, ...).
    """
    try:
        return _case_view(case, app)
    except (ValidationError, ValueError, TypeError) as exc:
        raise CaseDamaged(case.id, f"its stored row does not read: {_first_error(exc)}") from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


def _case_view(case: Any, app: Any) -> CaseView:
    return CaseView(
        id=case.id,
        campaign_id=case.campaign_id,
        prefecture=case.prefecture,
        app=identity_of(app),
        state=case.state,
        judicial_state=case.judicial_state,
        version=case.version,
        disposition=case.disposition,
        suspected_illegal=case.suspected_illegal,
        pledge_deadline=case.pledge_deadline,
        event_count=case.event_count,
        head_hash=case.head_hash,
        created_at=case.created_at,
        last_occurred_at=case.last_occurred_at,
    )


def event_view(event: Any) -> EventView:
    """The view of a stored event (:class:`~appcase.ports.StoredEvent`).

    Raises:
        CaseDamaged: a stored value is not one an event can hold (an unknown event or state,
            a payload that is not an object, ...).
    """
    try:
        return _event_view(event)
    except (ValidationError, ValueError, TypeError) as exc:
        raise CaseDamaged(
            event.case_id, f"event #{event.seq} does not read: {_first_error(exc)}"
        ) from None


def _event_view(event: Any) -> EventView:
    return EventView(
        case_id=event.case_id,
        seq=event.seq,
        track=event.track,
        event=event.event,
        from_state=event.from_state,
        to_state=event.to_state,
        actor=event.actor_id,
        role=event.role,
        jurisdiction=event.jurisdiction,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        payload=event.payload,
        reason=event.reason,
        override=event.override,
        idempotency_key=event.idempotency_key,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )
