"""The case engine: a façade over the command pipeline, for one campaign on one store.

Every command is one unit of work of the :class:`~appcase.ports.Storage` port, run by
:class:`~appcase.workflow.pipeline.Pipeline`: the case is read, the guards run on its
facts, the machine moves the state, one hash-chained event is folded into the case and
written with its records -- or nothing is written at all. Reads go through the
:class:`~appcase.ports.Queries` port. The engine imports no database code: the wiring
(:mod:`appcase.bootstrap`) hands it a store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from appcase.clock import Clock, SystemClock, ensure_aware
from appcase.errors import (
    BatchRejected,
    ConcurrentModification,
    GuardRejected,
    InvalidInput,
    Rejection,
)
from appcase.policies import deadlines, disposition, permissions
from appcase.policies.campaign import Campaign
from appcase.ports import CASE_ORDERS, CaseFilter, Storage, StoredActor
from appcase.states import Event, JudicialState, State
from appcase.workflow.commands import AppIdentity, JudgePayload, Override, SurveyPayload
from appcase.workflow.pipeline import (
    SYSTEM_ACTOR,
    Pipeline,
    parse_event,
    parse_override,
    parse_payload,
)
from appcase.workflow.views import ActorView, CaseView, EventView, case_view, event_view

if TYPE_CHECKING:
    from appcase.workflow.asof import CaseAsOf

__all__ = ["SURVEY_ATTEMPTS", "SYSTEM_ACTOR", "CaseEngine", "SurveyBatchResult", "parse_payload"]

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


class CaseEngine:
    """The engine of one campaign on one database.

    Build it with :func:`appcase.open_engine`. Methods are safe to call from several
    threads and processes at once: concurrency is the database's job (version checks).

    Args:
        storage: the units of work (:class:`~appcase.ports.Storage`).
        campaign: the campaign whose rules apply (stored in the database).
        clock: where "now" comes from (aware instants).

    Attributes:
        storage / campaign / clock: as given.
        pipeline: the command pipeline every command of this engine runs through.
    """

    def __init__(self, storage: Storage, campaign: Campaign, clock: Clock | None = None) -> None:
        self.storage = storage
        self.campaign = campaign
        self.clock: Clock = clock or SystemClock()
        self.pipeline = Pipeline(campaign, self.clock)

    def close(self) -> None:
        """Close the engine's database connections (the engine can not be used after)."""
        self.storage.close()

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
                f"actor id {actor_id[:80]!r} must be 1-64 printable characters, no spaces"
            )
        if actor_id == SYSTEM_ACTOR or role == permissions.SYSTEM_ROLE:
            raise InvalidInput("the system actor is built in and cannot be registered")
        problems = permissions.check_posting(self.campaign, role, jurisdiction)
        if problems:
            raise InvalidInput("; ".join(p.message for p in problems))
        with self.storage.transaction() as store:
            found = store.actor(actor_id)
            if found is not None:
                if (found.role, found.jurisdiction) != (role, jurisdiction):
                    raise InvalidInput(
                        f"actor {actor_id} is already registered as {found.role} in "
                        f"{found.jurisdiction}; choose another id"
                    )
            else:
                found = StoredActor(actor_id, role, jurisdiction, name)
                store.add_actor(found, self.clock.now())
        return ActorView(
            id=found.id, role=found.role, jurisdiction=found.jurisdiction, name=found.name
        )

    def actors(self) -> list[ActorView]:
        """Every registered actor, by id."""
        with self.storage.reading() as store:
            return [
                ActorView(id=a.id, role=a.role, jurisdiction=a.jurisdiction, name=a.name)
                for a in store.actors()
            ]

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
        ovr = parse_override(override)
        when = self.pipeline.when(at)
        pipe = self.pipeline
        # Racing surveys collide on a unique key (the app in the ledger, the case number or
        # the idempotency key); the loser starts again and sees the winner's case: the same
        # app is then refused (not_in_ledger), another app takes the next number.
        for attempt in range(1, SURVEY_ATTEMPTS + 1):
            try:
                with self.storage.transaction() as store:
                    ident = payload.app
                    # The ledger first, the key second: on PostgreSQL (READ COMMITTED) a
                    # racing twin that committed between the two reads is then seen by the
                    # key, and its case is returned rather than refused as already listed.
                    existing = store.find_app(self.campaign.id, ident.uscc, ident.name)
                    if idempotency_key:
                        done = pipe.replayed(
                            store, idempotency_key, None, Event.SURVEY, actor, payload
                        )
                        if done is not None:
                            case = pipe.load(store, done.case_id)
                            return case_view(case, store.app(case.app_id))
                    number = store.next_case_number(self.campaign.id, ident.prefecture)
                    cmd = pipe.command(store, Event.SURVEY, actor, payload, when, None, ovr)
                    new_app, prepared = pipe.prepare_survey(
                        cmd, number, existing is not None, idempotency_key
                    )
                    store.case_id = prepared.case.id
                    pipe.write_survey(store, new_app, prepared)
                    return case_view(prepared.case, new_app)
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
        pipe = self.pipeline
        if isinstance(at, datetime) or at is None:
            whens = [pipe.when(at)] * len(payloads)
        else:
            if len(at) != len(payloads):
                raise InvalidInput(f"{len(at)} survey times given for {len(payloads)} apps")
            whens = [pipe.when(t) for t in at]
        ovr = parse_override(override)
        refused: list[tuple[int, list[Rejection]]] = []
        ids: list[str | None] = []
        with self.storage.transaction() as store:
            cmd = (
                pipe.command(store, Event.SURVEY, actor, payloads[0], whens[0], None, ovr)
                if payloads
                else None
            )
            listed = store.ledger_identities(self.campaign.id)
            numbers = store.case_counts_by_prefecture(self.campaign.id)
            for start in range(0, len(payloads), chunk_size):
                for i in range(start, min(start + chunk_size, len(payloads))):
                    payload = payloads[i]
                    assert isinstance(payload, SurveyPayload) and cmd is not None
                    ident = payload.app
                    key = (ident.uscc, ident.name)
                    number = numbers.get(ident.prefecture, 0) + 1
                    one = pipe.with_payload(cmd, payload, whens[i])
                    try:
                        new_app, prepared = pipe.prepare_survey(one, number, key in listed)
                    except GuardRejected as exc:
                        refused.append((i, exc.rejections))
                        ids.append(None)
                        continue
                    listed.add(key)
                    numbers[ident.prefecture] = number
                    ids.append(prepared.case.id)
                    if not refused or skip_refused:
                        pipe.write_survey(store, new_app, prepared)
                if progress is not None:
                    progress(min(chunk_size, len(payloads) - start))
            if refused and not skip_refused:
                raise BatchRejected(Event.SURVEY.value, refused)
        return SurveyBatchResult(case_ids=ids, refused=refused)

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
        ev = parse_event(event)
        if ev is Event.SURVEY:
            raise InvalidInput("use survey() to list an app; it creates the case")
        body = parse_payload(ev, payload)
        ovr = parse_override(override)
        pipe = self.pipeline
        when = pipe.when(at)
        if expected_version is not None and expected_version < 1:
            raise InvalidInput(
                f"expected version {expected_version} is not a case version (1, 2, …)"
            )
        try:
            with self.storage.transaction(case_id) as store:
                # Lock the case first: a racing retry with the same key then waits here and
                # finds the winner's event below instead of firing on the moved-on case.
                case = pipe.load(store, case_id, for_update=True)
                if idempotency_key:
                    done = pipe.replayed(store, idempotency_key, case_id, ev, actor, body, reason)
                    if done is not None:
                        return event_view(done)
                if expected_version is not None and case.version != expected_version:
                    raise ConcurrentModification(
                        case_id, expected_version=expected_version, version=case.version
                    )
                cmd = pipe.command(store, ev, actor, body, when, reason, ovr)
                return event_view(pipe.run(store, case, cmd, idempotency_key))
        except ConcurrentModification:
            # Lost a race on the idempotency key's unique index: if the winner ran this very
            # command, its event is the answer.
            if idempotency_key:
                with self.storage.transaction(case_id) as store:
                    done = pipe.replayed(store, idempotency_key, case_id, ev, actor, body, reason)
                    if done is not None:
                        return event_view(done)
            raise

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
        assert isinstance(body, JudgePayload)
        when = self.pipeline.when(at)
        with self.storage.transaction() as store:
            case = self.pipeline.load(store, case_id)
            return self.pipeline.explain(store, case, body, when)

    # --- reads ----------------------------------------------------------------------------
    def get(self, case_id: str) -> CaseView:
        """Return a case.

        Raises:
            CaseNotFound: no such case in this campaign.
        """
        with self.storage.reading() as store:
            case = self.pipeline.load(store, case_id)
            return case_view(case, store.app(case.app_id))

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
        with self.storage.reading() as store:
            return [case_view(c, a) for c, a in store.cases(self.campaign.id, flt)]

    def history(self, case_id: str) -> list[EventView]:
        """The case's events in chain order.

        Raises:
            CaseNotFound: no such case in this campaign.
        """
        with self.storage.reading() as store:
            self.pipeline.load(store, case_id)
            return [event_view(e) for e in store.events(case_id)]

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
            with self.storage.reading() as store:
                rows = store.case_states(
                    self.campaign.id, CaseFilter(after_id=after, limit=batch_size)
                )
            if not rows:
                return
            for c in rows:
                yield c.id
            after = rows[-1].id
