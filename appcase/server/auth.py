"""Who is calling: the bearer token's actor, as FastAPI dependencies shared by every
router of the HTTP API (:mod:`appcase.server.app` and the modules beside it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from appcase.errors import NotAuthorised
from appcase.policies.permissions import ADMIN_ROLE
from appcase.workflow.engine import CaseEngine
from appcase.workflow.tokens import authenticate
from appcase.workflow.views import ActorView

__all__ = ["Administrator", "Caller", "EngineDep"]

_bearer = HTTPBearer(auto_error=False, description="A token from 'appcase actor token create'.")


def _engine(request: Request) -> CaseEngine:
    engine: CaseEngine = request.app.state.engine
    return engine


EngineDep = Annotated[CaseEngine, Depends(_engine)]
"""The application's engine."""


def _caller(
    request: Request,
    engine: EngineDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ActorView:
    """The acting officer: the actor of the request's bearer token."""
    actor = authenticate(engine, creds.credentials) if creds is not None else None
    if actor is None:
        raise HTTPException(
            401,
            "a valid bearer token is needed (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": 'Bearer realm="appcase"'},
        )
    request.state.actor = actor.id
    return actor


Caller = Annotated[ActorView, Depends(_caller)]
"""The acting officer (401 without a valid token)."""


def _administrator(actor: Caller) -> ActorView:
    """The caller, if an administrator (403 otherwise)."""
    if actor.role != ADMIN_ROLE:
        raise NotAuthorised(
            f"{actor.id} ({actor.role}) may not do this: it is an administrator's act",
            "use an administrator's token",
        )
    return actor


Administrator = Annotated[ActorView, Depends(_administrator)]
"""The acting officer, who must be an administrator (403 problem details otherwise)."""
