"""The command line's other reads over HTTP: the summary report (``appcase report
summary``), the campaign (``appcase campaign show``), what the disposition policy says
(``appcase policy explain``) and the transition diagram (``appcase diagram``).

:func:`appcase.server.create_app` includes :data:`router`.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from appcase.adapters.render import render
from appcase.errors import InvalidInput
from appcase.policies.campaign import Campaign
from appcase.server.auth import Caller, EngineDep
from appcase.workflow.commands import Finding
from appcase.workflow.diagram import diagram
from appcase.workflow.explain import explain_case, explain_findings
from appcase.workflow.reports import gather_summary

__all__ = ["MAX_NOTES", "REPORT_MEDIA_TYPES", "CaseExplainIn", "ExplainIn", "router"]

REPORT_MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
"""The summary report's media type in each format."""

MAX_NOTES = 50
"""Most ``notes`` paragraphs a summary request may carry (each up to 4,000 characters)."""


class ExplainIn(BaseModel):
    """``POST /policy/explain``: findings and circumstances given outright."""

    model_config = ConfigDict(extra="forbid")

    findings: list[Finding] = Field(default_factory=list, max_length=100)
    prior_cases: int = Field(default=0, ge=0, le=10_000)
    lacking_responsibility: bool = Field(default=False, description="主体责任落实严重不到位.")
    used_by_schools: bool = False


class CaseExplainIn(BaseModel):
    """``POST /cases/{case_id}/explain``: the circumstances come from the database; the
    findings are those given, else the case's latest judgment's."""

    model_config = ConfigDict(extra="forbid")

    findings: list[Finding] = Field(default_factory=list, max_length=100)
    lacking_responsibility: bool = False
    at: AwareDatetime | None = Field(
        default=None,
        description="Judge as of this instant (prior cases before it); default: the latest "
        "judgment's time when its findings are used, else now.",
    )


router = APIRouter()
"""The operations of this module."""


@router.get(
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
    engine: EngineDep,
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


@router.get("/campaign", tags=["reads"])
def campaign(engine: EngineDep, actor: Caller) -> Campaign:
    """The campaign (``appcase campaign show``): phases, event windows, roles,
    jurisdictions, harm categories, policy."""
    return engine.campaign


@router.post("/policy/explain", tags=["reads"])
def explain(body: ExplainIn, engine: EngineDep, actor: Caller) -> dict[str, Any]:
    """What the campaign's disposition policy says of findings and circumstances
    (``appcase policy explain --finding ...``): the minimum disposition, the referral,
    every rule that fired. Nothing is written."""
    return explain_findings(
        engine.campaign,
        body.findings,
        prior_cases=body.prior_cases,
        seriously_lacking_responsibility=body.lacking_responsibility,
        used_by_schools=body.used_by_schools,
    ).as_dict()


@router.post("/cases/{case_id}/explain", tags=["reads"])
def explain_a_case(
    case_id: Annotated[str, Path(max_length=64)],
    body: CaseExplainIn,
    engine: EngineDep,
    actor: Caller,
) -> dict[str, Any]:
    """What the disposition policy says of a judgment of this case, without firing it
    (``appcase policy explain --case``): prior cases and school use from the database,
    the findings given or the latest judgment's, and what that judgment recorded."""
    return explain_case(
        engine,
        case_id,
        body.findings,
        seriously_lacking_responsibility=body.lacking_responsibility,
        at=body.at,
    ).as_dict()


@router.get("/diagram", tags=["reads"], response_class=PlainTextResponse)
def transition_diagram(
    actor: Caller, format: Literal["mermaid", "dot"] = "mermaid"
) -> PlainTextResponse:
    """The transition table drawn (``appcase diagram``): both tracks, every state and
    event, guards on the edges; Mermaid or Graphviz dot, as text."""
    return PlainTextResponse(diagram(format))
