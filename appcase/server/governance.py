"""The HTTP API's governance: actors and tokens (an administrator's acts, logged), and
override grants (the authorising officer's own requests).

Every operation needs a bearer token. ``POST /actors``, the token operations and
``GET /admin-log`` need an administrator's token: any other caller gets 403 problem
details. An override grant is recorded by the caller as the authoriser (the token's
actor); a late command then names it (``"override": {"grant": id}``). See docs/http.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from appcase.server.auth import Administrator, Caller, EngineDep
from appcase.workflow.governance import AdminLog
from appcase.workflow.grants import GrantView, grant_override, list_grants, revoke_grant
from appcase.workflow.tokens import MAX_TOKEN_DAYS, TokenView, issue_token, list_tokens
from appcase.workflow.tokens import revoke_token as revoke_token_of
from appcase.workflow.views import ActorView

__all__ = ["ActorIn", "GrantIn", "IssuedTokenOut", "SurveyGrantIn", "TokenIn", "router"]

router = APIRouter()
"""The governance operations, included by :func:`appcase.server.app.create_app`."""

CaseId = Annotated[str, Path(max_length=64, description="e.g. HN2018-430100-0001")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActorIn(_In):
    """``POST /actors``: an officer to register (an administrator's act)."""

    id: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=64, description="A campaign role, or administrator.")
    jurisdiction: str | None = Field(
        default=None,
        max_length=6,
        description="GB/T 2260 code (default for a province role and an administrator: the "
        "province).",
    )
    name: str = Field(default="", max_length=200)


class TokenIn(_In):
    """``POST /tokens``: a token to issue (an administrator's act)."""

    actor: str = Field(min_length=1, max_length=64, description="The actor it acts as.")
    expires_in_days: int = Field(default=90, ge=1, le=MAX_TOKEN_DAYS)


class IssuedTokenOut(BaseModel):
    """A token just issued: ``token`` is shown this once and stored nowhere."""

    token: str
    view: TokenView


class GrantIn(_In):
    """``POST /cases/{case_id}/overrides``: the caller's consent that one late command may
    fire ``event`` on the case."""

    event: str = Field(min_length=1, max_length=32, description="e.g. judge")
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: AwareDatetime | None = Field(
        default=None, description="When it stops working (default: in 7 days; at most 90)."
    )


class SurveyGrantIn(_In):
    """``POST /overrides``: a grant for one late survey (or ledger import) in a
    prefecture, whose case does not exist yet."""

    prefecture: str = Field(min_length=6, max_length=6)
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: AwareDatetime | None = None


@router.post("/actors", status_code=201, tags=["governance"])
def add_actor(body: ActorIn, engine: EngineDep, admin: Administrator) -> ActorView:
    """Register an officer (administrator only; recorded in the administrators' log)."""
    return engine.add_actor(
        body.id, role=body.role, jurisdiction=body.jurisdiction, name=body.name, by=admin.id
    )


@router.get("/actors", tags=["governance"])
def actors(engine: EngineDep, actor: Caller) -> list[ActorView]:
    """Every registered officer, by id."""
    return engine.actors()


@router.get("/admin-log", tags=["governance"])
def admin_log(engine: EngineDep, admin: Administrator) -> AdminLog:
    """The administrators' log with its hash chain checked (administrator only)."""
    return engine.admin_log()


@router.post("/tokens", status_code=201, tags=["governance"])
def create_token(body: TokenIn, engine: EngineDep, admin: Administrator) -> IssuedTokenOut:
    """Issue a token acting as ``actor`` (administrator only; logged). The token is in
    this answer only."""
    issued = issue_token(engine, body.actor, by=admin.id, expires_in_days=body.expires_in_days)
    return IssuedTokenOut(token=issued.token, view=issued.view)


@router.get("/tokens", tags=["governance"])
def tokens(
    engine: EngineDep,
    admin: Administrator,
    actor: Annotated[str | None, Query(max_length=64)] = None,
) -> list[TokenView]:
    """Every token (of one actor), never the tokens themselves (administrator only)."""
    return list_tokens(engine, actor)


@router.delete("/tokens/{token_id}", tags=["governance"])
def revoke_token(
    token_id: Annotated[str, Path(max_length=32)], engine: EngineDep, admin: Administrator
) -> TokenView:
    """Revoke a token (administrator only; logged)."""
    return revoke_token_of(engine, token_id, by=admin.id)


@router.post("/cases/{case_id}/overrides", status_code=201, tags=["overrides"])
def grant_case_override(
    case_id: CaseId, body: GrantIn, engine: EngineDep, actor: Caller
) -> GrantView:
    """Grant an override on the case for one event, as the caller (whose role must be
    allowed to override the case: 403 otherwise). Answers the grant's id."""
    return grant_override(
        engine,
        by=actor.id,
        event=body.event,
        reason=body.reason,
        case_id=case_id,
        expires_at=body.expires_at,
    )


@router.get("/cases/{case_id}/overrides", tags=["overrides"])
def case_overrides(case_id: CaseId, engine: EngineDep, actor: Caller) -> list[GrantView]:
    """The case's override grants, oldest first, with their status."""
    return list_grants(engine, case_id)


@router.post("/overrides", status_code=201, tags=["overrides"])
def grant_survey_override(body: SurveyGrantIn, engine: EngineDep, actor: Caller) -> GrantView:
    """Grant one late survey (or ledger import) in a prefecture, as the caller."""
    return grant_override(
        engine,
        by=actor.id,
        event="survey",
        reason=body.reason,
        prefecture=body.prefecture,
        expires_at=body.expires_at,
    )


@router.delete("/overrides/{grant_id}", tags=["overrides"])
def revoke_override(
    grant_id: Annotated[str, Path(max_length=32)], engine: EngineDep, actor: Caller
) -> GrantView:
    """Revoke an unused grant, as its authoriser (403 for anyone else)."""
    return revoke_grant(engine, grant_id, by=actor.id)
