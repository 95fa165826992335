"""THE command pipeline: what happens when an event fires, from start to end, once.

Every write of appcase -- :meth:`~appcase.workflow.engine.CaseEngine.fire` and
:meth:`~appcase.workflow.engine.CaseEngine.survey`, hotline reports, the sweep's
escalations, the ledger import's surveys, the demo -- runs through :class:`Pipeline`, in a
unit of work of the :class:`~appcase.ports.CaseStore` port:

1. **load the facts** the event's guards need (:meth:`Pipeline.facts`): the case, and for
   some events its records (evidence numbers, the pledge, prior cases);
2. **run the guards and move the machine** (:meth:`Pipeline.transition`): the
   ``transitions`` machine of the event's track fires on the case, its one condition runs
   every guard of the row and collects every rejection (:class:`~appcase.errors.GuardRejected`);
3. **build the hashed record** of the event (:func:`appcase.audit.records.seal`);
4. **fold the event into the case** (:func:`appcase.audit.fold.fold`), the very fold that
   replay, as-of and both verifiers use;
5. **write** the event, the case (version-checked) and the event's records through the store,
   then tell the listeners (:meth:`Pipeline.publish`): the in-transaction ones at once (a
   veto rolls the command back), the after-commit ones once the unit of work commits.

Steps 1-4 write nothing (:meth:`Pipeline.prepare`), so a caller can check many commands and
write them together (the ledger import); :meth:`Pipeline.run` does all five. :class:`Batch`
fires one command on many cases (the sweep) with the same steps per case, paying once what
does not depend on the case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from appcase.audit.fold import CaseFold, fold
from appcase.audit.records import GENESIS, RecordTemplate, hashed_record, seal, seal_bytes
from appcase.clock import Clock, ensure_aware
from appcase.errors import (
    CaseDamaged,
    CaseNotFound,
    ConcurrentModification,
    GuardRejected,
    InvalidInput,
    Rejection,
    UnknownActor,
)
from appcase.limits import shown_text
from appcase.policies import deadlines, disposition, permissions
from appcase.policies.campaign import Campaign
from appcase.ports import (
    CaseStore,
    Queries,
    Record,
    ReporterRecord,
    Storage,
    StoredApp,
    StoredCase,
    StoredEvent,
)
from appcase.states import Disposition, Event, JudicialState, State, Track
from appcase.workflow.commands import (
    PAYLOADS,
    AppIdentity,
    FlagPayload,
    InterviewPayload,
    JudgePayload,
    Override,
    PledgePayload,
    RectifyPayload,
    SurveyPayload,
)
from appcase.workflow.context import ActorInfo, CaseFacts, Command, GuardContext
from appcase.workflow.damage import HEAD_DAMAGE, intact, missing_record
from appcase.workflow.event_records import records_of
from appcase.workflow.guards import Settled, run_guards, settle
from appcase.workflow.listeners import Listeners, transition_of
from appcase.workflow.machine import machines
from appcase.workflow.table import COMMON_GUARDS, fold_transitions, spec_for

__all__ = [
    "SYSTEM_ACTOR",
    "Batch",
    "Fired",
    "Pipeline",
    "Prepared",
    "Tracks",
    "parse_event",
    "parse_override",
    "parse_payload",
    "same_payload",
]

SYSTEM_ACTOR = "system"
"""The actor id of the engine itself (role ``system``), used by the sweep."""


def parse_payload(event: Event, payload: BaseModel | Mapping[str, Any] | None) -> BaseModel:
    """Validate a payload for ``event``.

    Args:
        event: the event.
        payload: the payload model, a mapping of its fields, or ``None`` for an empty one.

    Returns:
        An instance of ``PAYLOADS[event]``.

    Raises:
        InvalidInput: naming every malformed field.
    """
    model = PAYLOADS[event]
    if isinstance(payload, model):
        return payload
    if isinstance(payload, BaseModel):
        raise InvalidInput(
            f"{event.value} takes a {model.__name__}, not a {type(payload).__name__}"
        )
    try:
        return model.model_validate(dict(payload or {}))
    except ValidationError as exc:
        raise InvalidInput(describe_invalid(f"{event.value} payload", exc)) from None


def describe_invalid(what: str, exc: ValidationError) -> str:
    """One line per malformed field of a pydantic validation error, under a heading."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(whole)"
        lines.append(f"  - {loc}: {err['msg']}")
    return f"{what} is not valid:\n" + "\n".join(lines)


def parse_event(event: Event | str) -> Event:
    """An :class:`~appcase.states.Event` from itself or its name (``take-down`` works).

    Raises:
        InvalidInput: no such event (the message lists them).
    """
    try:
        return Event(str(event).replace("-", "_"))
    except ValueError:
        known = ", ".join(e.value for e in Event)
        raise InvalidInput(f"unknown event {str(event)[:80]!r}; events are: {known}") from None


def parse_override(value: Override | Mapping[str, Any] | None) -> Override | None:
    """An :class:`~appcase.workflow.commands.Override` from itself or a mapping of fields.

    Raises:
        InvalidInput: a malformed override.
    """
    if value is None or isinstance(value, Override):
        return value
    try:
        return Override.model_validate(dict(value))
    except ValidationError as exc:
        raise InvalidInput(describe_invalid("override", exc)) from None


def same_payload(given: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether a retried command's payload is the one stored (what the engine added -- the
    policy's answer, reporter references, default deadlines -- is not compared)."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "reporter_ref"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    kept = clean({k: v for k, v in stored.items() if k != "policy"})
    return all(kept.get(k) == v for k, v in clean(given).items() if v is not None)


_STATES: dict[object, State] = {s.value: s for s in State}
_JUDICIAL_STATES: dict[object, JudicialState] = {s.value: s for s in JudicialState}
"""The states by stored value (a look-up; the enum's own call says what is wrong)."""

_RECORD_PAYLOADS = (FlagPayload, JudgePayload, InterviewPayload, PledgePayload, RectifyPayload)
"""Payloads whose events write records (evidence, findings, ...) that reference the event's
id; the others write none."""


@dataclass(slots=True)
class Prepared:
    """A command checked and folded, nothing written yet.

    Attributes:
        case: the case after the event (its ``version`` still the one read).
        read: the case before the event (for the version check).
        columns: the event's columns, hashed (``hash`` set).
        command: the command as fired (defaults filled in).
        reporters: hotline reporters' details to keep apart from the event.
        new: the case is new (a survey): it is added, not updated.
    """

    case: StoredCase
    read: StoredCase
    columns: dict[str, Any]
    command: Command
    reporters: list[ReporterRecord] = field(default_factory=list)
    new: bool = False


@dataclass(slots=True)
class Tracks:
    """What the machine moves on a case: its id and the states of both tracks (the model a
    batch fires the machine on, instead of a copy of the whole case)."""

    id: str
    state: str
    judicial_state: str


@dataclass(slots=True)
class Fired:
    """A command of a :class:`Batch` checked and folded on one case; nothing written yet.

    Attributes:
        read: the case as read.
        after: the case after the event (:func:`appcase.audit.fold.fold`).
        values: the event's own columns, in the order of :data:`Batch.OWN` (then
            ``canonical`` and ``hash``).
    """

    read: StoredCase
    after: CaseFold
    values: tuple[Any, ...]


class Batch:
    """One command fired on many cases (the sweep), with the per-case work of
    :meth:`Pipeline.prepare` and the fixed costs paid once:

    * the command-level guards (:func:`appcase.workflow.guards.settle`) run on the first
      case and their verdicts are applied to every case; the per-case guards run per case,
      and the ``transitions`` machine fires on every case;
    * the event's record is built from a template (:class:`~appcase.audit.records.
      RecordTemplate`): the shared fields once, per case its own (:data:`OWN`);
    * the events and the cases are written with one statement each
      (:meth:`~appcase.ports.CaseStore.insert_events`, :meth:`~appcase.ports.CaseStore.
      save_moves`).

    Commands that write records beside their event, ``judge`` (its policy answer) and
    ``survey`` (a new case) are not batched.

    Args:
        pipeline: the campaign's pipeline.
        cmd: the command.

    Raises:
        ValueError: a command that cannot be batched.
    """

    OWN: tuple[str, ...] = ("case_id", "seq", "from_state", "to_state", "override", "prev_hash")
    """The event columns that differ from case to case (then ``canonical`` and ``hash``,
    :func:`~appcase.audit.records.seal_bytes`)."""

    _KEYS = ("case_id", "seq", "from", "to", "override", "prev_hash")
    """The hashed record's keys of :data:`OWN`."""

    def __init__(self, pipeline: Pipeline, cmd: Command) -> None:
        if cmd.event in (Event.JUDGE, Event.SURVEY) or isinstance(cmd.payload, _RECORD_PAYLOADS):
            raise ValueError(f"{cmd.event.value} commands are not batched")
        self.pipeline = pipeline
        self.cmd = cmd
        self.settled: Settled | None = None
        self.now: datetime | None = None
        self._template: RecordTemplate | None = None
        self.shared: dict[str, Any] = {}
        spec = spec_for(cmd.event)
        self._judicial = spec.track is Track.JUDICIAL

    def begin(self, now: datetime) -> None:
        """Start a unit of work of the batch: its events are recorded at ``now``."""
        if now != self.now:
            self.now, self._template = now, None

    def prepare(self, store: CaseStore, case: StoredCase) -> Fired:
        """Check the command on ``case`` and fold its event; nothing is written.

        Raises:
            GuardRejected: every failed guard (settled or not).
            CaseDamaged: the case's row does not read.
        """
        pipe, cmd, now = self.pipeline, self.cmd, self.now
        assert now is not None, "begin() first"
        facts = pipe.facts(store, case, cmd.event, cmd.at)
        ctx = GuardContext(facts, cmd, pipe.campaign, now, settled=self.settled)
        if self.settled is None:
            self.settled = ctx.settled = settle(ctx)
        moved = Tracks(case.id, case.state, case.judicial_state)
        pipe.transition(ctx, moved, case_id=case.id)
        template = self._template
        if template is None:
            columns = pipe.event_columns(moved, case, ctx, None, [])
            template = self._template = RecordTemplate(hashed_record(columns), self._KEYS)
            self.shared = {k: v for k, v in columns.items() if k not in self.OWN}
        before, after = (
            (case.judicial_state, moved.judicial_state)
            if self._judicial
            else (case.state, moved.state)
        )
        override = pipe.override_record(ctx)
        own = (case.id, case.event_count + 1, before, after, override, case.head_hash)
        record, data = template.seal(own)
        sealed: dict[str, Any] = {}
        seal_bytes(sealed, data)
        digest = sealed["hash"]
        return Fired(case, pipe.folded(case, record, digest), (*own, data, digest))

    def write(self, store: CaseStore, fired: Sequence[Fired]) -> bool:
        """Write the events and the cases of ``fired`` (one statement each), then tell the
        listeners.

        Returns:
            ``False`` if a case had moved on since it was read (then roll back: the others
            were written).

        Raises:
            ListenerVetoed: an in-transaction listener raised (roll back).
        """
        if not fired:
            return True
        pipe = self.pipeline
        names = (*self.OWN, "canonical", "hash")
        heard = pipe.listeners.wanted("transaction") or pipe.listeners.wanted("commit")
        if heard:  # the listeners need each event's position and columns
            rows = [{**self.shared, **dict(zip(names, f.values, strict=True))} for f in fired]
            positions = store.append_events(rows, positions=True)
            events = [StoredEvent(n, **r) for n, r in zip(positions, rows, strict=True)]
        else:
            store.insert_events(self.shared, names, [f.values for f in fired])
        if not store.save_moves([(f.read, f.after) for f in fired]):
            return False
        if heard:
            pipe.publish(store, events)
        return True


class Pipeline:
    """Runs commands of one campaign: facts, guards, machine, hashed record, fold, write.

    Args:
        campaign: the campaign whose rules apply.
        clock: where "now" comes from (aware instants).
    """

    def __init__(
        self, campaign: Campaign, clock: Clock, listeners: Listeners | None = None
    ) -> None:
        self.campaign = campaign
        self.clock = clock
        self.listeners = listeners if listeners is not None else Listeners()
        self._system = ActorInfo(SYSTEM_ACTOR, permissions.SYSTEM_ROLE, campaign.province.code)

    # --- inputs ------------------------------------------------------------------------
    def when(self, at: datetime | None) -> datetime:
        """``at`` checked aware, or the clock's now.

        Raises:
            NaiveDatetimeError: ``at`` is naive.
        """
        return ensure_aware(at, "event time") if at is not None else self.clock.now()

    def actor(self, store: Queries, actor_id: str) -> ActorInfo:
        """The registered actor (or the built-in ``system`` actor).

        Raises:
            UnknownActor: no such actor.
        """
        if actor_id == SYSTEM_ACTOR:
            return self._system
        found = store.actor(actor_id)
        if found is None:
            raise UnknownActor(actor_id)
        return ActorInfo(found.id, found.role, found.jurisdiction)

    def command(
        self,
        store: Queries,
        event: Event,
        actor: str,
        payload: BaseModel,
        at: datetime,
        reason: str | None = None,
        override: Override | None = None,
        known: ActorInfo | None = None,
    ) -> Command:
        """A command with its actor and its override's grant and authoriser resolved.

        An override names a grant (read here; the guards check it) or authorises itself;
        it never names another officer as its authoriser: that officer records a grant.

        Args:
            known: the actor, if already read (:meth:`locked` reads it with the case).

        Raises:
            UnknownActor: the actor (or a grant's authoriser) is not registered.
            InvalidInput: the override names another officer in ``authorised_by``.
        """
        who = known if known is not None and known.id == actor else self.actor(store, actor)
        if override is None:
            return Command(event, who, payload, at, reason)
        if override.authorised_by not in (None, who.id):
            raise InvalidInput(
                f"an override cannot name {shown_text(override.authorised_by or '', 64)!r} "
                "as its authoriser: the authorising officer records a grant for this case "
                "and event ('appcase override grant', POST /cases/{id}/overrides) and the "
                "command uses it (--override GRANT, override={'grant': id})"
            )
        if override.grant is None:
            return Command(event, who, payload, at, reason, override, who)
        grant = store.grant(override.grant)
        by = self.actor(store, grant.authoriser_id) if grant is not None else None
        return Command(event, who, payload, at, reason, override, by, grant=grant)

    @staticmethod
    def with_payload(cmd: Command, payload: BaseModel, at: datetime) -> Command:
        """``cmd`` with another payload and instant (the same actor, reason, override)."""
        return replace(cmd, payload=payload, at=at)

    def load(self, store: Queries, case_id: str, *, for_update: bool = False) -> StoredCase:
        """Read the campaign's case ``case_id`` (locked until the end of the transaction
        with ``for_update``, and then checked intact: its head is its last stored event).

        Raises:
            CaseNotFound: no such case in this campaign.
            CaseDamaged: (``for_update``) the case's head is not its last stored event.
        """
        if not for_update:
            case = store.case(case_id)
            if case is None or case.campaign_id != self.campaign.id:
                raise CaseNotFound(case_id)
            return case
        return self.locked(store, case_id)[0]

    def locked(
        self, store: Queries, case_id: str, actor_id: str | None = None
    ) -> tuple[StoredCase, ActorInfo | None]:
        """Lock the campaign's case ``case_id`` until the end of the transaction, check it
        intact (its head is its last stored event) and read the actor ``actor_id`` with it,
        in one query.

        Returns:
            The case, and the actor (``None`` if not asked or not registered: resolving it
            then says so, see :meth:`command`).

        Raises:
            CaseNotFound: no such case in this campaign.
            CaseDamaged: the case's head is not its last stored event.
        """
        asked = actor_id if actor_id != SYSTEM_ACTOR else None
        found = store.case_with_head(case_id, for_update=True, actor_id=asked)
        if found is None or found[0].campaign_id != self.campaign.id:
            raise CaseNotFound(case_id)
        case, last, beyond, actor = found
        if not intact(case, last, beyond):
            raise CaseDamaged(case_id, HEAD_DAMAGE)
        if actor_id == SYSTEM_ACTOR:
            return case, self._system
        who = ActorInfo(actor.id, actor.role, actor.jurisdiction) if actor is not None else None
        return case, who

    def replayed(
        self,
        store: Queries,
        key: str,
        case_id: str | None,
        event: Event | tuple[Event, ...],
        actor: str | None = None,
        body: BaseModel | None = None,
        reason: str | None = None,
    ) -> StoredEvent | None:
        """The event an earlier command with this idempotency key wrote, if any.

        Raises:
            InvalidInput: the key is malformed, or was used for a different command (another
                event, case, actor, reason or payload).
        """
        if not key or len(key) > 200 or not key.isprintable():
            raise InvalidInput("an idempotency key is 1-200 printable characters")
        done = store.event_by_key(key)
        if done is None:
            return None
        events = event if isinstance(event, tuple) else (event,)
        same = (
            done.event in {e.value for e in events}
            and (case_id is None or done.case_id == case_id)
            and (actor is None or done.actor_id == actor)
            and (body is None or done.reason == reason)
            and (body is None or same_payload(body.model_dump(mode="json"), done.payload))
        )
        if not same and actor is not None and done.actor_id != actor:
            # another caller's key: say nothing of their command (its case, its actor)
            raise InvalidInput(
                f"idempotency key {key!r} was already used by another command; use a new "
                "key for a new command"
            )
        if not same:
            raise InvalidInput(
                f"idempotency key {key!r} was already used for {done.event} on case "
                f"{done.case_id} by {done.actor_id}; a retry repeats that command exactly "
                "(same event, case, actor, reason and payload); use a new key for a new command"
            )
        return done

    # --- 1. facts ----------------------------------------------------------------------
    def facts(self, store: CaseStore, case: StoredCase, event: Event, at: datetime) -> CaseFacts:
        """Read what the guards of ``event`` at instant ``at`` need, and nothing more.

        The ledger entry (school use, prior cases) is read for ``judge`` only, the one event
        whose policy weighs it; for every other event ``used_by_schools`` is ``False``.
        """
        prior = 0
        used_by_schools = False
        if event is Event.JUDGE:
            app = store.app(case.app_id)
            used_by_schools = app.used_by_schools
            prior = store.prior_judgments(
                uscc=app.uscc,
                name=app.name,
                icp_filing=app.icp_filing,
                before=at,
                dispositions=[d.value for d in disposition.PRIOR_CASE_DISPOSITIONS],
            )
        pledge = store.latest_pledge(case.id) if event is Event.RECTIFY else None
        evidence = store.evidence_numbers(case.id) if event is Event.JUDGE else frozenset()
        # A pledged case has its pledge, a flagged one its evidence: else a row was deleted.
        if event is Event.RECTIFY and pledge is None and case.state == State.PLEDGED:
            raise missing_record(case, "pledge")
        if event is Event.JUDGE and not evidence and case.state == State.FLAGGED:
            raise missing_record(case, "evidence")
        try:
            state = _STATES.get(case.state) or State(case.state)
            judicial = _JUDICIAL_STATES.get(case.judicial_state) or JudicialState(
                case.judicial_state
            )
            chosen = Disposition(case.disposition) if case.disposition else None
        except (ValueError, TypeError) as exc:
            raise CaseDamaged(case.id, f"its stored row does not read: {exc}") from None
        return CaseFacts(
            case_id=case.id,
            prefecture=case.prefecture,
            state=state,
            judicial_state=judicial,
            last_occurred_at=case.last_occurred_at,
            used_by_schools=used_by_schools,
            evidence_numbers=evidence,
            disposition=chosen,
            suspected_illegal=case.suspected_illegal,
            pledge_commitments=tuple(pledge.commitments) if pledge else (),
            pledge_deadline=case.pledge_deadline,
            prior_cases=prior,
        )

    def policy(self, ctx: GuardContext) -> disposition.DispositionResult:
        """The disposition policy's answer for a ``judge`` command's findings and facts."""
        body = ctx.command.payload
        assert isinstance(body, JudgePayload)
        return disposition.evaluate(
            [
                disposition.FindingInput(f.harm_category, f.severity, f.suspected_illegal)
                for f in body.findings
            ],
            disposition.Factors(
                prior_cases=ctx.case.prior_cases,
                seriously_lacking_responsibility=body.seriously_lacking_responsibility,
                used_by_schools=ctx.case.used_by_schools,
            ),
            self.campaign.policy.disposition,
            self.campaign.policy.version,
        )

    def explain(
        self, store: CaseStore, case: StoredCase, body: JudgePayload, at: datetime
    ) -> disposition.DispositionResult:
        """What the policy says of a judgment of ``case`` at ``at``, writing nothing."""
        facts = self.facts(store, case, Event.JUDGE, at)
        cmd = Command(Event.JUDGE, self._system, body, at)
        return self.policy(GuardContext(facts, cmd, self.campaign, self.clock.now()))

    def with_default_deadline(self, store: CaseStore, case: StoredCase, cmd: Command) -> Command:
        """Fill a missing rectification deadline with the campaign's default (rules P1, P2
        of :mod:`appcase.policies.deadlines`): an interview's from the local day it was
        held, a pledge's from the latest interview. The event records the date used."""
        body = cmd.payload
        if isinstance(body, InterviewPayload) and body.rectification_deadline is None:
            if body.held_at is None:
                return cmd
            day = deadlines.local_day(self.campaign, body.held_at)
            default = deadlines.default_rectification_deadline(self.campaign, day)
            body = body.model_copy(update={"rectification_deadline": default})
        elif isinstance(body, PledgePayload) and body.deadline is None:
            interview = store.latest_interview(case.id)
            if interview is None:
                return cmd
            body = body.model_copy(update={"deadline": interview.rectification_deadline})
        else:
            return cmd
        return replace(cmd, payload=body)

    # --- 2. guards and machine -----------------------------------------------------------
    def transition(self, ctx: GuardContext, case: StoredCase | Tracks, case_id: str | None) -> None:
        """Fire the machine on ``case`` (its state moves); every guard of the row runs.

        Raises:
            GuardRejected: with every failed guard (and ``state`` if the event cannot fire
                from the case's state at all); ``case`` is unchanged.
        """
        ms = machines()
        event = ctx.command.event
        machine = ms.for_event(event)
        state = case.judicial_state if machine is ms.judicial else case.state
        if not ms.can_fire(event, state):
            spec = spec_for(event)
            allowed = ", ".join(str(s) for s in spec.sources)
            rejections = [
                Rejection(
                    "state", f"{event.value} is not allowed from {state} (only from {allowed})"
                ),
                *run_guards((*COMMON_GUARDS, *spec.guards), ctx),
            ]
            raise GuardRejected(case_id, case.state, event.value, rejections)
        if not machine.events[event.value].trigger(case, ctx=ctx):
            raise GuardRejected(case_id, case.state, event.value, ctx.rejections)

    # --- 3. the hashed record ------------------------------------------------------------
    def event_columns(
        self,
        case: StoredCase | Tracks,
        read: StoredCase,
        ctx: GuardContext,
        key: str | None,
        reporters: list[ReporterRecord],
    ) -> dict[str, Any]:
        """The columns of the event ``ctx``'s command appends to ``case``'s chain, hashed.

        Args:
            case: the case after the machine moved it.
            read: the case before.
            ctx: the command's guard context (its policy answer, waived guards).
            key: the caller's idempotency key.
            reporters: hotline reporters' details are moved here; the event keeps a ref.
        """
        cmd = ctx.command
        track = spec_for(cmd.event).track
        judicial = track is Track.JUDICIAL
        payload = cmd.payload.model_dump(mode="json")
        if isinstance(cmd.payload, FlagPayload):
            self._keep_reporters_apart(case.id, cmd.payload, payload, ctx.now, reporters)
        if ctx.policy is not None:
            payload["policy"] = ctx.policy.as_record()
        override = self.override_record(ctx)
        columns: dict[str, Any] = {
            "case_id": case.id,
            "seq": read.event_count + 1,
            "track": track.value,
            "event": cmd.event.value,
            "from_state": read.judicial_state if judicial else read.state,
            "to_state": case.judicial_state if judicial else case.state,
            "actor_id": cmd.actor.id,
            "role": cmd.actor.role,
            "jurisdiction": cmd.actor.jurisdiction,
            "occurred_at": cmd.at,
            "recorded_at": ctx.now,
            "payload": payload,
            "reason": cmd.reason,
            "override": override,
            "idempotency_key": key,
            "prev_hash": read.head_hash,
        }
        return columns

    @staticmethod
    def override_record(ctx: GuardContext) -> dict[str, Any] | None:
        """The override an event records: its reason, its authoriser and the guards it
        waived -- with a grant, the grant's id, authoriser and reason; ``None`` if the
        command waived nothing."""
        cmd = ctx.command
        if cmd.override is None or not ctx.waived:
            return None
        if cmd.grant is not None:
            return {
                "reason": cmd.grant.reason,
                "authorised_by": cmd.grant.authoriser_id,
                "grant": cmd.grant.id,
                "waived": list(ctx.waived),
            }
        return {
            "reason": cmd.override.reason,
            "authorised_by": cmd.actor.id,
            "waived": list(ctx.waived),
        }

    @staticmethod
    def _keep_reporters_apart(
        case_id: str,
        body: FlagPayload,
        payload: dict[str, Any],
        now: datetime,
        reporters: list[ReporterRecord],
    ) -> None:
        for item, dumped in zip(body.evidence, payload["evidence"], strict=True):
            if item.reporter is not None:
                ref = f"R-{uuid.uuid4().hex}"
                dumped["reporter_ref"] = ref
                reporters.append(
                    ReporterRecord(ref, case_id, item.reporter.name, item.reporter.contact, now)
                )

    # --- 4. the fold ---------------------------------------------------------------------
    def fold(
        self, case: StoredCase, read: StoredCase, record: Mapping[str, Any], hash: str
    ) -> None:
        """Fold the event (its hashed ``record`` and ``hash``) into ``case``, from the case
        as ``read`` (:func:`appcase.audit.fold.fold`, the fold replay uses too)."""
        after = self.folded(read, record, hash)
        case.state = after.state
        case.judicial_state = after.judicial_state
        case.event_count = after.event_count
        case.head_hash = after.head_hash
        case.disposition = after.disposition
        case.suspected_illegal = after.suspected_illegal
        case.flagged_at = after.flagged_at
        case.pledge_deadline = after.pledge_deadline
        case.pledge_due_at = after.pledge_due_at
        assert after.last_occurred_at is not None and after.updated_at is not None
        case.last_occurred_at = after.last_occurred_at
        case.updated_at = after.updated_at

    def folded(self, read: StoredCase, record: Mapping[str, Any], hash: str) -> CaseFold:
        """The case ``read`` after the event (its hashed ``record`` and ``hash``), by
        :func:`appcase.audit.fold.fold`.

        Raises:
            FoldError: the event does not follow from the case (a programming error once
                the machine moved it).
        """
        return fold(
            CaseFold(
                read.state,
                read.judicial_state,
                read.event_count,
                read.head_hash,
                read.prefecture,
                None,
                read.disposition,
                read.suspected_illegal,
                read.flagged_at,
                read.pledge_deadline,
                read.pledge_due_at,
                read.last_occurred_at,
                read.updated_at,
            ),
            record,
            hash,
            fold_transitions(),
            self.campaign.zone,
        )

    # --- 1-4 together --------------------------------------------------------------------
    def prepare(
        self, store: CaseStore, case: StoredCase, cmd: Command, key: str | None = None
    ) -> Prepared:
        """Check ``cmd`` on ``case`` and fold its event into a copy; nothing is written.

        Raises:
            GuardRejected: every failed guard; ``case`` is unchanged.
        """
        read, case = case, case.copy()
        cmd = self.with_default_deadline(store, case, cmd)
        facts = self.facts(store, case, cmd.event, cmd.at)
        ctx = GuardContext(facts, cmd, self.campaign, self.clock.now())
        if cmd.event is Event.JUDGE:
            ctx.policy = self.policy(ctx)
        self.transition(ctx, case, case_id=case.id)
        reporters: list[ReporterRecord] = []
        columns = self.event_columns(case, read, ctx, key, reporters)
        self.fold(case, read, seal(columns), columns["hash"])
        return Prepared(case, read, columns, cmd, reporters)

    # --- 5. write ------------------------------------------------------------------------
    def write(self, store: CaseStore, prepared: Prepared, *, use_grant: bool = True) -> StoredEvent:
        """Write a prepared command: its event, the case (version-checked against the case
        as read; a new case is added), the event's records, and, if the event used an
        override grant, the grant marked used (``use_grant``: false for the later apps of
        a ledger import, one command under one grant).

        Raises:
            ConcurrentModification: the case moved on since it was read, or another
                command used or revoked the grant meanwhile.
        """
        case, columns = prepared.case, prepared.columns
        if prepared.new:
            store.add_case(case)
            position = store.append_event(columns)
        else:
            position = store.append_event(columns)
            store.save_case(case, prepared.read)
        grant = (columns["override"] or {}).get("grant")
        if (
            use_grant
            and grant is not None
            and not store.use_grant(
                grant, prepared.command.actor.id, columns["recorded_at"], position
            )
        ):
            raise ConcurrentModification(case.id)
        if prepared.reporters:
            for reporter in prepared.reporters:
                store.add_reporter(reporter)
        if isinstance(prepared.command.payload, _RECORD_PAYLOADS):
            store.add_records(self.records(store, case.id, position, columns, prepared.command))
        event = StoredEvent(position=position, **columns)
        self.publish(store, [event])
        return event

    def publish(self, store: CaseStore, events: Sequence[StoredEvent]) -> None:
        """Tell the listeners of events just written in ``store``'s transaction: the
        in-transaction ones now, the after-commit ones once it commits.

        Raises:
            ListenerVetoed: an in-transaction listener raised (roll the command back).
        """
        listeners = self.listeners
        later = listeners.wanted("commit")
        if not events or not (later or listeners.wanted("transaction")):
            return
        transitions = [transition_of(e) for e in events]
        listeners.in_transaction(transitions)
        if later:
            store.after_commit(lambda: listeners.after_commit(transitions))

    def run(
        self, store: CaseStore, case: StoredCase, cmd: Command, key: str | None = None
    ) -> StoredEvent:
        """Run ``cmd`` on ``case`` from start to end in ``store``'s transaction.

        Raises:
            GuardRejected: every failed guard; nothing was written.
            ConcurrentModification: the case moved on since it was read.
        """
        return self.write(store, self.prepare(store, case, cmd, key))

    def records(
        self,
        store: CaseStore,
        case_id: str,
        event_id: int,
        columns: Mapping[str, Any],
        cmd: Command,
    ) -> list[Record]:
        """The records the event ``event_id`` writes beside itself (evidence, findings, the
        interview, the pledge, the verification), from its stored payload
        (:func:`appcase.workflow.event_records.records_of`, the derivation an audit
        verification checks them with)."""
        first = 1
        if isinstance(cmd.payload, FlagPayload):
            first += max(store.evidence_numbers(case_id), default=0)
        return records_of(columns["event"], case_id, event_id, columns["payload"], first)

    # --- a new case ----------------------------------------------------------------------
    def case_id(self, prefecture: str, number: int) -> str:
        """The id of case ``number`` of ``prefecture``: ``<prefix>-<prefecture>-<number:04d>``
        (``HN2018-430100-0001``)."""
        return f"{self.campaign.case_prefix}-{prefecture}-{number:04d}"

    def prepare_survey(
        self, cmd: Command, number: int, already_in_ledger: bool, key: str | None = None
    ) -> tuple[StoredApp, Prepared]:
        """Check a survey and fold its first event into a new case; nothing is written.

        Args:
            cmd: the survey command (its payload a :class:`SurveyPayload`).
            number: the case number to give (``<prefix>-<prefecture>-<number:04d>``).
            already_in_ledger: whether the app is already listed (the guard refuses it).
            key: the caller's idempotency key.

        Returns:
            The ledger entry to write (``id`` 0) and the prepared case and event.

        Raises:
            GuardRejected: every failed guard.
        """
        payload = cmd.payload
        assert isinstance(payload, SurveyPayload)
        ident: AppIdentity = payload.app
        case_id = self.case_id(ident.prefecture, number)
        facts = CaseFacts(
            case_id=None,
            prefecture=ident.prefecture,
            state=State.NEW,
            judicial_state=JudicialState.NOT_REFERRED,
            already_in_ledger=already_in_ledger,
        )
        ctx = GuardContext(facts, cmd, self.campaign, self.clock.now())
        now = ctx.now
        app = StoredApp(
            0,
            self.campaign.id,
            ident.name,
            ident.operator,
            ident.uscc,
            ident.icp_filing,
            list(ident.platforms),
            ident.target_users,
            ident.used_by_schools,
            ident.prefecture,
        )
        read = StoredCase(
            id=case_id,
            campaign_id=self.campaign.id,
            app_id=0,
            prefecture=ident.prefecture,
            state=State.NEW.value,
            judicial_state=JudicialState.NOT_REFERRED.value,
            version=1,
            event_count=0,
            head_hash=GENESIS,
            disposition=None,
            suspected_illegal=False,
            flagged_at=None,
            pledge_deadline=None,
            pledge_due_at=None,
            created_at=now,
            last_occurred_at=cmd.at,
            updated_at=now,
        )
        case = read.copy()
        self.transition(ctx, case, case_id=None)
        columns = self.event_columns(case, read, ctx, key, [])
        self.fold(case, read, seal(columns), columns["hash"])
        return app, Prepared(case, read, columns, cmd, new=True)

    def write_survey(
        self, store: CaseStore, app: StoredApp, prepared: Prepared, *, use_grant: bool = True
    ) -> StoredEvent:
        """Write a prepared survey: the ledger entry, the case and its first event
        (``use_grant`` as for :meth:`write`).

        Raises:
            ConcurrentModification: a racing survey took the case number or listed the app.
        """
        prepared.case.app_id = store.add_app(app)
        return self.write(store, prepared, use_grant=use_grant)

    # --- whole commands ------------------------------------------------------------------
    def on_case(
        self,
        storage: Storage,
        case_id: str,
        key: str | None,
        replay: Callable[[CaseStore], StoredEvent | None],
        act: Callable[[CaseStore, StoredCase, ActorInfo | None], StoredEvent],
        actor: str | None = None,
    ) -> StoredEvent:
        """Run a command on an existing case in one unit of work: lock the case (and read
        the ``actor`` with it), answer a retried idempotency ``key`` with the event it wrote
        (``replay``), else ``act`` (given the case and the actor, ``None`` if not read or not
        registered).

        The case is locked first, so a racing retry with the same key waits and then finds
        the winner's event instead of firing on the moved-on case; a command that loses the
        race on the key's unique index looks again for the winner's event.

        Raises:
            CaseNotFound: no such case in this campaign.
            ConcurrentModification: the case changed meanwhile; nothing was written.
            (and whatever ``replay`` and ``act`` raise; nothing is then written)
        """
        try:
            with storage.transaction(case_id) as store:
                case, who = self.locked(store, case_id, actor)
                if key:
                    done = replay(store)
                    if done is not None:
                        return done
                return act(store, case, who)
        except ConcurrentModification:
            if key:
                with storage.transaction(case_id) as store:
                    done = replay(store)
                    if done is not None:
                        return done
            raise

    def survey(
        self,
        storage: Storage,
        payload: SurveyPayload,
        actor: str,
        at: datetime,
        override: Override | None,
        key: str | None,
        attempts: int,
    ) -> tuple[StoredCase, StoredApp]:
        """List an app: a new case, in a unit of work of its own.

        Racing surveys collide on a unique key (the app in the ledger, the case number or
        the idempotency key); the loser starts again, at most ``attempts`` times, and sees
        the winner's case: the same app is then refused (``not_in_ledger``), another app
        takes the next number; a retry with the winner's key gets the winner's case.

        Returns:
            The new case (or the one a retried key created) and its ledger entry.

        Raises:
            UnknownActor / GuardRejected / InvalidInput: as for any command.
            ConcurrentModification: still losing races after ``attempts`` tries.
        """
        ident = payload.app
        for attempt in range(1, attempts + 1):
            try:
                with storage.transaction() as store:
                    # The ledger first, the key second: on PostgreSQL (READ COMMITTED) a
                    # racing twin that committed between the two reads is then seen by the
                    # key, and its case is returned rather than refused as already listed.
                    existing = store.find_app(self.campaign.id, ident.uscc, ident.name)
                    if key:
                        done = self.replayed(store, key, None, Event.SURVEY, actor, payload)
                        if done is not None:
                            case = self.load(store, done.case_id)
                            return case, store.app(case.app_id)
                    if attempt > 1:
                        # the number taken last time was found taken: the prefecture's
                        # count may be behind its cases; bring it up to them first
                        store.claim_case_numbers(self.campaign.id, [ident.prefecture], self.case_id)
                    number = store.take_case_number(
                        self.campaign.id, ident.prefecture, self.case_id
                    )
                    cmd = self.command(store, Event.SURVEY, actor, payload, at, None, override)
                    app, prepared = self.prepare_survey(cmd, number, existing is not None, key)
                    store.case_id = prepared.case.id
                    self.write_survey(store, app, prepared)
                    return prepared.case, app
            except ConcurrentModification:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def survey_many(
        self,
        store: CaseStore,
        payloads: Sequence[BaseModel],
        whens: Sequence[datetime],
        actor: str,
        override: Override | None,
        skip_refused: bool,
        progress: Callable[[int], None] | None,
        chunk_size: int,
    ) -> tuple[list[str | None], list[tuple[int, list[Rejection]]]]:
        """Survey many apps in ``store``'s transaction, each through the checks of a single
        survey; the actor, the apps listed and the case numbers are read once.

        Args:
            store: the unit of work.
            payloads / whens: the apps' survey payloads and instants, in order.
            actor / override: as for one survey.
            skip_refused: write the accepted apps even if some are refused (otherwise the
                caller rolls back when any is).
            progress: called with the number of apps just processed.
            chunk_size: apps between two ``progress`` calls.

        Returns:
            The case ids (``None`` for a refused app) and every refusal by 0-based index.
        """
        refused: list[tuple[int, list[Rejection]]] = []
        ids: list[str | None] = []
        if not payloads:
            return ids, refused
        cmd = self.command(store, Event.SURVEY, actor, payloads[0], whens[0], None, override)
        used = False  # one grant covers the whole import: marked used by its first event
        known = {j.code for j in self.campaign.prefectures}
        wanted = {p.app.prefecture for p in payloads if isinstance(p, SurveyPayload)}
        numbers = store.claim_case_numbers(self.campaign.id, sorted(wanted & known), self.case_id)
        # read once the counters are held: a bulk survey of these prefectures that held them
        # before has committed, and its apps are seen as listed
        listed = store.ledger_identities(self.campaign.id)
        given: dict[str, int] = {}
        for start in range(0, len(payloads), chunk_size):
            for i in range(start, min(start + chunk_size, len(payloads))):
                payload = payloads[i]
                assert isinstance(payload, SurveyPayload)
                ident = payload.app
                key = (ident.uscc, ident.name)
                number = numbers.get(ident.prefecture, 0) + 1
                one = self.with_payload(cmd, payload, whens[i])
                try:
                    app, prepared = self.prepare_survey(one, number, key in listed)
                except GuardRejected as exc:
                    refused.append((i, exc.rejections))
                    ids.append(None)
                    continue
                listed.add(key)
                numbers[ident.prefecture] = given[ident.prefecture] = number
                ids.append(prepared.case.id)
                if not refused or skip_refused:
                    granted = (prepared.columns["override"] or {}).get("grant") is not None
                    store.case_id = prepared.case.id  # a write that loses a race: a conflict
                    self.write_survey(store, app, prepared, use_grant=granted and not used)
                    used = used or granted
            if progress is not None:
                progress(min(chunk_size, len(payloads) - start))
        store.set_case_numbers(self.campaign.id, given)
        return ids, refused
