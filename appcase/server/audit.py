"""The audit's operations over HTTP: the offline bundle (``appcase audit export``), a
checkpoint (``appcase audit checkpoint``) and a replay (``appcase audit replay``).

:func:`appcase.server.create_app` includes :data:`router`.
"""

import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import IO, Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from appcase.errors import AuditFailure, DatabaseBusy
from appcase.server.auth import Caller, EngineDep
from appcase.workflow.engine import CaseEngine
from appcase.workflow.export import export_bundle
from appcase.workflow.verify import CheckpointView, checkpoint, replay_all

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "EXPORTS",
    "EXPORT_CHUNK",
    "ReplayOut",
    "bundle_archive",
    "router",
]

BUNDLE_MEDIA_TYPE = "application/x-tar"
"""The media type of ``GET /export``: the bundle's directory as an uncompressed tar."""

EXPORT_CHUNK = 64 * 1024
"""Bytes read and sent at a time while the bundle streams (the memory an export holds)."""

EXPORTS = threading.BoundedSemaphore(1)
"""One export at a time per server process (each writes the whole bundle to disk once)."""


class ReplayOut(BaseModel):
    """``GET /replay``: every case rebuilt from its events matched its stored state."""

    ok: bool
    cases: int


def bundle_archive(engine: CaseEngine, name: str) -> IO[bytes]:
    """Export the audit bundle and pack it as a tar whose one directory is ``name``.

    The bundle is written by :func:`appcase.workflow.export.export_bundle` (one consistent
    snapshot) to a private temporary directory (``TMPDIR``), packed, and the directory is
    removed; the tar file is unlinked as soon as it is open, so that nothing is left on
    disk however the transfer ends.

    Args:
        engine: the engine.
        name: the directory's name inside the tar (e.g. ``appcase-bundle-hunan-2018``).

    Returns:
        The open tar file, at its start (the caller closes it).

    Raises:
        InvalidInput: the temporary directory cannot be written.
        PersistenceError: the database could not be read.
    """
    work = Path(tempfile.mkdtemp(prefix="appcase-export-"))
    try:
        export_bundle(engine, work / name)
        packed = work / f"{name}.tar"

        def plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if info.isdir() else 0o644
            return info

        with tarfile.open(packed, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(work / name, arcname=name, filter=plain)
        f = packed.open("rb")
        os.unlink(packed)
        return f
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stream(f: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := f.read(EXPORT_CHUNK):
            yield chunk
    finally:
        f.close()


router = APIRouter()
"""The operations of this module."""


@router.get(
    "/export",
    tags=["audit"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The bundle's directory as a tar archive",
            "content": {BUNDLE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def export(engine: EngineDep, actor: Caller) -> StreamingResponse:
    """The audit bundle (``appcase audit export``), streamed as a tar of its directory:
    events.jsonl, cases.jsonl, manifest.json, campaign.json, CANONICALIZATION.md.
    Anyone can verify it offline (``python -m appcase.audit.bundle DIR``). Reporters
    are never exported. One export at a time per server process (another gets 503
    with ``Retry-After``); take a checkpoint first (``POST /checkpoints``) for one
    that covers every event exported."""
    if not EXPORTS.acquire(blocking=False):
        raise DatabaseBusy("another export is being prepared by this server; retry when it is done")
    try:
        stamp = engine.clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"appcase-bundle-{engine.campaign.id}-{stamp}"
        f = await run_in_threadpool(bundle_archive, engine, name)
    finally:
        EXPORTS.release()
    return StreamingResponse(
        _stream(f),
        media_type=BUNDLE_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.tar"',
            "Content-Length": str(os.fstat(f.fileno()).st_size),
        },
    )


@router.post("/checkpoints", status_code=201, tags=["audit"])
def take_checkpoint(engine: EngineDep, actor: Caller) -> CheckpointView:
    """Record a checkpoint (``appcase audit checkpoint``): a digest over every case's
    head, chained to the previous checkpoint. Unsigned: a signed checkpoint needs the
    key, which stays on the operator's host (``appcase audit checkpoint --key``)."""
    view = checkpoint(engine)
    return view.model_copy(update={"created_at": view.created_at.astimezone(UTC)})


@router.get("/replay", tags=["audit"])
def replay(
    engine: EngineDep,
    actor: Caller,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
) -> ReplayOut:
    """Rebuild every case (or one) from its events and compare it with the stored case
    (``appcase audit replay``); a difference is a 422 problem naming every case that
    differs in ``findings``."""
    cases, problems = replay_all(engine, case_id)
    if problems:
        raise AuditFailure(problems)
    return ReplayOut(ok=True, cases=cases)
