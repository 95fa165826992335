"""Override grants: the authorising officer's consent, recorded by that officer.

An override lets one command act after its event's window closed (or judge below the
policy's minimum). When the acting officer's own role may not override the case, another
officer who may (campaign ``may_override``, jurisdiction covering the case) records a
grant with their own request -- case, event, reason, expiry -- and the late command names
the grant (``override={"grant": id}``, ``--override GRANT``, ``"override": {"grant": id}``).
The pipeline's guards check the grant when the command needs it
(:func:`appcase.workflow.guards` ``_override_problem``); the event's hashed ``override``
object records the grant's id, authoriser and reason, so the audit chain shows who agreed.

A grant serves one command (a ledger import is one command), expires
(:data:`DEFAULT_GRANT_DAYS` by default, at most :data:`MAX_GRANT_DAYS`) and can be revoked
by its authoriser until it is used. A grant a command does not need (its window is open)
is neither checked nor used.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from appcase.clock import ensure_aware
from appcase.errors import InvalidInput, NotAuthorised, UnknownActor
from appcase.limits import shown_text
from appcase.policies import permissions
from appcase.ports import StoredGrant
from appcase.states import Event
from appcase.workflow.commands import Override
from appcase.workflow.engine import CaseEngine
from appcase.workflow.pipeline import parse_event

__all__ = [
    "DEFAULT_GRANT_DAYS",
    "MAX_GRANT_DAYS",
    "GrantView",
    "grant_override",
    "list_grants",
    "revoke_grant",
]

DEFAULT_GRANT_DAYS = 7
"""How long a grant lasts when no expiry is given, in days (configurable default)."""

MAX_GRANT_DAYS = 90
"""The longest a grant may last, in days."""

GrantStatus = Literal["active", "used", "revoked", "expired"]


class GrantView(BaseModel):
    """An override grant as shown.

    Attributes:
        id: the grant's id, to give the late command.
        case_id: the case it is for (``None``: a survey in ``prefecture``).
        prefecture: the case's prefecture (GB/T 2260).
        event: the event it is for.
        authorised_by: the officer who granted it.
        reason: why, in their words.
        created_at / expires_at: UTC instants.
        revoked_at / revoked_by: its revocation, if revoked.
        used_at / used_by / used_position: its use (the event's feed position), if used.
        status: ``active``, ``used``, ``revoked`` or ``expired`` at the time of reading.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    case_id: str | None
    prefecture: str
    event: str
    authorised_by: str
    reason: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    used_at: datetime | None
    used_by: str | None
    used_position: int | None
    status: GrantStatus


def _view(g: StoredGrant, now: datetime) -> GrantView:
    status: GrantStatus = (
        "used"
        if g.used_at is not None
        else "revoked"
        if g.revoked_at is not None
        else "expired"
        if g.expires_at <= now
        else "active"
    )
    return GrantView(
        id=g.id,
        case_id=g.case_id,
        prefecture=g.prefecture,
        event=g.event,
        authorised_by=g.authoriser_id,
        reason=g.reason,
        created_at=g.created_at,
        expires_at=g.expires_at,
        revoked_at=g.revoked_at,
        revoked_by=g.revoked_by,
        used_at=g.used_at,
        used_by=g.used_by,
        used_position=g.used_position,
        status=status,
    )


def grant_override(
    engine: CaseEngine,
    *,
    by: str,
    event: Event | str,
    reason: str,
    case_id: str | None = None,
    prefecture: str | None = None,
    expires_at: datetime | None = None,
) -> GrantView:
    """Record an override grant: ``by`` consents that one command may fire ``event`` on
    the case after its window closed.

    Args:
        engine: the engine.
        by: the authorising officer (the caller: over HTTP the token's actor).
        event: the event the grant is for.
        reason: why, 1-2000 characters one can read.
        case_id: the case; for a survey (which creates its case) give ``prefecture``
            instead.
        prefecture: for a survey grant, the GB/T 2260 code of the prefecture.
        expires_at: when the grant stops working (aware; default: now +
            :data:`DEFAULT_GRANT_DAYS` days; at most :data:`MAX_GRANT_DAYS` days ahead).

    Returns:
        The grant (its ``id`` is what the late command names).

    Raises:
        InvalidInput: unknown event, a blank reason (or one holding a control
            character), a case for a survey or a prefecture for another event, an unknown
            prefecture, an expiry not in the future or too far ahead, a naive expiry.
        CaseNotFound: no such case.
        UnknownActor: ``by`` is not registered.
        NotAuthorised: ``by`` may not authorise overrides on this case.
    """
    ev = parse_event(event)
    try:  # the rules of an override's reason: readable, no control character, 2000 at most
        Override(reason=reason)
    except ValidationError:
        raise InvalidInput(
            "a grant needs a reason one can read (at most 2000 characters, no control characters)"
        ) from None
    if ev is Event.SURVEY:
        if case_id is not None or prefecture is None:
            raise InvalidInput("a survey grant names the prefecture (the case does not exist)")
        if all(p.code != prefecture for p in engine.campaign.prefectures):
            raise InvalidInput(
                f"{shown_text(prefecture, 12)!r} is not a prefecture of the campaign"
            )
    elif case_id is None or prefecture is not None:
        raise InvalidInput(f"a grant for {ev.value} names the case (not a prefecture)")
    now = engine.clock.now()
    expires = now + timedelta(days=DEFAULT_GRANT_DAYS)
    if expires_at is not None:
        expires = ensure_aware(expires_at, "grant expiry")
    if not now < expires <= now + timedelta(days=MAX_GRANT_DAYS):
        raise InvalidInput(f"a grant's expiry is after now and at most {MAX_GRANT_DAYS} days ahead")
    with engine.storage.transaction() as store:
        who = store.actor(by)
        if who is None:
            raise UnknownActor(by)
        if case_id is not None:
            case = engine.pipeline.load(store, case_id)
            prefecture = case.prefecture
        assert prefecture is not None
        problem = permissions.check_override_authority(
            engine.campaign,
            actor=who.id,
            role=who.role,
            actor_jurisdiction=who.jurisdiction,
            case_prefecture=prefecture,
        )
        if problem is not None:
            raise NotAuthorised(
                problem, "ask an officer whose role may override this case to grant it"
            )
        grant = StoredGrant(
            id="og-" + secrets.token_hex(8),
            case_id=case_id,
            prefecture=prefecture,
            event=ev.value,
            authoriser_id=who.id,
            reason=reason.strip(),
            created_at=now,
            expires_at=expires,
        )
        store.add_grant(grant)
    return _view(grant, now)


def list_grants(engine: CaseEngine, case_id: str | None = None) -> list[GrantView]:
    """Every override grant (of one case, if given), oldest first.

    Raises:
        CaseNotFound: ``case_id`` names no case of the campaign.
    """
    now = engine.clock.now()
    with engine.storage.reading() as store:
        if case_id is not None:
            engine.pipeline.load(store, case_id)
        return [_view(g, now) for g in store.grants(case_id)]


def revoke_grant(engine: CaseEngine, grant_id: str, *, by: str) -> GrantView:
    """Revoke a grant before it is used: a command naming it is refused from now on.

    Args:
        engine: the engine.
        grant_id: the grant's id.
        by: who revokes it: its authoriser only.

    Raises:
        InvalidInput: no grant has this id, or it was already used or revoked.
        NotAuthorised: ``by`` is not the grant's authoriser.
    """
    now = engine.clock.now()
    with engine.storage.transaction() as store:
        found = store.grant(grant_id)
        if found is None:
            raise InvalidInput(f"no override grant {shown_text(grant_id, 40)!r}")
        if found.authoriser_id != by:
            raise NotAuthorised(
                f"grant {found.id} was granted by {found.authoriser_id}; only they may revoke it"
            )
        if not store.revoke_grant(grant_id, by, now):
            raise InvalidInput(f"grant {found.id} was already used or revoked")
        found = store.grant(grant_id)
    assert found is not None
    return _view(found, now)
