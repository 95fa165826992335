"""The ledger import over HTTP (``appcase import ledger``): ``POST /imports/ledger`` with
the spreadsheet as the body.

:func:`appcase.server.create_app` includes :data:`router`.
"""

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from appcase.adapters.ledger_file import read_ledger
from appcase.errors import ImportRejected, InvalidInput
from appcase.limits import MAX_LEDGER_FILE_BYTES
from appcase.server.auth import Caller, EngineDep
from appcase.workflow.engine import CaseEngine
from appcase.workflow.ledger import ImportReport, import_ledger

__all__ = ["LEDGER_MEDIA_TYPES", "UPLOAD_NAME", "import_upload", "router"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LEDGER_MEDIA_TYPES = {"text/csv": ".csv", XLSX: ".xlsx"}
"""The body's media type → the ledger file's kind."""

UPLOAD_NAME = "upload"
"""How answers name the uploaded file (never the server's temporary path)."""


def import_upload(
    engine: CaseEngine,
    path: Path,
    *,
    actor: str,
    at: datetime | None,
    skip_invalid: bool,
    override: dict[str, str] | None = None,
) -> ImportReport:
    """Import the ledger file at ``path`` (an upload written to a private temporary
    directory) as ``actor``; every message names it :data:`UPLOAD_NAME` plus its suffix.
    ``override`` (``{"grant": id}`` or ``{"reason": text}``) serves a late import.

    Raises:
        InvalidInput: the file cannot be read as a ledger.
        ImportRejected: rows were invalid or refused (without ``skip_invalid``); nothing
            was written.
    """
    shown = UPLOAD_NAME + path.suffix
    try:
        ledger = read_ledger(path)
        report = import_ledger(
            engine, ledger, actor=actor, at=at, skip_invalid=skip_invalid, override=override
        )
    except ImportRejected as exc:
        raise ImportRejected(
            shown,
            [(r, c, m.replace(str(path), shown)) for r, c, m in exc.problems],
            invalid_rows=exc.invalid_rows,
            refused_rows=exc.refused_rows,
        ) from None
    except InvalidInput as exc:
        raise InvalidInput(exc.message.replace(str(path), shown)) from None
    return report.model_copy(update={"source": shown})


router = APIRouter()
"""The operations of this module."""


@router.post(
    "/imports/ledger",
    tags=["commands"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def ledger(
    request: Request,
    engine: EngineDep,
    actor: Caller,
    at: AwareDatetime | None = None,
    skip_invalid: bool = False,
    override_grant: str | None = None,
    override_reason: str | None = None,
) -> ImportReport:
    """Import a ledger (管理台账, ``appcase import ledger``): the CSV (UTF-8 or
    GB18030) or XLSX file is the body, up to 64 MiB. Every row is validated, then the
    new apps are surveyed in one transaction as the caller. By default a bad row means
    nothing is written: 400 when rows are invalid, 422 when guards refused them, every
    problem in ``rows``; ``skip_invalid`` imports the good rows and lists the others
    in the answer. Apps already listed are counted, not surveyed again (importing a
    file twice changes nothing). After the survey window, ``override_grant`` names a
    survey grant for the prefecture (one grant serves the whole import), or
    ``override_reason`` authorises it as the caller (whose role must be allowed to)."""
    if override_grant is not None and override_reason is not None:
        raise InvalidInput("give override_grant or override_reason, not both")
    override = (
        {"grant": override_grant}
        if override_grant is not None
        else {"reason": override_reason}
        if override_reason is not None
        else None
    )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    suffix = LEDGER_MEDIA_TYPES.get(kind)
    if suffix is None:
        raise InvalidInput(f"send the ledger as text/csv or {XLSX}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_LEDGER_FILE_BYTES:
        raise InvalidInput(f"a ledger is at most {MAX_LEDGER_FILE_BYTES:,} bytes")
    work = Path(tempfile.mkdtemp(prefix="appcase-ledger-"))
    try:
        path = work / f"{UPLOAD_NAME}{suffix}"
        size = 0
        with path.open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_LEDGER_FILE_BYTES:
                    raise InvalidInput(f"a ledger is at most {MAX_LEDGER_FILE_BYTES:,} bytes")
                f.write(chunk)
        return await run_in_threadpool(
            import_upload,
            engine,
            path,
            actor=actor.id,
            at=at,
            skip_invalid=skip_invalid,
            override=override,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
