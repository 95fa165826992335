"""The command line's other reads over HTTP: the summary report (``appcase report
summary``) and the campaign (``appcase campaign show``).

:func:`add_routes` adds them to the application of :func:`appcase.server.create_app`; it
takes the application's dependencies (the engine, the calling actor) as arguments, so that
this module does not import the application's.
"""

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from appcase.adapters.render import render
from appcase.errors import InvalidInput
from appcase.policies.campaign import Campaign
from appcase.workflow.engine import CaseEngine
from appcase.workflow.reports import gather_summary
from appcase.workflow.views import ActorView

__all__ = ["MAX_NOTES", "REPORT_MEDIA_TYPES", "add_routes"]

REPORT_MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
"""The summary report's media type in each format."""

MAX_NOTES = 50
"""Most ``notes`` paragraphs a summary request may carry (each up to 4,000 characters)."""


def add_routes(
    app: FastAPI, engine_of: Callable[..., CaseEngine], caller_of: Callable[..., ActorView]
) -> None:
    """Add ``GET /reports/summary`` and ``GET /campaign`` to ``app``.

    Args:
        app: the application.
        engine_of: the dependency that gives the engine.
        caller_of: the dependency that authenticates the caller (both need a token).
    """
    Engine = Annotated[CaseEngine, Depends(engine_of)]
    Caller = Annotated[ActorView, Depends(caller_of)]

    @app.get(
        "/reports/summary",
        tags=["reads"],
        response_class=Response,
        responses={
            200: {
                "description": "The report, in the format asked for",
                "content": {
                    "text/markdown": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                    REPORT_MEDIA_TYPES["docx"]: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    async def summary(
        engine: Engine,
        actor: Caller,
        prefecture: Annotated[str | None, Query(max_length=6)] = None,
        province: bool = False,
        format: Literal["md", "docx", "json"] = "md",
        lang: Literal["zh", "en"] = "zh",
        at: AwareDatetime | None = None,
        typical: Annotated[int, Query(ge=0, le=50)] = 5,
        notes: Annotated[list[str] | None, Query(max_length=4000)] = None,
    ) -> Response:
        """The summary report (总结, ``appcase report summary``) of a prefecture or the whole
        province: Markdown, Word (``docx``) or the JSON facts. ``notes`` are the officer's
        own suggestions, one paragraph each. Hotline reporters' details are never
        included."""
        if bool(prefecture) == province:
            raise InvalidInput("give prefecture=CODE or province=true")
        if len(notes or ()) > MAX_NOTES:
            raise InvalidInput(f"at most {MAX_NOTES} notes paragraphs")
        paragraphs = [" ".join(p.split()) for p in notes or () if p.strip()]

        def build() -> bytes:
            data = gather_summary(
                engine, prefecture=prefecture, as_of=at, typical=typical, notes=paragraphs
            )
            return render(data, format, lang)

        body = await run_in_threadpool(build)
        headers = {}
        if format == "docx":
            headers["Content-Disposition"] = 'attachment; filename="summary.docx"'
        return Response(body, media_type=REPORT_MEDIA_TYPES[format], headers=headers)

    @app.get("/campaign", tags=["reads"])
    def campaign(engine: Engine, actor: Caller) -> Campaign:
        """The campaign (``appcase campaign show``): phases, event windows, roles,
        jurisdictions, harm categories, policy."""
        return engine.campaign
