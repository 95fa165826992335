"""The case engine: survey apps, fire events, read cases and histories, sweep, verify.

Every command is one database transaction: the case row is read, the guards run on the
case's facts, the machine moves the state, the records and one hash-chained event are
written and the case is updated with a check of the version read -- or nothing is written
at all. Commands on existing cases read and write the case and its event with SQLAlchemy
Core (:class:`~appcase.persistence.repository.CaseState`); the ORM writes the records and
new cases.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from appcase.clock import Clock, SystemClock, ensure_aware
from appcase.errors import (
    BatchRejected,
    CaseNotFound,
    ConcurrentModification,
    GuardRejected,
    InvalidInput,
    Rejection,
    UnknownActor,
)
from appcase.persistence.chain import GENESIS, event_hash, format_instant
from appcase.persistence.models import (
    ActorRow,
    AppRow,
    CaseRow,
    EventRow,
    EvidenceRow,
    FindingRow,
    InterviewRow,
    PledgeRow,
    ReporterRow,
    VerificationRow,
)
from appcase.persistence.repository import CASE_ORDERS, CaseFilter, CaseState, Repository, Store
from appcase.policies import deadlines, disposition, permissions
from appcase.policies.campaign import Campaign
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
from appcase.workflow.guards import run_guards
from appcase.workflow.machine import machines
from appcase.workflow.table import COMMON_GUARDS, spec_for
from appcase.workflow.views import ActorView, CaseView, EventView, identity_of

if TYPE_CHECKING:
    from appcase.workflow.asof import CaseAsOf

__all__ = ["SYSTEM_ACTOR", "CaseEngine", "SurveyBatchResult", "parse_payload"]

SYSTEM_ACTOR = "system"
"""The actor id of the engine itself (role ``system``), used by the sweep."""

_Case = CaseRow | CaseState
"""A case as the steps of a command read and change it: a new case's ORM row (a survey) or
an existing case read with Core."""

SURVEY_ATTEMPTS = 8
"""How often :meth:`CaseEngine.survey` starts again after losing a race for a case number
(configurable default; only concurrent surveys in one prefecture on PostgreSQL collide)."""


@dataclass(frozen=True)
class SurveyBatchResult:
    """What :meth:`CaseEngine.survey_batch` did.

    Attributes:
        case_ids: one entry per app, in order: the new case's id, or ``None`` if refused.
        refused: ``(index, rejections)`` for every app the guards refused (0-based index).
    """

    case_ids: list[str | None]
    refused: list[tuple[int, list[Rejection]]] = field(default_factory=list)


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
        raise InvalidInput(_describe(f"{event.value} payload", exc)) from None


def _describe(what: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(whole)"
        lines.append(f"  - {loc}: {err['msg']}")
    return f"{what} is not valid:\n" + "\n".join(lines)


def _event_of(event: Event | str) -> Event:
    try:
        return Event(str(event).replace("-", "_"))
    except ValueError:
        known = ", ".join(e.value for e in Event)
        raise InvalidInput(f"unknown event {event!r}; events are: {known}") from None


class CaseEngine:
    """The engine of one campaign on one database.

    Build it with :func:`appcase.open_engine`. Methods are safe to call from several
    threads and processes at once: concurrency is the database's job (version checks).

    Args:
        store: the unit-of-work factory.
        campaign: the campaign whose rules apply (stored in the database).
        clock: where "now" comes from (aware instants).
    """

    def __init__(self, store: Store, campaign: Campaign, clock: Clock | None = None) -> None:
        self.store = store
        self.campaign = campaign
        self.clock: Clock = clock or SystemClock()

    def close(self) -> None:
        """Close the engine's database connections (the engine can not be used after)."""
        self.store.engine.dispose()

    def __enter__(self) -> CaseEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- actors -------------------------------------------------------------------------
    def add_actor(
        self, actor_id: str, *, role: str, jurisdiction: str, name: str = ""
    ) -> ActorView:
        """Register an officer. Registering the same actor again with the same role and
        jurisdiction changes nothing.

        Args:
            actor_id: a short id, e.g. ``"cs-cac-01"``.
            role: a role id of the campaign (``cac_prefecture``, ``edu_prefecture``,
                ``cac_province``).
            jurisdiction: GB/T 2260 code: the prefecture, or the province for a province role.
            name: display name.

        Raises:
            InvalidInput: bad id, undeclared role, wrong jurisdiction, or the id is taken by
                an actor with another role or jurisdiction.
        """
        actor_id = actor_id.strip()
        if not actor_id or len(actor_id) > 64 or not actor_id.isprintable() or " " in actor_id:
            raise InvalidInput(
                f"actor id {actor_id!r} must be 1-64 printable characters, no spaces"
            )
        if actor_id == SYSTEM_ACTOR or role == permissions.SYSTEM_ROLE:
            raise InvalidInput("the system actor is built in and cannot be registered")
        problems = permissions.check_posting(self.campaign, role, jurisdiction)
        if problems:
            raise InvalidInput("; ".join(p.message for p in problems))
        with self.store.transaction() as repo:
            row = repo.actor(actor_id)
            if row is not None:
                if (row.role, row.jurisdiction) != (role, jurisdiction):
                    raise InvalidInput(
                        f"actor {actor_id} is already registered as {row.role} in "
                        f"{row.jurisdiction}; choose another id"
                    )
            else:
                row = ActorRow(
                    id=actor_id,
                    role=role,
                    jurisdiction=jurisdiction,
                    name=name,
                    created_at=self.clock.now(),
                )
                repo.add(row)
        return ActorView(id=row.id, role=row.role, jurisdiction=row.jurisdiction, name=row.name)

    def actors(self) -> list[ActorView]:
        """Every registered actor, by id."""
        with self.store.reading() as repo:
            return [
                ActorView(id=r.id, role=r.role, jurisdiction=r.jurisdiction, name=r.name)
                for r in repo.actors()
            ]

    def _actor(self, repo: Repository, actor_id: str) -> ActorInfo:
        if actor_id == SYSTEM_ACTOR:
            return ActorInfo(SYSTEM_ACTOR, permissions.SYSTEM_ROLE, self.campaign.province.code)
        found = repo.actor_role(actor_id)
        if found is None:
            raise UnknownActor(actor_id)
        return ActorInfo(actor_id, *found)

    # --- commands -------------------------------------------------------------------------
    def survey(
        self,
        app: AppIdentity | Mapping[str, Any],
        *,
        actor: str,
        at: datetime | None = None,
        override: Override | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> CaseView:
        """List an app in the campaign's ledger: a new case in state ``surveyed``.

        Args:
            app: the app's identity (model or mapping of its fields).
            actor: the acting officer's id.
            at: when the survey happened (aware; default: the clock's now).
            override: to survey after the survey window closed: a reason and optionally
                the authorising officer (see :class:`Override`).
            idempotency_key: a caller's key; a retry with the same key returns the case
                created the first time and writes nothing.

        Returns:
            The new case.

        Raises:
            InvalidInput: malformed app identity or override, naive ``at``.
            UnknownActor: the actor (or override authoriser) is not registered.
            GuardRejected: every failed guard (role, window, already in the ledger, …).
            ConcurrentModification: still losing races for a case number after
                :data:`SURVEY_ATTEMPTS` tries; nothing was written, retrying is safe.
        """
        payload = parse_payload(Event.SURVEY, {"app": app})
        assert isinstance(payload, SurveyPayload)
        ovr = self._override(override)
        when = self._when(at)
        # Racing surveys collide on a unique key (the app in the ledger, the case number or
        # the idempotency key); the loser starts again and sees the winner's case: the same
        # app is then refused (not_in_ledger), another app takes the next number.
        for attempt in range(1, SURVEY_ATTEMPTS + 1):
            try:
                with self.store.transaction() as repo:
                    ident = payload.app
                    # The ledger first, the key second: on PostgreSQL (READ COMMITTED) a
                    # racing twin that committed between the two reads is then seen by the
                    # key, and its case is returned rather than refused as already listed.
                    existing = repo.find_app(self.campaign.id, ident.uscc, ident.name)
                    if idempotency_key:
                        done = self._replayed(
                            repo, idempotency_key, None, Event.SURVEY, actor, payload
                        )
                        if done is not None:
                            return self._case_view(repo, self._case_state(repo, done.case_id))
                    number = repo.next_case_number(self.campaign.id, ident.prefecture)
                    who = self._actor(repo, actor)
                    ovr_actor = (
                        self._actor(repo, ovr.authorised_by) if ovr and ovr.authorised_by else None
                    )
                    cmd = Command(Event.SURVEY, who, payload, when, None, ovr, ovr_actor)
                    ctx, app_row, row = self._survey_checked(cmd, number, existing is not None)
                    repo.case_id = row.id
                    repo.add(app_row)
                    repo.flush()
                    self._survey_write(repo, ctx, app_row, row, idempotency_key)
                    repo.flush()
                    return self._case_view(repo, row, app_row)
            except ConcurrentModification:
                if attempt == SURVEY_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def survey_batch(
        self,
        apps: Sequence[AppIdentity | Mapping[str, Any]],
        *,
        actor: str,
        at: datetime | Sequence[datetime | None] | None = None,
        override: Override | Mapping[str, Any] | None = None,
        skip_refused: bool = False,
        progress: Callable[[int], None] | None = None,
        chunk_size: int = 500,
    ) -> SurveyBatchResult:
        """List many apps in the ledger in one transaction (the ledger import's engine path).

        Each app goes through exactly the checks and writes of :meth:`survey` (the same
        guards, machine, hash chain); only the reads are shared: the actor, the apps already
        listed and the case numbers are read once, and rows are written in chunks.

        Args:
            apps: the apps' identities, in order.
            actor: the acting officer's id.
            at: when each app was surveyed: one aware instant for all, or one per app
                (``None`` items fall back to the clock's now); default: the clock's now.
            override: to survey after the survey window closed (as for :meth:`survey`).
            skip_refused: write the apps the guards accept and report the others; by
                default one refused app means nothing is written.
            progress: called with the number of apps just processed (for a progress bar).
            chunk_size: apps per database round trip (a tuning knob; the transaction is one).

        Returns:
            The case ids created (``None`` for a refused app) and every refusal by index.

        Raises:
            InvalidInput: a malformed identity or override, a naive instant, or ``at``
                of another length than ``apps``.
            UnknownActor: the actor (or override authoriser) is not registered.
            BatchRejected: some apps were refused and ``skip_refused`` is false; every
                refusal is listed and nothing was written.
        """
        payloads = [parse_payload(Event.SURVEY, {"app": a}) for a in apps]
        if isinstance(at, datetime) or at is None:
            whens = [self._when(at)] * len(payloads)
        else:
            if len(at) != len(payloads):
                raise InvalidInput(f"{len(at)} survey times given for {len(payloads)} apps")
            whens = [self._when(t) for t in at]
        ovr = self._override(override)
        refused: list[tuple[int, list[Rejection]]] = []
        ids: list[str | None] = []
        with self.store.transaction() as repo:
            who = self._actor(repo, actor)
            ovr_actor = self._actor(repo, ovr.authorised_by) if ovr and ovr.authorised_by else None
            listed = repo.ledger_identities(self.campaign.id)
            numbers = repo.case_counts_by_prefecture(self.campaign.id)
            for start in range(0, len(payloads), chunk_size):
                ready = []
                for i in range(start, min(start + chunk_size, len(payloads))):
                    payload = payloads[i]
                    assert isinstance(payload, SurveyPayload)
                    ident = payload.app
                    key = (ident.uscc, ident.name)
                    number = numbers.get(ident.prefecture, 0) + 1
                    cmd = Command(Event.SURVEY, who, payload, whens[i], None, ovr, ovr_actor)
                    try:
                        ready.append(self._survey_checked(cmd, number, key in listed))
                    except GuardRejected as exc:
                        refused.append((i, exc.rejections))
                        ids.append(None)
                        continue
                    listed.add(key)
                    numbers[ident.prefecture] = number
                    ids.append(ready[-1][2].id)
                repo.add(*(app_row for _, app_row, _ in ready))
                repo.flush()
                for ctx, app_row, row in ready:
                    self._survey_write(repo, ctx, app_row, row, None)
                repo.flush()
                if progress is not None:
                    progress(min(chunk_size, len(payloads) - start))
            if refused and not skip_refused:
                raise BatchRejected(Event.SURVEY.value, refused)
        return SurveyBatchResult(case_ids=ids, refused=refused)

    def _survey_checked(
        self, cmd: Command, number: int, already_in_ledger: bool
    ) -> tuple[GuardContext, AppRow, CaseRow]:
        """Run a survey's guards and machine on a new (unsaved) case row; nothing is written.

        Raises:
            GuardRejected: with every failed guard.
        """
        payload = cmd.payload
        assert isinstance(payload, SurveyPayload)
        ident = payload.app
        case_id = f"{self.campaign.case_prefix}-{ident.prefecture}-{number:04d}"
        facts = CaseFacts(
            case_id=None,
            prefecture=ident.prefecture,
            state=State.NEW,
            judicial_state=JudicialState.NOT_REFERRED,
            already_in_ledger=already_in_ledger,
        )
        ctx = GuardContext(facts, cmd, self.campaign, self.clock.now())
        now = ctx.now
        app_row = AppRow(
            campaign_id=self.campaign.id,
            name=ident.name,
            operator=ident.operator,
            uscc=ident.uscc,
            icp_filing=ident.icp_filing,
            platforms=list(ident.platforms),
            target_users=ident.target_users,
            used_by_schools=ident.used_by_schools,
            prefecture=ident.prefecture,
        )
        row = CaseRow(
            id=case_id,
            campaign_id=self.campaign.id,
            prefecture=ident.prefecture,
            state=State.NEW.value,
            judicial_state=JudicialState.NOT_REFERRED.value,
            event_count=0,
            head_hash=GENESIS,
            suspected_illegal=False,
            created_at=now,
            last_occurred_at=cmd.at,
            updated_at=now,
        )
        self._transition(ctx, row, case_id=None)
        return ctx, app_row, row

    def _survey_write(
        self,
        repo: Repository,
        ctx: GuardContext,
        app_row: AppRow,
        row: CaseRow,
        idempotency_key: str | None,
    ) -> None:
        """Add a checked survey's case and its first event (``app_row`` is flushed)."""
        row.app_id = app_row.id
        repo.add(row)
        self._append(repo, row, ctx, State.NEW.value, idempotency_key)

    def fire(
        self,
        case_id: str,
        event: Event | str,
        *,
        actor: str,
        payload: BaseModel | Mapping[str, Any] | None = None,
        at: datetime | None = None,
        reason: str | None = None,
        override: Override | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> EventView:
        """Fire ``event`` on a case: guards, transition, records and one chained event.

        Args:
            case_id: e.g. ``"HN2018-430100-0001"``.
            event: an :class:`~appcase.states.Event` or its name (``"take-down"`` works).
            actor: the acting officer's id (``system`` is refused: it acts only through
                :meth:`sweep`).
            payload: the event's payload (see :mod:`appcase.workflow.commands`).
            at: when the act happened, aware (default: the clock's now). Phase windows are
                judged on it, in the campaign's time zone.
            reason: why (required by ``escalate``, ``return_for_rectification``, ``refer``
                and by a judgment stricter than the policy's minimum).
            override: to act after a window closed, or below the policy's minimum: a reason
                and optionally the authorising officer.
            idempotency_key: a caller's key (at most 200 characters, unique across the
                database); a retry with the same key returns the event written the first
                time and writes nothing -- also when two retries race each other.
            expected_version: the case's ``version`` the caller read before deciding (as
                :meth:`get` returns it); if the case has moved on since, nothing is written
                and :class:`ConcurrentModification` says so. Default: no such check (the
                command applies to the case as it is when the command runs).

        Returns:
            The event written (or, for a retried idempotency key, the one written first).

        Raises:
            InvalidInput: unknown event, malformed payload, naive ``at``, an
                ``expected_version`` below 1, or an idempotency key already used for another
                command.
            CaseNotFound: no such case.
            UnknownActor: the actor (or override authoriser) is not registered.
            GuardRejected: listing every failed guard; nothing was written.
            ConcurrentModification: the case changed meanwhile (another command won the
                race, or it is no longer at ``expected_version``); nothing was written.
        """
        ev = _event_of(event)
        if ev is Event.SURVEY:
            raise InvalidInput("use survey() to list an app; it creates the case")
        body = parse_payload(ev, payload)
        ovr = self._override(override)
        when = self._when(at)
        if expected_version is not None and expected_version < 1:
            raise InvalidInput(
                f"expected version {expected_version} is not a case version (1, 2, …)"
            )
        try:
            with self.store.transaction(case_id) as repo:
                # Lock the case first: a racing retry with the same key then waits here and
                # finds the winner's event below instead of firing on the moved-on case.
                row = self._case_state(repo, case_id, for_update=True)
                if idempotency_key:
                    done = self._replayed(repo, idempotency_key, case_id, ev, actor, body, reason)
                    if done is not None:
                        return _event_view(done)
                if expected_version is not None and row.version != expected_version:
                    raise ConcurrentModification(
                        case_id, expected_version=expected_version, version=row.version
                    )
                who = self._actor(repo, actor)
                ovr_actor = (
                    self._actor(repo, ovr.authorised_by) if ovr and ovr.authorised_by else None
                )
                cmd = Command(ev, who, body, when, reason, ovr, ovr_actor)
                return self._fire_loaded(repo, row, cmd, idempotency_key)
        except ConcurrentModification:
            # Lost a race on the idempotency key's unique index: if the winner ran this very
            # command, its event is the answer.
            if idempotency_key:
                with self.store.transaction(case_id) as repo:
                    done = self._replayed(repo, idempotency_key, case_id, ev, actor, body, reason)
                    if done is not None:
                        return _event_view(done)
            raise

    def _fire_loaded(
        self, repo: Repository, case: CaseState, cmd: Command, idempotency_key: str | None
    ) -> EventView:
        """Guards, transition and writes for a case read in ``repo``'s transaction.

        Raises:
            GuardRejected: as :meth:`fire`; nothing was written.
            ConcurrentModification: the case moved on since it was read.
        """
        read = case.copy()
        cmd = self._with_default_deadline(repo, case, cmd)
        facts = self._facts(repo, case, cmd.event, cmd.at)
        ctx = GuardContext(facts, cmd, self.campaign, self.clock.now())
        if cmd.event is Event.JUDGE:
            ctx.policy = self._policy(ctx)
        track = spec_for(cmd.event).track
        from_state = case.judicial_state if track is Track.JUDICIAL else case.state
        self._transition(ctx, case, case_id=case.id)
        self._record(repo, case, ctx)
        fields = self._event_fields(repo, case, ctx, from_state, idempotency_key)
        event_id = repo.append_event(fields)
        _advance(case, fields)
        repo.save_case(case, read)
        if isinstance(cmd.payload, _RECORD_PAYLOADS):
            self._write_records(repo, case.id, event_id, fields["payload"], cmd)
        repo.flush()
        return _fields_view(fields)

    def _fire_detached(
        self, repo: Repository, case: CaseState, cmd: Command
    ) -> tuple[CaseState, dict[str, Any]]:
        """Guards, transition and event of ``cmd`` on a copy of ``case``; nothing is written.

        The same steps as :meth:`_fire_loaded`, for events that write no records (the
        sweep's escalations, written a batch at a time): the caller writes the returned case
        (its ``version`` is still the one read, for the caller's version check) and the
        event's columns.

        Raises:
            GuardRejected: as :meth:`fire`; ``case`` is unchanged.
            ValueError: if ``cmd``'s event writes records.
        """
        if isinstance(cmd.payload, _RECORD_PAYLOADS):
            raise ValueError(f"{cmd.event.value} writes records; fire it with _fire_loaded")
        case = case.copy()
        cmd = self._with_default_deadline(repo, case, cmd)
        facts = self._facts(repo, case, cmd.event, cmd.at)
        ctx = GuardContext(facts, cmd, self.campaign, self.clock.now())
        track = spec_for(cmd.event).track
        from_state = case.judicial_state if track is Track.JUDICIAL else case.state
        self._transition(ctx, case, case_id=case.id)
        self._record(repo, case, ctx)
        fields = self._event_fields(repo, case, ctx, from_state, None)
        _advance(case, fields)
        return case, fields

    # --- the steps of a command ------------------------------------------------------------
    def _with_default_deadline(self, repo: Repository, row: _Case, cmd: Command) -> Command:
        """Fill a missing rectification deadline with the campaign's default (rules P1, P2 of
        :mod:`appcase.policies.deadlines`): an interview's from the local day it was held, a
        pledge's from the latest interview. The event records the date used."""
        body = cmd.payload
        if isinstance(body, InterviewPayload) and body.rectification_deadline is None:
            if body.held_at is None:
                return cmd
            day = deadlines.local_day(self.campaign, body.held_at)
            default = deadlines.default_rectification_deadline(self.campaign, day)
            body = body.model_copy(update={"rectification_deadline": default})
        elif isinstance(body, PledgePayload) and body.deadline is None:
            interview = repo.latest_interview(row.id)
            if interview is None:
                return cmd
            body = body.model_copy(update={"deadline": interview.rectification_deadline})
        else:
            return cmd
        return dataclasses.replace(cmd, payload=body)

    def _when(self, at: datetime | None) -> datetime:
        return ensure_aware(at, "event time") if at is not None else self.clock.now()

    @staticmethod
    def _override(value: Override | Mapping[str, Any] | None) -> Override | None:
        if value is None or isinstance(value, Override):
            return value
        try:
            return Override.model_validate(dict(value))
        except ValidationError as exc:
            raise InvalidInput(_describe("override", exc)) from None

    def _case_state(self, repo: Repository, case_id: str, *, for_update: bool = False) -> CaseState:
        case = repo.case_state(case_id, for_update=for_update)
        if case is None or case.campaign_id != self.campaign.id:
            raise CaseNotFound(case_id)
        return case

    def _replayed(
        self,
        repo: Repository,
        key: str,
        case_id: str | None,
        event: Event | tuple[Event, ...],
        actor: str | None = None,
        body: BaseModel | None = None,
        reason: str | None = None,
    ) -> EventRow | None:
        """The event an earlier command with this idempotency key wrote, if any.

        Raises:
            InvalidInput: the key is malformed, or was used for a different command (another
                event, case, actor, reason or payload).
        """
        if not key or len(key) > 200 or not key.isprintable():
            raise InvalidInput("an idempotency key is 1-200 printable characters")
        done = repo.event_by_key(key)
        if done is None:
            return None
        events = event if isinstance(event, tuple) else (event,)
        same = (
            done.event in {e.value for e in events}
            and (case_id is None or done.case_id == case_id)
            and (actor is None or done.actor_id == actor)
            and (body is None or done.reason == reason)
            and (body is None or _same_payload(body.model_dump(mode="json"), done.payload))
        )
        if not same:
            raise InvalidInput(
                f"idempotency key {key!r} was already used for {done.event} on case "
                f"{done.case_id} by {done.actor_id}; a retry repeats that command exactly "
                "(same event, case, actor, reason and payload); use a new key for a new command"
            )
        return done

    def _facts(
        self, repo: Repository, row: _Case, event: Event, at: datetime | None = None
    ) -> CaseFacts:
        """Read what the guards of ``event`` at instant ``at`` need, and nothing more.

        The ledger entry (school use, prior cases) is read for ``judge`` only, the one event
        whose policy weighs it; for every other event ``used_by_schools`` is ``False``.
        """
        prior = 0
        used_by_schools = False
        if event is Event.JUDGE:
            app = repo.app(row.app_id)
            used_by_schools = app.used_by_schools
            prior = repo.prior_cases(
                uscc=app.uscc,
                name=app.name,
                icp_filing=app.icp_filing,
                before=at or self.clock.now(),
            )
        pledge = repo.latest_pledge(row.id) if event is Event.RECTIFY else None
        return CaseFacts(
            case_id=row.id,
            prefecture=row.prefecture,
            state=State(row.state),
            judicial_state=JudicialState(row.judicial_state),
            last_occurred_at=row.last_occurred_at,
            used_by_schools=used_by_schools,
            evidence_numbers=repo.evidence_numbers(row.id) if event is Event.JUDGE else frozenset(),
            disposition=_disposition(row.disposition),
            suspected_illegal=row.suspected_illegal,
            pledge_commitments=tuple(pledge.commitments) if pledge else (),
            pledge_deadline=row.pledge_deadline,
            prior_cases=prior,
        )

    def _policy(self, ctx: GuardContext) -> disposition.DispositionResult:
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

    def _transition(self, ctx: GuardContext, row: _Case, case_id: str | None) -> None:
        """Fire the machine on ``row``; raise :class:`GuardRejected` with every rejection."""
        ms = machines()
        event = ctx.command.event
        machine = ms.for_event(event)
        state = row.judicial_state if machine is ms.judicial else row.state
        if not ms.can_fire(event, state):
            spec = spec_for(event)
            allowed = ", ".join(str(s) for s in spec.sources)
            rejections = [
                Rejection(
                    "state", f"{event.value} is not allowed from {state} (only from {allowed})"
                ),
                *run_guards((*COMMON_GUARDS, *spec.guards), ctx),
            ]
            raise GuardRejected(case_id, row.state, event.value, rejections)
        if not machine.events[event.value].trigger(row, ctx=ctx):
            raise GuardRejected(case_id, row.state, event.value, ctx.rejections)

    def _record(self, repo: Repository, row: _Case, ctx: GuardContext) -> None:
        """Update the case's projections for the event just fired (the records are written
        by :meth:`_write_records` once the event has its id)."""
        cmd, body = ctx.command, ctx.command.payload
        if cmd.event is Event.FLAG:
            row.flagged_at = cmd.at
        elif cmd.event is Event.JUDGE:
            assert isinstance(body, JudgePayload) and body.disposition is not None
            assert ctx.policy is not None
            row.disposition = body.disposition.value
            row.suspected_illegal = ctx.policy.refer
        elif cmd.event is Event.PLEDGE:
            assert isinstance(body, PledgePayload) and body.deadline is not None
            row.pledge_deadline = body.deadline
            row.pledge_due_at = deadlines.day_start(self.campaign, body.deadline + timedelta(1))
        elif cmd.event in (Event.RECTIFY, Event.ESCALATE):
            row.pledge_due_at = None

    def _append(
        self,
        repo: Repository,
        row: CaseRow,
        ctx: GuardContext,
        from_state: str,
        idempotency_key: str | None,
    ) -> EventRow:
        """Append the first event of a new case (the ORM row ``row``, added to ``repo``)."""
        fields = self._event_fields(repo, row, ctx, from_state, idempotency_key)
        event_row = EventRow(**fields)
        repo.add(event_row)
        _advance(row, fields)
        return event_row

    def _event_fields(
        self,
        repo: Repository,
        row: _Case,
        ctx: GuardContext,
        from_state: str,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """The columns of the event a fired command appends to ``row``'s chain, hashed."""
        cmd = ctx.command
        track = spec_for(cmd.event).track
        to_state = row.judicial_state if track is Track.JUDICIAL else row.state
        payload = cmd.payload.model_dump(mode="json")
        if isinstance(cmd.payload, FlagPayload):
            self._keep_reporters_apart(repo, row, cmd.payload, payload, ctx.now)
        if ctx.policy is not None:
            payload["policy"] = ctx.policy.as_record()
        override = None
        if cmd.override is not None and ctx.waived:
            override = {
                "reason": cmd.override.reason,
                "authorised_by": (cmd.override_actor or cmd.actor).id,
                "waived": list(ctx.waived),
            }
        now = ctx.now
        seq = row.event_count + 1
        record: dict[str, Any] = {
            "case_id": row.id,
            "seq": seq,
            "track": track.value,
            "event": cmd.event.value,
            "from": from_state,
            "to": to_state,
            "actor": cmd.actor.id,
            "role": cmd.actor.role,
            "jurisdiction": cmd.actor.jurisdiction,
            "occurred_at": format_instant(cmd.at),
            "recorded_at": format_instant(now),
            "payload": payload,
            "reason": cmd.reason,
            "override": override,
            "prev_hash": row.head_hash,
        }
        return {
            "case_id": row.id,
            "seq": seq,
            "track": track.value,
            "event": cmd.event.value,
            "from_state": from_state,
            "to_state": to_state,
            "actor_id": cmd.actor.id,
            "role": cmd.actor.role,
            "jurisdiction": cmd.actor.jurisdiction,
            "occurred_at": cmd.at,
            "recorded_at": now,
            "payload": payload,
            "reason": cmd.reason,
            "override": override,
            "idempotency_key": idempotency_key,
            "prev_hash": row.head_hash,
            "hash": event_hash(record),
        }

    @staticmethod
    def _keep_reporters_apart(
        repo: Repository, row: _Case, body: FlagPayload, payload: dict[str, Any], now: datetime
    ) -> None:
        """Move hotline reporters' details to the ``reporters`` table; the event keeps a ref."""
        for item, dumped in zip(body.evidence, payload["evidence"], strict=True):
            if item.reporter is not None:
                ref = f"R-{uuid.uuid4().hex}"
                dumped["reporter_ref"] = ref
                repo.add(
                    ReporterRow(
                        ref=ref,
                        case_id=row.id,
                        name=item.reporter.name,
                        contact=item.reporter.contact,
                        created_at=now,
                    )
                )

    def _write_records(
        self, repo: Repository, case_id: str, event_id: int, payload: dict[str, Any], cmd: Command
    ) -> None:
        """Add the records of the event ``event_id`` (its stored ``payload``) to ``repo``."""
        body, ids = cmd.payload, {"case_id": case_id, "event_id": event_id}
        if isinstance(body, FlagPayload):
            start = max(repo.evidence_numbers(case_id), default=0)
            repo.add(
                *(
                    EvidenceRow(
                        **ids,
                        number=start + i,
                        harm_category=e.harm_category,
                        description=e.description,
                        source=e.source,
                        locator=e.locator,
                        captured_at=e.captured_at,
                        attachment_sha256=e.attachment_sha256,
                        reporter_ref=dumped.get("reporter_ref"),
                    )
                    for i, (e, dumped) in enumerate(
                        zip(body.evidence, payload["evidence"], strict=True), 1
                    )
                )
            )
        elif isinstance(body, JudgePayload):
            repo.add(
                *(
                    FindingRow(
                        **ids,
                        harm_category=f.harm_category,
                        severity=f.severity.value,
                        suspected_illegal=f.suspected_illegal,
                        evidence_refs=list(f.evidence_refs),
                        note=f.note,
                    )
                    for f in body.findings
                )
            )
        elif isinstance(body, InterviewPayload):
            assert body.notice_given_at and body.held_at and body.rectification_deadline
            repo.add(
                InterviewRow(
                    **ids,
                    notice_given_at=body.notice_given_at,
                    held_at=body.held_at,
                    place=body.place,
                    officers=list(body.officers),
                    operator_representatives=list(body.operator_representatives),
                    problems=list(body.problems),
                    rectification_deadline=body.rectification_deadline,
                )
            )
        elif isinstance(body, PledgePayload):
            assert body.signed_at and body.deadline
            repo.add(
                PledgeRow(
                    **ids,
                    signed_by=body.signed_by,
                    signed_at=body.signed_at,
                    commitments=list(body.commitments),
                    deadline=body.deadline,
                )
            )
        elif isinstance(body, RectifyPayload):
            repo.add(
                VerificationRow(
                    **ids,
                    checks=[c.model_dump(mode="json") for c in body.checks],
                    all_verified=all(c.verified for c in body.checks),
                )
            )

    def explain_judgment(
        self,
        case_id: str,
        payload: JudgePayload | Mapping[str, Any],
        at: datetime | None = None,
    ) -> disposition.DispositionResult:
        """What the disposition policy says of a judgment of this case, without firing it.

        Uses the same facts the ``judge`` guard uses (prior cases of the app or operator,
        school use).

        Args:
            case_id: the case.
            payload: a ``judge`` payload (findings; the disposition is ignored).
            at: the instant of the judgment, aware (default: the clock's now); prior cases
                are those judged before it.

        Returns:
            The minimum disposition, the referral and the rules that fired.

        Raises:
            CaseNotFound: no such case.
            InvalidInput: malformed payload.
        """
        body = parse_payload(Event.JUDGE, payload)
        when = self._when(at)
        with self.store.transaction() as repo:
            row = self._case_state(repo, case_id)
            facts = self._facts(repo, row, Event.JUDGE, when)
        actor = ActorInfo(SYSTEM_ACTOR, permissions.SYSTEM_ROLE, self.campaign.province.code)
        cmd = Command(Event.JUDGE, actor, body, when)
        return self._policy(GuardContext(facts, cmd, self.campaign, self.clock.now()))

    # --- reads ----------------------------------------------------------------------------
    def get(self, case_id: str) -> CaseView:
        """Return a case.

        Raises:
            CaseNotFound: no such case in this campaign.
        """
        with self.store.reading() as repo:
            return self._case_view(repo, self._case_state(repo, case_id))

    def list_cases(
        self,
        *,
        states: tuple[str, ...] = (),
        judicial_states: tuple[str, ...] = (),
        prefectures: tuple[str, ...] = (),
        overdue_at: datetime | None = None,
        text: str | None = None,
        phase: str | None = None,
        sort: str = "id",
        limit: int | None = None,
    ) -> list[CaseView]:
        """List cases, ordered by id (or ``sort``).

        Args:
            states: administrative states to include (default all).
            judicial_states: judicial states to include (default all).
            prefectures: GB/T 2260 codes to include (default all).
            overdue_at: only pledged cases whose rectification deadline had passed at this
                aware instant.
            text: a substring of the app's name, operator or the case id.
            phase: a phase id of the campaign: only cases whose last event happened inside
                that phase's window (its start day to its deadline day, local dates,
                inclusive). Windows may overlap (Hunan 2018's judgment phase starts on
                the campaign's first day), so a case can be in several.
            sort: ``id``, ``state`` (workflow order), ``prefecture`` or ``last-event``
                (oldest first); ties by id.
            limit: at most this many cases.

        Raises:
            InvalidInput: an unknown state, phase or sort, or a naive ``overdue_at``.
        """
        for s in states:
            if s not in {x.value for x in State}:
                raise InvalidInput(f"unknown state {s!r}")
        for s in judicial_states:
            if s not in {x.value for x in JudicialState}:
                raise InvalidInput(f"unknown judicial state {s!r}")
        if sort not in CASE_ORDERS:
            raise InvalidInput(f"unknown sort {sort!r}; one of {', '.join(CASE_ORDERS)}")
        window: tuple[datetime, datetime] | tuple[None, None] = (None, None)
        if phase is not None:
            try:
                p = self.campaign.phase(phase)
            except KeyError:
                known = ", ".join(x.id for x in self.campaign.phases)
                raise InvalidInput(f"unknown phase {phase!r}; phases are: {known}") from None
            window = (
                deadlines.day_start(self.campaign, p.start),
                deadlines.day_start(self.campaign, p.deadline + timedelta(1)),
            )
        flt = CaseFilter(
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
        with self.store.reading() as repo:
            return [self._case_view(repo, c, a) for c, a in repo.cases(self.campaign.id, flt)]

    def history(self, case_id: str) -> list[EventView]:
        """The case's events in chain order.

        Raises:
            CaseNotFound: no such case in this campaign.
        """
        with self.store.reading() as repo:
            self._case_state(repo, case_id)
            return [_event_view(e) for e in repo.events(case_id)]

    def get_as_of(self, case_id: str, at: datetime, *, as_recorded: bool = False) -> CaseAsOf:
        """The case as it was at ``at``, rebuilt from its events (see
        :mod:`appcase.workflow.asof`).

        Args:
            case_id: the case.
            at: the instant, aware (any zone).
            as_recorded: count the events *recorded* by ``at`` (what the system showed
                then) instead of those that *happened* by then (the default).

        Raises:
            NaiveDatetimeError: ``at`` is naive.
            CaseNotFound: no such case in this campaign.
            InvalidInput: the case was not yet in the ledger at ``at``.
        """
        from appcase.workflow.asof import get_as_of

        return get_as_of(self, case_id, at, as_recorded=as_recorded)

    def list_as_of(
        self,
        at: datetime,
        *,
        as_recorded: bool = False,
        states: tuple[str, ...] = (),
        judicial_states: tuple[str, ...] = (),
        prefectures: tuple[str, ...] = (),
        text: str | None = None,
        limit: int | None = None,
    ) -> list[CaseAsOf]:
        """The campaign's cases as they were at ``at``, ordered by id (cases surveyed
        later are left out); filters as :meth:`list_cases`, applied to the states at ``at``.

        Raises:
            NaiveDatetimeError: ``at`` is naive.
            InvalidInput: an unknown state.
        """
        from appcase.workflow.asof import list_as_of

        return list_as_of(
            self,
            at,
            as_recorded=as_recorded,
            states=states,
            judicial_states=judicial_states,
            prefectures=prefectures,
            text=text,
            limit=limit,
        )

    def iter_case_ids(self, batch_size: int = 1000) -> Iterator[str]:
        """Every case id of the campaign, in order, read in batches (constant memory)."""
        after: str | None = None
        while True:
            with self.store.reading() as repo:
                rows = repo.cases(self.campaign.id, CaseFilter(after_id=after, limit=batch_size))
            if not rows:
                return
            for c, _ in rows:
                yield c.id
            after = rows[-1][0].id

    def _case_view(self, repo: Repository, row: _Case, app: AppRow | None = None) -> CaseView:
        app = app or repo.app(row.app_id)
        return CaseView(
            id=row.id,
            campaign_id=row.campaign_id,
            prefecture=row.prefecture,
            app=identity_of(app),
            state=row.state,
            judicial_state=row.judicial_state,
            version=row.version,
            disposition=row.disposition,
            suspected_illegal=row.suspected_illegal,
            pledge_deadline=row.pledge_deadline,
            event_count=row.event_count,
            head_hash=row.head_hash,
            created_at=row.created_at,
            last_occurred_at=row.last_occurred_at,
        )


_RECORD_PAYLOADS = (FlagPayload, JudgePayload, InterviewPayload, PledgePayload, RectifyPayload)
"""Payloads whose events write records (evidence, findings, ...) that reference the event's
id; :meth:`CaseEngine._write_records` writes nothing for the others."""


def _advance(row: _Case, event: Mapping[str, Any]) -> None:
    """Move ``row``'s chain head and timestamps to the event just appended."""
    row.event_count = event["seq"]
    row.head_hash = event["hash"]
    row.last_occurred_at = event["occurred_at"]
    row.updated_at = event["recorded_at"]


def _fields_view(fields: Mapping[str, Any]) -> EventView:
    """The view of an event from its columns (as :meth:`CaseEngine._event_fields` made them)."""
    return EventView(
        case_id=fields["case_id"],
        seq=fields["seq"],
        track=fields["track"],
        event=fields["event"],
        from_state=fields["from_state"],
        to_state=fields["to_state"],
        actor=fields["actor_id"],
        role=fields["role"],
        jurisdiction=fields["jurisdiction"],
        occurred_at=fields["occurred_at"],
        recorded_at=fields["recorded_at"],
        payload=fields["payload"],
        reason=fields["reason"],
        override=fields["override"],
        idempotency_key=fields["idempotency_key"],
        prev_hash=fields["prev_hash"],
        hash=fields["hash"],
    )


def _event_view(row: EventRow) -> EventView:
    return EventView(
        case_id=row.case_id,
        seq=row.seq,
        track=row.track,
        event=row.event,
        from_state=row.from_state,
        to_state=row.to_state,
        actor=row.actor_id,
        role=row.role,
        jurisdiction=row.jurisdiction,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        payload=row.payload,
        reason=row.reason,
        override=row.override,
        idempotency_key=row.idempotency_key,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _disposition(value: str | None) -> Disposition | None:
    return Disposition(value) if value else None


def _same_payload(given: dict[str, Any], stored: dict[str, Any]) -> bool:
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
