"""What a guard sees: the case's facts, the command, the campaign and the time.

These are plain frozen values built by the engine from the database inside the command's
transaction; guards are pure functions of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel

from appcase.errors import Rejection
from appcase.policies.campaign import Campaign
from appcase.policies.disposition import DispositionResult
from appcase.ports import StoredGrant
from appcase.states import Disposition, Event, JudicialState, State
from appcase.workflow.commands import Override

__all__ = ["ActorInfo", "CaseFacts", "Command", "GuardContext"]


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """An actor as registered: id, role id and GB/T 2260 jurisdiction code."""

    id: str
    role: str
    jurisdiction: str


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """A case as the guards see it, read in the command's transaction.

    Attributes:
        case_id: ``None`` for a survey (the case does not exist yet).
        prefecture: GB/T 2260 code of the case's prefecture.
        state / judicial_state: the two tracks' states.
        last_occurred_at: when the case's latest event happened (aware, UTC), if any.
        used_by_schools: from the ledger (read for ``judge``, the one event whose policy
            weighs it; ``False`` for other commands).
        evidence_numbers: numbers of the case's evidence items.
        disposition: the latest judgment's disposition, if judged.
        suspected_illegal: whether the latest judgment records a suspected-illegal finding.
        pledge_commitments / pledge_deadline: the current pledge, if any.
        prior_cases: earlier cases of the same app or operator that led to an interview,
            pledge or takedown (this and earlier campaigns).
        already_in_ledger: for a survey, whether the app is already listed.
    """

    case_id: str | None
    prefecture: str
    state: State
    judicial_state: JudicialState
    last_occurred_at: datetime | None = None
    used_by_schools: bool = False
    evidence_numbers: frozenset[int] = frozenset()
    disposition: Disposition | None = None
    suspected_illegal: bool = False
    pledge_commitments: tuple[str, ...] = ()
    pledge_deadline: date | None = None
    prior_cases: int = 0
    already_in_ledger: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """A command to fire an event.

    Attributes:
        event: the event.
        actor: who fires it.
        payload: the event's payload model (see :data:`appcase.workflow.commands.PAYLOADS`).
        at: when the act happened (aware; the phase window is judged on it).
        reason: free-text reason (required by some events).
        override: an override, if the actor records one.
        override_actor: the officer authorising the override (resolved by the engine: the
            grant's authoriser, or the actor for a self-authorised override).
        via_sweep: whether the sweep fires it.
        grant: the override's grant as stored (``None`` if it names none, or names an
            unknown grant: the guards then refuse to waive).
    """

    event: Event
    actor: ActorInfo
    payload: BaseModel
    at: datetime
    reason: str | None = None
    override: Override | None = None
    override_actor: ActorInfo | None = None
    via_sweep: bool = False
    grant: StoredGrant | None = None


@dataclass(slots=True)
class GuardContext:
    """Everything a guard may look at, and where the verdicts are collected.

    Attributes:
        case / command / campaign: as above.
        now: the clock's instant when the command is evaluated (aware).
        policy: the disposition policy's answer, for ``judge``.
        rejections: filled by the guard runner.
        waived: guard codes an override waived (recorded with the event).
        settled: verdicts of the command-level guards taken once for the command
            (:func:`appcase.workflow.guards.settle`); the runner applies them instead of
            running those guards again.
    """

    case: CaseFacts
    command: Command
    campaign: Campaign
    now: datetime
    policy: DispositionResult | None = None
    rejections: list[Rejection] = field(default_factory=list)
    waived: list[str] = field(default_factory=list)
    settled: Mapping[str, tuple[tuple[Rejection, ...], tuple[str, ...]]] | None = None
