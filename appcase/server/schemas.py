"""The HTTP API's request and response bodies (pydantic): the OpenAPI document is generated
from them. Reads answer with the engine's own views (:mod:`appcase.workflow.views`), so that a
case or an event has one JSON shape on the command line (``--json``) and over HTTP."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from appcase.workflow.commands import AppIdentity
from appcase.workflow.verify import AuditReport
from appcase.workflow.views import SweepOutcome, SweepReport

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "AuditProblem",
    "CloudEvent",
    "FeedData",
    "FeedPage",
    "FieldProblem",
    "FireIn",
    "FireableEvent",
    "Health",
    "HotlineIn",
    "OverrideIn",
    "Problem",
    "RejectionOut",
    "ReporterIn",
    "SurveyIn",
    "SweepIn",
    "SweepOut",
    "VerifyOut",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
"""The media type of an error answer (RFC 9457)."""

FireableEvent = Literal[
    "flag",
    "add_evidence",
    "judge",
    "dismiss",
    "interview",
    "pledge",
    "rectify",
    "escalate",
    "take_down",
    "return_for_rectification",
    "refer",
]
"""The events a caller fires on a case (``survey`` creates the case: ``POST /cases``)."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverrideIn(_In):
    """An override: exactly one of ``grant`` (the id of a grant the authorising officer
    recorded with ``POST /cases/{case_id}/overrides``) or ``reason`` (authorised by the
    caller itself, whose role must be allowed to override). No field names another
    officer: ``authorised_by`` is refused."""

    grant: str | None = Field(default=None, min_length=1, max_length=32)
    reason: str | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _one_way(self) -> OverrideIn:
        if (self.grant is None) == (self.reason is None):
            raise ValueError("give exactly one of grant and reason")
        return self


class SurveyIn(_In):
    """``POST /cases``: list an app in the campaign's ledger."""

    app: AppIdentity
    at: AwareDatetime | None = Field(
        default=None, description="When it was surveyed (default: now)."
    )
    override: OverrideIn | None = None


class FireIn(_In):
    """``POST /cases/{case_id}/events/{event}``: the event's payload and circumstances."""

    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="The event's payload, as the library's payload models define it "
        "(e.g. judge: findings, disposition).",
    )
    at: AwareDatetime | None = Field(default=None, description="When it happened (default: now).")
    reason: str | None = Field(default=None, max_length=2000)
    override: OverrideIn | None = None


class ReporterIn(_In):
    """A hotline reporter's personal details: stored apart, returned by no endpoint."""

    name: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=200)


class HotlineIn(_In):
    """``POST /hotline-reports``: a public report about an app, found by case id, app name
    or the operator's credit code (exactly one way)."""

    case_id: str | None = Field(default=None, max_length=64)
    app_name: str | None = Field(default=None, max_length=200)
    uscc: str | None = Field(default=None, max_length=18)
    harm_category: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=4000)
    locator: str = Field(default="", max_length=2000)
    captured_at: AwareDatetime | None = None
    reporter: ReporterIn | None = None
    at: AwareDatetime | None = None
    override: OverrideIn | None = None


class SweepIn(_In):
    """``POST /sweep``."""

    at: AwareDatetime
    batch_size: int = Field(default=500, ge=1, le=100_000)


class SweepOut(BaseModel):
    """What the sweep did: the totals and one outcome per case it touched."""

    report: SweepReport
    outcomes: list[SweepOutcome]


class AuditProblem(BaseModel):
    """One damage an audit verification found (an empty ``case_id``: the campaign's)."""

    case_id: str
    seq: int | None
    kind: str
    detail: str


class VerifyOut(BaseModel):
    """``GET /verify``: what was checked (with ``ok``, the audit found nothing wrong)."""

    ok: bool
    cases: int
    events: int
    checkpoints: int
    signatures_checked: int
    notes: list[str]
    problems: list[AuditProblem]

    @classmethod
    def of(cls, report: AuditReport) -> VerifyOut:
        """The answer of the library's report."""
        return cls(
            ok=report.ok,
            cases=report.cases,
            events=report.events,
            checkpoints=report.checkpoints,
            signatures_checked=report.signatures_checked,
            notes=list(report.notes),
            problems=[
                AuditProblem(case_id=c, seq=s, kind=k, detail=d) for c, s, k, d in report.problems
            ],
        )


class FeedData(BaseModel):
    """A feed entry's ``data`` (never the payload: no reporter's details)."""

    model_config = ConfigDict(populate_by_name=True)

    position: int
    case_id: str
    seq: int
    event: str
    track: str
    from_: str = Field(alias="from")
    to: str
    actor: str
    role: str
    jurisdiction: str
    occurred_at: str
    recorded_at: str
    hash: str


class CloudEvent(BaseModel):
    """One feed entry in the CloudEvents 1.0 JSON format (as ``appcase feed`` prints it)."""

    specversion: Literal["1.0"]
    id: str
    source: str
    type: str
    subject: str
    time: str
    datacontenttype: Literal["application/json"]
    data: FeedData


class FeedPage(BaseModel):
    """``GET /events``: the entries after ``after``, and where to ask from next."""

    events: list[CloudEvent]
    next_after: int = Field(description="The position to pass as 'after' next time.")


class Health(BaseModel):
    """``GET /health``: the database answered."""

    status: Literal["ok"]
    campaign: str


class RejectionOut(BaseModel):
    """One failed guard."""

    code: str
    message: str


class FieldProblem(BaseModel):
    """One problem of a request that breaks its schema (never the value sent)."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``).

    ``rejections`` lists every failed guard of a refused command (422); ``errors`` every
    problem of a request that breaks its schema (400); ``findings`` the damage an audit
    verification found (422); ``rows`` every problem of a rejected ledger import (``row``,
    ``column``, ``problem``).
    """

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    case_id: str | None = None
    event: str | None = None
    state: str | None = None
    version: int | None = None
    rejections: list[RejectionOut] | None = None
    errors: list[FieldProblem] | None = None
    findings: list[dict[str, Any]] | None = None
    rows: list[dict[str, Any]] | None = None
