"""Errors as HTTP answers: the one table from appcase's error types to status codes, and
RFC 9457 problem details. It mirrors the command line's exit codes
(:mod:`appcase.cli.exits`):

====================================================  ======  ===================
error                                                 status  exit code
====================================================  ======  ===================
GuardRejected, BatchRejected (every failed guard)     422     1 refused
AuditFailure (the damage found), CaseDamaged          422     1 refused
ImportRejected: some rows invalid / refused only      400     2 / 422  1
NotAuthorised (not the caller's act: administrator    403     1 refused
acts, override grants)
CaseNotFound                                          404     2 bad input
InvalidInput, UnknownActor, a body or query that      400     2 bad input
breaks its schema (``errors``), other AppcaseError
ConcurrentModification (also a stale ``If-Match``)    409     3 retry
DatabaseBusy                                          503     3 retry (Retry-After)
DatabaseNotReady, PersistenceError                    503     2 (the operator's
                                                              to fix, not the caller's)
TransitionTableError, any unexpected error            500     2
====================================================  ======  ===================

No answer ever carries a stack trace or the value a caller sent (a reporter's contact in a
malformed report is never echoed back).
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from appcase.errors import (
    AppcaseError,
    AuditFailure,
    CaseDamaged,
    CaseNotFound,
    ConcurrentModification,
    DatabaseBusy,
    GuardRejected,
    ImportRejected,
    NotAuthorised,
    PersistenceError,
    TransitionTableError,
)
from appcase.server.schemas import PROBLEM_MEDIA_TYPE, FieldProblem, Problem, RejectionOut

__all__ = [
    "PROBLEM_RESPONSES",
    "STATUS",
    "problem_for",
    "problem_response",
    "unexpected_problem",
    "validation_problem",
]

STATUS: dict[type[AppcaseError], tuple[int, str, str]] = {
    AppcaseError: (400, "bad-input", "The request cannot be used as given"),
    GuardRejected: (422, "guard-rejected", "Refused by the campaign's rules"),
    AuditFailure: (422, "audit-failure", "The audit verification found damage"),
    ImportRejected: (400, "import-rejected", "Nothing was imported: rows are invalid"),
    CaseDamaged: (422, "case-damaged", "The case's records do not hold together"),
    CaseNotFound: (404, "case-not-found", "No such case"),
    NotAuthorised: (403, "forbidden", "Not the caller's act"),
    ConcurrentModification: (409, "conflict", "The case changed meanwhile"),
    DatabaseBusy: (503, "database-busy", "The database stayed busy"),
    PersistenceError: (503, "database-unavailable", "The database cannot serve the request"),
    TransitionTableError: (500, "configuration", "The server's transition table is invalid"),
}
"""Error type → (status, problem type's last part, title); a type not listed takes the
entry of its nearest listed base class."""

TYPE_BASE = "urn:appcase:problem:"
"""Every appcase problem type is this prefix and a name, e.g.
``urn:appcase:problem:guard-rejected``."""


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem as an ``application/problem+json`` answer."""
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_for(exc: AppcaseError) -> tuple[Problem, dict[str, str]]:
    """The problem details and extra headers of an appcase error."""
    entry = next(STATUS[c] for c in type(exc).__mro__ if c in STATUS)
    status, name, title = entry
    fields: dict[str, Any] = {}
    headers: dict[str, str] = {}
    detail = exc.message
    if isinstance(exc, GuardRejected):
        fields = {
            "case_id": exc.case_id,
            "event": exc.event,
            "state": exc.state,
            "rejections": [RejectionOut(code=r.code, message=r.message) for r in exc.rejections],
        }
        detail = exc.message.split(":\n", 1)[0]
    elif isinstance(exc, AuditFailure):
        fields["findings"] = [
            {"case_id": c, "seq": s, "kind": k, "detail": d} for c, s, k, d in exc.findings
        ]
    elif isinstance(exc, ImportRejected):
        # as the command line: invalid rows are bad input (exit 2), refused rows only a
        # refusal (exit 1); every problem listed by row
        if not exc.invalid_rows:
            status, name = 422, "import-refused"
            title = "Nothing was imported: the campaign's rules refused rows"
        fields["rows"] = [{"row": r, "column": c, "problem": m} for r, c, m in exc.problems]
        detail = exc.message.split(":\n", 1)[0]
    elif isinstance(exc, ConcurrentModification):
        fields = {"case_id": exc.case_id, "version": exc.version}
    elif isinstance(exc, CaseNotFound | CaseDamaged):
        fields["case_id"] = exc.case_id
    if isinstance(exc, DatabaseBusy):
        headers["Retry-After"] = "1"
    if status >= 500 and not isinstance(exc, DatabaseBusy):
        detail = title  # the operator reads the log; the caller learns nothing of the setup
    problem = Problem(type=TYPE_BASE + name, title=title, status=status, detail=detail, **fields)
    return problem, headers


def validation_problem(exc: RequestValidationError) -> Problem:
    """A request that breaks its schema: 400, every problem listed (never the value)."""
    errors = [
        FieldProblem(
            loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            msg=str(e.get("msg", "")),
            type=str(e.get("type", "")),
        )
        for e in exc.errors()
    ]
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.loc) or '(body)'}: {e.msg}" for e in errors[:10]
    )
    return Problem(
        type=TYPE_BASE + "bad-input",
        title="The request breaks its schema",
        status=400,
        detail=detail,
        errors=errors,
    )


def http_problem(exc: HTTPException) -> Problem:
    """A plain HTTP error (no such route, method not allowed, unauthenticated)."""
    return Problem(status=exc.status_code, title=str(exc.detail), detail=None)


def unexpected_problem() -> Problem:
    """Any error appcase did not raise on purpose: 500, and nothing about it."""
    return Problem(
        type=TYPE_BASE + "internal",
        title="Internal error",
        status=500,
        detail="the request failed; the server's log says why",
    )


_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Bad input", "content": _PROBLEM_CONTENT},
    401: {"model": Problem, "description": "No valid token", "content": _PROBLEM_CONTENT},
    403: {"model": Problem, "description": "Not the caller's act", "content": _PROBLEM_CONTENT},
    404: {"model": Problem, "description": "No such case", "content": _PROBLEM_CONTENT},
    409: {"model": Problem, "description": "Changed meanwhile", "content": _PROBLEM_CONTENT},
    422: {
        "model": Problem,
        "description": "Refused: every failed guard in 'rejections'",
        "content": _PROBLEM_CONTENT,
    },
    500: {"model": Problem, "description": "Internal error", "content": _PROBLEM_CONTENT},
    503: {"model": Problem, "description": "Database unavailable", "content": _PROBLEM_CONTENT},
}
"""The error answers every operation documents (problem details)."""
