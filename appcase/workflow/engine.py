"""The case engine: a façade over the command pipeline, for one campaign on one store.

Every command is one unit of work of the :class:`~appcase.ports.Storage` port, run by
:class:`~appcase.workflow.pipeline.Pipeline` -- or nothing is written at all. Reads go
through the :class:`~appcase.ports.Queries` port. The engine imports no database code: the
wiring (:mod:`appcase.bootstrap`) hands it a store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from appcase.clock import Clock, SystemClock
from appcase.errors import (
    BatchRejected,
    CaseDamaged,
    ConcurrentModification,
    InvalidInput,
)
from appcase.policies import disposition
from appcase.policies.campaign import Campaign
from appcase.ports import CaseFilter, CaseStore, Storage, StoredCase, StoredEvent
from appcase.states import Event
from appcase.workflow.actors import register_actor
from appcase.workflow.commands import AppIdentity, JudgePayload, Override, SurveyPayload
from appcase.workflow.context import ActorInfo
from appcase.workflow.damage import UNREADABLE_VALUES, case_views, reason
from appcase.workflow.governance import AdminLog, read_admin_log
from appcase.workflow.listeners import Listeners
from appcase.workflow.pipeline import (
    SYSTEM_ACTOR,
    Pipeline,
    parse_event,
    parse_override,
    parse_payload,
)
from appcase.workflow.queries import case_filter
from appcase.workflow.views import (
    ActorView,
    CaseView,
    EventView,
    SurveyBatchResult,
    case_view,
    event_view,
)

__all__ = ["SURVEY_ATTEMPTS", "SYSTEM_ACTOR", "CaseEngine", "SurveyBatchResult", "parse_payload"]

SURVEY_ATTEMPTS = 8
"""How often :meth:`CaseEngine.survey` starts again after losing a race for a case number
(configurable default; only concurrent surveys in one prefecture on PostgreSQL collide)."""


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
        listeners: register code that hears every transition here
            (:meth:`~appcase.workflow.listeners.Listeners.add`).
        pipeline: the command pipeline every command of this engine runs through.
    """

    def __init__(self, storage: Storage, campaign: Campaign, clock: Clock | None = None) -> None:
        self.storage = storage
        self.campaign = campaign
        self.clock: Clock = clock or SystemClock()
        self.listeners = Listeners()
        self.pipeline = Pipeline(campaign, self.clock, self.listeners)

    def close(self) -> None:
        """Close the engine's database connections (the engine can not be used after)."""
        self.storage.close()

    def __enter__(self) -> CaseEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- actors -------------------------------------------------------------------------
    def add_actor(
        self,
        actor_id: str,
        *,
        role: str,
        jurisdiction: str | None = None,
        name: str = "",
        by: str | None = None,
    ) -> ActorView:
        """Register an officer: an administrator's act, recorded in the administrators'
        log (:mod:`appcase.workflow.governance`). Registering the same actor again with the
        same role and jurisdiction changes nothing.

        Args:
            actor_id: a short id, e.g. ``"cs-cac-01"``.
            role: a role id of the campaign (``cac_prefecture``, ``edu_prefecture``,
                ``cac_province``), or ``administrator``.
            jurisdiction: GB/T 2260 code: the prefecture, or the province for a province role
                (the default for a province role and an administrator).
            name: display name.
            by: the administrator registering it; ``None`` only to register the first
                administrator while there is none (the bootstrap).

        Raises:
            InvalidInput: bad id, undeclared role, wrong jurisdiction, or the id is taken by
                an actor with another role or jurisdiction.
            UnknownActor: ``by`` is not registered.
            NotAuthorised: ``by`` is not an administrator (or is missing once one exists).
        """
        found = register_actor(
            self.storage, self.campaign, self.clock, actor_id, role, jurisdiction, name, by=by
        )
        return ActorView(
            id=found.id, role=found.role, jurisdiction=found.jurisdiction, name=found.name
        )

    def admin_log(self) -> AdminLog:
        """The administrators' log (actors registered, tokens issued and revoked), every
        entry, with its hash chain checked (:func:`~appcase.workflow.governance.check_admin_log`)."""
        return read_admin_log(self.storage)

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
        override_grant: str | None = None,
    ) -> CaseView:
        """List an app in the campaign's ledger: a new case in state ``surveyed``.

        Args:
            app: the app's identity (model or mapping of its fields).
            actor: the acting officer's id.
            at: when the survey happened (aware; default: the clock's now).
            override: to survey after the survey window closed: a grant or a reason (see
                :class:`Override`).
            idempotency_key: a caller's key; a retry with the same key returns the case
                created the first time and writes nothing.
            override_grant: the id of an override grant for a survey in the app's
                prefecture (:func:`appcase.workflow.grants.grant_override`); the same as
                ``override={"grant": id}``.

        Returns:
            The new case.

        Raises:
            InvalidInput: malformed app identity or override, naive ``at``.
            UnknownActor: the actor is not registered.
            GuardRejected: every failed guard (role, window, already in the ledger, …).
            ConcurrentModification: still losing races for a case number after
                :data:`SURVEY_ATTEMPTS` tries; nothing was written, retrying is safe.
        """
        payload = parse_payload(Event.SURVEY, {"app": app})
        assert isinstance(payload, SurveyPayload)
        ovr, when = _override(override, override_grant), self.pipeline.when(at)
        case, listed = self.pipeline.survey(
            self.storage, payload, actor, when, ovr, idempotency_key, SURVEY_ATTEMPTS
        )
        return case_view(case, listed)

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
        override_grant: str | None = None,
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
            override / override_grant: to survey after the survey window closed (as for
                :meth:`survey`); one grant covers the whole batch, one command.
            skip_refused: write the apps the guards accept and report the others; by
                default one refused app means nothing is written.
            progress: called with the number of apps just processed (for a progress bar).
            chunk_size: apps per database round trip (a tuning knob; the transaction is one).

        Returns:
            The case ids created (``None`` for a refused app) and every refusal by index.

        Raises:
            InvalidInput: a malformed identity or override, a naive instant, or ``at``
                of another length than ``apps``.
            UnknownActor: the actor is not registered.
            BatchRejected: some apps were refused and ``skip_refused`` is false; every
                refusal is listed and nothing was written.
        """
        payloads = [parse_payload(Event.SURVEY, {"app": a}) for a in apps]
        if isinstance(at, datetime) or at is None:
            whens = [self.pipeline.when(at)] * len(payloads)
        else:
            if len(at) != len(payloads):
                raise InvalidInput(f"{len(at)} survey times given for {len(payloads)} apps")
            whens = [self.pipeline.when(t) for t in at]
        ovr = _override(override, override_grant)
        with self.storage.transaction() as store:
            ids, refused = self.pipeline.survey_many(
                store, payloads, whens, actor, ovr, skip_refused, progress, chunk_size
            )
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
        override_grant: str | None = None,
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
            override: to act after a window closed, or below the policy's minimum: a
                grant another officer recorded for this case and event, or a reason when
                the actor's own role may override (see :class:`Override`).
            idempotency_key: a caller's key (at most 200 characters, unique across the
                database); a retry with the same key returns the event written the first
                time and writes nothing -- also when two retries race each other.
            expected_version: the case's ``version`` the caller read before deciding (as
                :meth:`get` returns it); if the case has moved on since, nothing is written
                and :class:`ConcurrentModification` says so. Default: no such check (the
                command applies to the case as it is when the command runs).
            override_grant: the id of an override grant
                (:func:`appcase.workflow.grants.grant_override`); the same as
                ``override={"grant": id}``.

        Returns:
            The event written (or, for a retried idempotency key, the one written first).

        Raises:
            InvalidInput: unknown event, malformed payload, naive ``at``, an
                ``expected_version`` below 1, or an idempotency key already used for another
                command.
            CaseNotFound: no such case.
            UnknownActor: the actor is not registered.
            GuardRejected: listing every failed guard (an override whose grant is unknown,
                for another case or event, expired, revoked or used, or whose authoriser
                may not override the case, waives nothing); nothing was written.
            ConcurrentModification: the case changed meanwhile (another command won the
                race, or it is no longer at ``expected_version``); nothing was written.
        """
        ev = parse_event(event)
        if ev is Event.SURVEY:
            raise InvalidInput("use survey() to list an app; it creates the case")
        body = parse_payload(ev, payload)
        ovr, when = _override(override, override_grant), self.pipeline.when(at)
        if expected_version is not None and expected_version < 1:
            raise InvalidInput(
                f"expected version {expected_version} is not a case version (1, 2, …)"
            )
        pipe = self.pipeline

        def replay(store: CaseStore) -> StoredEvent | None:
            assert idempotency_key is not None
            return pipe.replayed(store, idempotency_key, case_id, ev, actor, body, reason)

        def act(store: CaseStore, case: StoredCase, who: ActorInfo | None) -> StoredEvent:
            if expected_version is not None and case.version != expected_version:
                raise ConcurrentModification(
                    case_id, expected_version=expected_version, version=case.version
                )
            cmd = pipe.command(store, ev, actor, body, when, reason, ovr, who)
            return pipe.run(store, case, cmd, idempotency_key)

        done = pipe.on_case(self.storage, case_id, idempotency_key, replay, act, actor)
        return event_view(done)

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
            CaseDamaged: its row or its ledger entry cannot be read (a value stored outside
                appcase).
        """
        with self.storage.reading() as store:
            case = self.pipeline.load(store, case_id)
            try:
                app = store.app(case.app_id)
            except UNREADABLE_VALUES as exc:
                raise CaseDamaged(
                    case_id, f"its ledger entry cannot be read: {reason(exc)}"
                ) from None
            return case_view(case, app)

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
            RowsUnreadable: some cases' rows cannot be read; it carries the others' views.
        """
        flt = case_filter(
            self.campaign,
            states=states,
            judicial_states=judicial_states,
            prefectures=prefectures,
            overdue_at=overdue_at,
            text=text,
            phase=phase,
            sort=sort,
            limit=limit,
        )
        with self.storage.reading() as store:
            return case_views(lambda: store.cases(self.campaign.id, flt))

    def history(self, case_id: str) -> list[EventView]:
        """The case's events in chain order.

        Raises:
            CaseNotFound: no such case in this campaign.
        """
        with self.storage.reading() as store:
            self.pipeline.load(store, case_id)
            return [event_view(e) for e in store.events(case_id)]

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


def _override(override: Override | Mapping[str, Any] | None, grant: str | None) -> Override | None:
    """The command's override from ``override`` or ``override_grant`` (not both).

    Raises:
        InvalidInput: both given, or a malformed override.
    """
    if grant is None:
        return parse_override(override)
    if override is not None:
        raise InvalidInput("give override_grant or override, not both")
    return parse_override({"grant": grant})
