"""The HTTP API (FastAPI): the command line's commands and reads, with the same contract.

:func:`create_app` builds the application on an engine (or a function that opens one when
the server starts, closed when it stops). Every operation but ``/health`` and the OpenAPI
document needs a bearer token (``appcase actor token create``): the token's actor is the
acting officer, never a field of the body. The error answers are in
:mod:`appcase.server.problems`; docs/http.md describes the whole contract.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import anyio
import structlog
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime
from starlette.exceptions import HTTPException

from appcase.bootstrap import open_engine
from appcase.errors import AppcaseError, AuditFailure, InvalidInput
from appcase.server import audit, governance, imports, reports
from appcase.server.auth import Caller, EngineDep
from appcase.server.bodies import BodyLimit
from appcase.server.problems import (
    PROBLEM_RESPONSES,
    http_problem,
    problem_for,
    problem_response,
    unexpected_problem,
    validation_problem,
)
from appcase.server.schemas import (
    CloudEvent,
    FeedPage,
    FireableEvent,
    FireIn,
    Health,
    HotlineIn,
    SurveyIn,
    SweepIn,
    SweepOut,
    VerifyOut,
)
from appcase.states import JudicialState, State
from appcase.workflow.asof import CaseAsOf, get_as_of, list_as_of
from appcase.workflow.engine import CaseEngine
from appcase.workflow.feed import cloudevent, feed
from appcase.workflow.hotline import find_case, report_hotline
from appcase.workflow.sweep import summarise, sweep
from appcase.workflow.verify import verify
from appcase.workflow.views import ActorView, CaseView, EventView

__all__ = ["FEED_MAX_WAIT", "create_app", "from_environment"]

FEED_MAX_WAIT = 30.0
"""The longest ``GET /events?wait=`` holds a request open, in seconds (configurable
default: keep it below the reverse proxy's read timeout)."""

_FEED_POLL = 0.2
"""How often a waiting feed request looks for new events, in seconds."""


def _log() -> Any:
    """The server's logger, looked up at each use (so that a logging configuration made
    after the application was built applies)."""
    return structlog.get_logger("appcase.server")


EngineSource = CaseEngine | Callable[[], CaseEngine]

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        description="A retry-safe key: a repeat of the same command answers as the first "
        "time and writes nothing; another command under the same key is refused (400).",
    ),
]
CaseId = Annotated[str, Path(max_length=64, description="e.g. HN2018-430100-0001")]


def _listed(states: list[State] | None) -> list[State] | None:
    if states and State.NEW in states:
        raise ValueError("'new' is no state of a listed case (as 'appcase list --state')")
    return states


ListedStates = Annotated[list[State] | None, Query(), AfterValidator(_listed)]
"""The ``state`` filter of the lists: any state but ``new``, as ``appcase list --state``."""


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters an operation declares (its dependencies' too)."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


_declared: dict[int, frozenset[str]] = {}
"""Each operation's query parameters, by its route's id (computed once)."""


def _known_query(request: Request) -> None:
    """Refuse a query parameter the operation does not declare (400), as the command line
    refuses an unknown option: a misspelt filter never silently lists everything."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _declared.get(id(route))
    if known is None:
        known = _declared[id(route)] = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        names = ", ".join(repr(n[:40]) for n in unknown[:5])
        raise InvalidInput(f"unknown query parameter(s) {names}; see GET /openapi.json")


def _version_of(if_match: str | None) -> int | None:
    """The expected version an ``If-Match`` header gives (``"7"``, ``W/"7"``, ``7``)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or not 0 < int(tag) < 2**31:
        raise InvalidInput(f'If-Match {if_match[:40]!r} is not a case version like "7"')
    return int(tag)


_V = TypeVar("_V", CaseView, EventView)


def _in_utc(view: _V) -> _V:
    """The view with its instants in UTC, as a stored one reads back: a command's answer is
    then the same bytes when an idempotency key replays it."""
    names = ("created_at", "last_occurred_at", "occurred_at", "recorded_at")
    update = {
        n: getattr(view, n).astimezone(UTC)
        for n in names
        if isinstance(getattr(view, n, None), datetime)
    }
    return view.model_copy(update=update)


def _etag(version: int) -> str:
    return f'"{version}"'


def _override(body: Any) -> dict[str, str] | None:
    """The engine's override from a body's: a grant's id, or the caller's own reason."""
    if body.override is None:
        return None
    return dict(body.override.model_dump(exclude_none=True))


def create_app(engine: EngineSource, *, title: str = "appcase") -> FastAPI:
    """The HTTP API on an engine.

    Args:
        engine: an open engine (the caller closes it), or a function that opens one when
            the application starts; that engine is closed when it stops.
        title: the OpenAPI document's title.

    Returns:
        The ASGI application (run it with uvicorn: ``appcase serve``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(engine, CaseEngine):
            app.state.engine = engine
            yield
            return
        opened = await run_in_threadpool(engine)
        app.state.engine = opened
        try:
            yield
        finally:
            opened.close()

    app = FastAPI(
        title=title,
        version=_version(),
        description="appcase over HTTP: the command line's commands and reads, with the same "
        "contract. Errors are RFC 9457 problem details (application/problem+json).",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        dependencies=[Depends(_known_query)],
    )
    if isinstance(engine, CaseEngine):
        app.state.engine = engine  # also usable without running the lifespan
    app.add_middleware(BodyLimit)  # inside the access log: a refusal is logged too
    _handlers(app)
    _routes(app)
    app.include_router(audit.router)
    app.include_router(imports.router)
    app.include_router(reports.router)
    app.include_router(governance.router)
    return app


def from_environment() -> FastAPI:
    """The application on the database of ``APPCASE_DATABASE_URL`` (and the campaign of
    ``APPCASE_CAMPAIGN``, if several are stored): what ``appcase serve`` runs, and what
    ``uvicorn --factory appcase.server:from_environment`` runs.

    Raises:
        InvalidInput: ``APPCASE_DATABASE_URL`` is not set.
    """
    url = os.environ.get("APPCASE_DATABASE_URL")
    if not url:
        raise InvalidInput("set APPCASE_DATABASE_URL to the database to serve")
    campaign = os.environ.get("APPCASE_CAMPAIGN") or None
    return create_app(lambda: open_engine(url, campaign))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("appcase")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(AppcaseError)
    async def appcase_error(request: Request, exc: AppcaseError) -> Response:
        problem, headers = problem_for(exc)
        if problem.status >= 500:
            _log().error("request_error", error=type(exc).__name__, problem=exc.problem)
        return problem_response(problem.model_copy(update={"instance": request.url.path}), headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(validation_problem(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return problem_response(http_problem(exc), dict(exc.headers or {}))

    @app.middleware("http")
    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """One structured line per request: never a header, a query or a body (no tokens,
        no reporters' details)."""
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        try:
            response = await call_next(request)
        except Exception as exc:  # the catch-all: never a stack trace in an answer
            _log().error("request_failed", path=request.url.path, error=type(exc).__name__)
            response = problem_response(unexpected_problem())
        response.headers["X-Request-Id"] = request_id
        _log().info(
            "http_request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 2),
            actor=getattr(request.state, "actor", None),
            request_id=request_id,
        )
        return response


def _routes(app: FastAPI) -> None:
    @app.get("/health", tags=["operations"])
    def health(engine: EngineDep) -> Health:
        """The database answers and holds the campaign (no token needed)."""
        with engine.storage.reading() as q:
            found = q.campaign(engine.campaign.id)
        if found is None:
            from appcase.errors import DatabaseNotReady

            raise DatabaseNotReady("the campaign is gone from the database", "load_campaign")
        return Health(status="ok", campaign=engine.campaign.id)

    @app.get("/me", tags=["operations"])
    def me(actor: Caller) -> ActorView:
        """The actor the request's token acts as."""
        return actor

    @app.post("/cases", status_code=201, tags=["commands"])
    def survey_case(
        body: SurveyIn,
        response: Response,
        engine: EngineDep,
        actor: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> CaseView:
        """List an app in the ledger (摸排建档): a new case in state ``surveyed``."""
        view = engine.survey(
            body.app,
            actor=actor.id,
            at=body.at,
            override=_override(body),
            idempotency_key=idempotency_key,
        )
        response.headers["Location"] = f"/cases/{view.id}"
        response.headers["ETag"] = _etag(view.version)
        return _in_utc(view)

    @app.post("/cases/{case_id}/events/{event}", status_code=201, tags=["commands"])
    def fire_event(
        case_id: CaseId,
        event: FireableEvent,
        body: FireIn,
        response: Response,
        engine: EngineDep,
        actor: Caller,
        idempotency_key: IdempotencyKey = None,
        if_match: Annotated[
            str | None,
            Header(
                max_length=64,
                description='The case version the caller read (its ETag, e.g. "7"): refused '
                "with 409 if the case has moved on.",
            ),
        ] = None,
    ) -> EventView:
        """Fire an event on a case: guards, transition, one chained event. The answer's
        ``ETag`` is the case's version right after this event."""
        view = engine.fire(
            case_id,
            event,
            actor=actor.id,
            payload=body.payload,
            at=body.at,
            reason=body.reason,
            override=_override(body),
            idempotency_key=idempotency_key,
            expected_version=_version_of(if_match),
        )
        response.headers["ETag"] = _etag(view.seq)
        return _in_utc(view)

    @app.post("/hotline-reports", status_code=201, tags=["commands"])
    def hotline_report(
        body: HotlineIn,
        engine: EngineDep,
        actor: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> EventView:
        """Record a public report (举报): it flags the case or joins its open flag. The
        reporter's name and contact are stored apart and returned by no endpoint."""
        ways = [x for x in (body.case_id, body.app_name, body.uscc) if x]
        if len(ways) != 1 or (body.case_id and (body.app_name or body.uscc)):
            raise InvalidInput("name the case by exactly one of case_id, app_name, uscc")
        case_id = body.case_id or find_case(engine, name=body.app_name, uscc=body.uscc).id
        evidence: dict[str, Any] = {
            "harm_category": body.harm_category,
            "description": body.description,
            "locator": body.locator,
        }
        if body.captured_at is not None:
            evidence["captured_at"] = body.captured_at.isoformat()
        if body.reporter is not None and (body.reporter.name or body.reporter.contact):
            evidence["reporter"] = body.reporter.model_dump()
        view = report_hotline(
            engine,
            case_id,
            evidence,
            actor=actor.id,
            at=body.at,
            override=_override(body),
            idempotency_key=idempotency_key,
        )
        return _in_utc(view)

    @app.get("/cases/{case_id}", tags=["reads"])
    def show_case(
        case_id: CaseId, response: Response, engine: EngineDep, actor: Caller
    ) -> CaseView:
        """One case; its ``ETag`` is its version (send it back as ``If-Match``)."""
        view = engine.get(case_id)
        response.headers["ETag"] = _etag(view.version)
        return view

    @app.get("/cases", tags=["reads"])
    def list_cases(
        engine: EngineDep,
        actor: Caller,
        state: ListedStates = None,
        judicial: Annotated[list[JudicialState] | None, Query()] = None,
        prefecture: Annotated[list[str] | None, Query(max_length=6)] = None,
        overdue_at: AwareDatetime | None = None,
        overdue: bool = False,
        referred: bool = False,
        phase: Annotated[str | None, Query(max_length=64)] = None,
        text: Annotated[str | None, Query(max_length=200)] = None,
        sort: Literal["id", "state", "prefecture", "last-event"] = "id",
        limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> list[CaseView]:
        """Cases, by id (or ``sort``), with the filters of ``appcase list``."""
        judicial_states = tuple(j.value for j in judicial or ())
        if referred:
            judicial_states = (*judicial_states, JudicialState.REFERRED_TO_JUDICIARY.value)
        if overdue and overdue_at is None:
            overdue_at = engine.clock.now()
        return engine.list_cases(
            states=tuple(s.value for s in state or ()),
            judicial_states=judicial_states,
            prefectures=tuple(prefecture or ()),
            overdue_at=overdue_at,
            text=text,
            phase=phase,
            sort=sort,
            limit=limit,
        )

    @app.get("/cases/{case_id}/history", tags=["reads"])
    def case_history(case_id: CaseId, engine: EngineDep, actor: Caller) -> list[EventView]:
        """The case's events in chain order (reporters appear only as ``reporter_ref``)."""
        return engine.history(case_id)

    @app.get("/cases/{case_id}/as-of", tags=["reads"])
    def case_as_of(
        case_id: CaseId,
        at: AwareDatetime,
        engine: EngineDep,
        actor: Caller,
        as_recorded: bool = False,
    ) -> CaseAsOf:
        """The case as it was at ``at``, rebuilt from its events (``as_recorded``: the
        events recorded by then, not those that happened by then)."""
        return get_as_of(engine, case_id, at, as_recorded=as_recorded)

    @app.get("/cases-as-of", tags=["reads"])
    def cases_as_of(
        at: AwareDatetime,
        engine: EngineDep,
        actor: Caller,
        as_recorded: bool = False,
        state: ListedStates = None,
        judicial: Annotated[list[JudicialState] | None, Query()] = None,
        referred: bool = False,
        prefecture: Annotated[list[str] | None, Query(max_length=6)] = None,
        text: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> list[CaseAsOf]:
        """The cases as they were at ``at``, with the filters that apply to a past state
        (``appcase list --as-of``); the others (``overdue``, ``phase``, ``sort`` …) are
        refused (400)."""
        judicial_states = tuple(j.value for j in judicial or ())
        if referred:
            judicial_states = (*judicial_states, JudicialState.REFERRED_TO_JUDICIARY.value)
        return list_as_of(
            engine,
            at,
            as_recorded=as_recorded,
            states=tuple(s.value for s in state or ()),
            judicial_states=judicial_states,
            prefectures=tuple(prefecture or ()),
            text=text,
            limit=limit,
        )

    @app.post("/sweep", tags=["commands"])
    def run_sweep(body: SweepIn, engine: EngineDep, actor: Caller) -> SweepOut:
        """Escalate every pledged case whose deadline passed before ``at`` (as the
        ``system`` actor); report flagged cases not judged in time. Idempotent."""
        outcomes = list(sweep(engine, body.at, batch_size=body.batch_size))
        return SweepOut(report=summarise(body.at, outcomes), outcomes=outcomes)

    @app.get("/verify", tags=["reads"])
    def run_verify(
        engine: EngineDep,
        actor: Caller,
        case_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> VerifyOut:
        """Recompute every hash chain, replay every case, check every checkpoint. Damage
        is a 422 problem listing it in ``findings`` (as ``appcase audit verify`` exits 1)."""
        report = verify(engine, case_id)
        if not report.ok:
            raise AuditFailure(report.problems)
        return VerifyOut.of(report)

    @app.get("/events", tags=["reads"])
    async def event_feed(
        request: Request,
        engine: EngineDep,
        actor: Caller,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        wait: Annotated[float, Query(ge=0, le=FEED_MAX_WAIT)] = 0,
    ) -> FeedPage:
        """The committed events after position ``after``, in commit order, as CloudEvents.
        With ``wait``, an empty answer waits up to that many seconds for a new event (long
        poll). Pass ``next_after`` as ``after`` next time: no event is skipped or repeated."""
        deadline = time.monotonic() + wait
        while True:
            entries = await run_in_threadpool(feed, engine, after, limit)
            if entries or time.monotonic() >= deadline or await request.is_disconnected():
                break
            await anyio.sleep(min(_FEED_POLL, max(0.0, deadline - time.monotonic())))
        events = [CloudEvent.model_validate(cloudevent(e, engine.campaign.id)) for e in entries]
        return FeedPage(events=events, next_after=entries[-1].position if entries else after)
