"""API tokens: who calls the HTTP server.

A token is bound to one registered actor: every request made with it acts as that actor,
whatever its body says. A token is 32 random bytes (URL-safe text), shown once when it is
issued; only its SHA-256 is stored, with an expiry. The engine's own ``system`` actor can
never hold one, nor can an actor of the ``system`` role. Issuing and revoking tokens are
an administrator's acts (:mod:`appcase.workflow.governance`), each logged in the
administrators' log; on the command line the administrator is ``--actor``, over HTTP the
token's actor.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from appcase.errors import InvalidInput, UnknownActor
from appcase.ports import StoredToken
from appcase.workflow.engine import CaseEngine
from appcase.workflow.governance import record_act, require_administrator
from appcase.workflow.pipeline import SYSTEM_ACTOR
from appcase.workflow.views import ActorView

__all__ = [
    "MAX_TOKEN_DAYS",
    "TOKEN_PREFIX",
    "IssuedToken",
    "TokenView",
    "authenticate",
    "issue_token",
    "list_tokens",
    "revoke_token",
    "token_digest",
]

TOKEN_PREFIX = "act_"
"""Every token starts so (it makes a leaked token easy to recognise in a scan)."""

MAX_TOKEN_DAYS = 3650
"""The longest a token may be valid (configurable default)."""


class TokenView(BaseModel):
    """A token as listed: never the token itself.

    Attributes:
        id: the public id (to revoke it).
        actor: the actor it acts as.
        created_at / expires_at / revoked_at: UTC instants.
        active: neither expired nor revoked at the time of listing.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    actor: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: :attr:`token` is shown once and stored nowhere.

    Attributes:
        token: the bearer token to give the caller.
        view: its listing.
    """

    token: str
    view: TokenView


def token_digest(token: str) -> str:
    """The SHA-256 of a token, hex: what is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _view(t: StoredToken, now: datetime) -> TokenView:
    return TokenView(
        id=t.id,
        actor=t.actor_id,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        active=t.revoked_at is None and t.expires_at > now,
    )


def issue_token(
    engine: CaseEngine, actor: str, *, by: str, expires_in_days: int = 90
) -> IssuedToken:
    """Issue a token acting as ``actor``, valid for ``expires_in_days`` days; logged.

    Args:
        engine: the engine.
        actor: the actor the token acts as.
        by: the administrator issuing it.
        expires_in_days: 1..:data:`MAX_TOKEN_DAYS`.

    Raises:
        InvalidInput: the ``system`` actor, or a validity out of 1..:data:`MAX_TOKEN_DAYS`.
        UnknownActor: the actor or ``by`` is not registered.
        NotAuthorised: ``by`` is not an administrator.
    """
    if actor == SYSTEM_ACTOR:
        raise InvalidInput("the system actor acts only through the sweep and holds no token")
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"a token is valid for 1 to {MAX_TOKEN_DAYS} days")
    now = engine.clock.now()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    stored = StoredToken(
        id=secrets.token_hex(8),
        actor_id=actor,
        digest=token_digest(token),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days),
    )
    with engine.storage.transaction() as store:
        require_administrator(store, by, "issue a token")
        if store.actor(actor) is None:
            raise UnknownActor(actor)
        store.add_token(stored)
        detail = {"actor": actor, "expires_at": stored.expires_at.isoformat()}
        record_act(store, by, "token.issue", stored.id, detail, now)
    return IssuedToken(token=token, view=_view(stored, now))


def list_tokens(engine: CaseEngine, actor: str | None = None) -> list[TokenView]:
    """Every token (of one actor, if given), oldest first; never the tokens themselves."""
    now = engine.clock.now()
    with engine.storage.reading() as store:
        return [_view(t, now) for t in store.tokens(actor)]


def revoke_token(engine: CaseEngine, token_id: str, *, by: str) -> TokenView:
    """Revoke a token by its id: requests made with it are refused from now on; logged.

    Args:
        engine: the engine.
        token_id: the token's public id.
        by: the administrator revoking it.

    Raises:
        InvalidInput: no token has this id, or it was already revoked.
        UnknownActor: ``by`` is not registered.
        NotAuthorised: ``by`` is not an administrator.
    """
    now = engine.clock.now()
    with engine.storage.transaction() as store:
        require_administrator(store, by, "revoke a token")
        if not store.revoke_token(token_id, now):
            raise InvalidInput(f"no active token {token_id!r}; list them to see their ids")
        found = next(t for t in store.tokens() if t.id == token_id)
        record_act(store, by, "token.revoke", token_id, {"actor": found.actor_id}, now)
    return _view(found, now)


def authenticate(engine: CaseEngine, token: str) -> ActorView | None:
    """The actor a bearer token acts as, or ``None`` if the token is unknown, expired or
    revoked, or names the ``system`` actor or an actor no longer registered."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = engine.clock.now()
    with engine.storage.reading() as store:
        found = store.token_by_digest(token_digest(token))
        if found is None or found.revoked_at is not None or found.expires_at <= now:
            return None
        if found.actor_id == SYSTEM_ACTOR:
            return None
        actor = store.actor(found.actor_id)
    if actor is None:
        return None
    return ActorView(id=actor.id, role=actor.role, jurisdiction=actor.jurisdiction, name=actor.name)
