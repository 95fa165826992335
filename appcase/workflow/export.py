"""Export an audit bundle: everything an auditor needs to verify the campaign's case
histories offline, with no database (``appcase audit export``).

The bundle's format is specified in ``appcase/data/CANONICALIZATION.md``, which is copied
into every bundle; :mod:`appcase.audit.bundle` verifies it. Hotline
reporters' details are never read here: the ``reporters`` table is not exported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import uuid
from importlib import metadata, resources
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict

from appcase.audit.bundle import BUNDLE_FILES, FORMAT
from appcase.audit.canonical import canonical_bytes
from appcase.audit.checkpoints import heads_digest
from appcase.audit.records import format_instant, hashed_record
from appcase.errors import InvalidInput
from appcase.ports import CaseFilter, StoredApp, StoredCase
from appcase.workflow.engine import CaseEngine
from appcase.workflow.table import transitions_table
from appcase.workflow.verify import checkpoint_dict, log_event

__all__ = ["ExportResult", "export_bundle"]


class ExportResult(BaseModel):
    """What :func:`export_bundle` wrote.

    Attributes:
        path: the bundle directory.
        cases / events / checkpoints: what it holds.
        heads_digest: the campaign-level digest over every case's head in the bundle.
        manifest_digest: the manifest's digest (a checksum of the whole bundle).
        latest_checkpoint: the digest of the latest checkpoint included, if any.
    """

    model_config = ConfigDict(frozen=True)

    path: str
    cases: int
    events: int
    checkpoints: int
    heads_digest: str
    manifest_digest: str
    latest_checkpoint: str | None


def _line(value: Any) -> bytes:
    """A canonical JSON line; a value that cannot be canonical (a damaged row) is still
    written, sorted but not canonical, so that verification names it."""
    try:
        body = canonical_bytes(value)
    except ValueError:
        body = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()
    return body + b"\n"


class _HashingWriter:
    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.sha.update(data)


def _case_line(case: StoredCase, app: StoredApp) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "prefecture": case.prefecture,
        "state": case.state,
        "judicial_state": case.judicial_state,
        "events": case.event_count,
        "head": case.head_hash,
        "app": {
            "name": app.name,
            "operator": app.operator,
            "uscc": app.uscc,
            "icp_filing": app.icp_filing,
            "platforms": list(app.platforms),
            "target_users": app.target_users,
            "used_by_schools": app.used_by_schools,
            "prefecture": app.prefecture,
        },
        "disposition": case.disposition,
        "pledge_deadline": case.pledge_deadline.isoformat() if case.pledge_deadline else None,
        "created_at": format_instant(case.created_at),
        "last_occurred_at": format_instant(case.last_occurred_at),
    }


def _prepare(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty directory; choose a new one")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        tmp = out.parent / f".{out.name}.partial-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as exc:
        raise InvalidInput(f"cannot write to {out}: {exc.strerror}") from None
    return tmp


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
"""This machine, in the names of the hidden directories exports write to (their process
ids mean something only here)."""


def _remove_stale(out: Path) -> None:
    """Remove the hidden directories that exports to ``out`` killed on this machine left
    behind (named ``.<out>.partial-<host>-<pid>-<random>``, their process gone); an export
    still running, or one on another machine, is left alone."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.partial-{_HOST}-(\d+)-[0-9a-f]{{8}}")
    for entry in out.parent.iterdir():
        found = pattern.fullmatch(entry.name)
        if found is None or not entry.is_dir() or entry.is_symlink():
            continue
        if not _running(int(found.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's process, or a number that is none: leave it
    return True


def export_bundle(engine: CaseEngine, out: str | Path, *, batch_size: int = 500) -> ExportResult:
    """Write an audit bundle of the engine's campaign to the directory ``out``.

    The bundle is read in one consistent snapshot (one transaction; REPEATABLE READ on
    PostgreSQL) and written to a hidden directory beside ``out`` that is renamed to ``out``
    at the end, so a failed export leaves nothing behind; a killed one leaves its hidden
    directory, which the next export to the same ``out`` removes.

    Args:
        engine: the engine.
        out: a directory that does not exist yet (or is empty).
        batch_size: cases whose events are read per query.

    Returns:
        What was written.

    Raises:
        InvalidInput: ``out`` exists and is not empty, or cannot be written.
        PersistenceError: the database could not be read.
    """
    out = Path(out)
    tmp = _prepare(out)
    campaign = engine.campaign
    try:
        with engine.storage.transaction(snapshot=True) as q:
            stored = q.campaign(campaign.id)
            definition = stored.definition if stored is not None else campaign.canonical_json()
            checkpoints = [checkpoint_dict(c) for c in q.checkpoints(campaign.id)]
            pairs = q.cases(campaign.id, CaseFilter())
            pairs.sort(key=lambda p: p[0].id)
            files: dict[str, str] = {}
            with (tmp / "cases.jsonl").open("wb") as f:
                w = _HashingWriter(f)
                for case, app in pairs:
                    w.write(_line(_case_line(case, app)))
                files["cases.jsonl"] = w.sha.hexdigest()
            events = 0
            with (tmp / "events.jsonl").open("wb") as f:
                w = _HashingWriter(f)
                for start in range(0, len(pairs), batch_size):
                    ids = [c.id for c, _ in pairs[start : start + batch_size]]
                    for evs in q.events_of(ids).values():  # in the order of ids
                        for ev in evs:
                            w.write(_line({"hash": ev.hash, "record": hashed_record(ev)}))
                            events += 1
                files["events.jsonl"] = w.sha.hexdigest()
            heads = [[c.id, c.event_count, c.head_hash] for c, _ in pairs]
        campaign_bytes = definition.encode("utf-8")
        (tmp / "campaign.json").write_bytes(campaign_bytes)
        spec = resources.files("appcase.data").joinpath("CANONICALIZATION.md").read_bytes()
        (tmp / "CANONICALIZATION.md").write_bytes(spec)
        files["campaign.json"] = hashlib.sha256(campaign_bytes).hexdigest()
        files["CANONICALIZATION.md"] = hashlib.sha256(spec).hexdigest()
        assert sorted(files) == sorted(BUNDLE_FILES)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "generator": f"appcase {_version()}",
            "exported_at": format_instant(engine.clock.now()),
            "campaign": {"id": campaign.id, "digest": files["campaign.json"]},
            "counts": {"cases": len(pairs), "events": events, "checkpoints": len(checkpoints)},
            "heads": heads,
            "heads_digest": heads_digest(campaign.id, heads),
            "checkpoints": checkpoints,
            "transitions": transitions_table(),
            "files": files,
        }
        manifest["manifest_digest"] = hashlib.sha256(canonical_bytes(manifest)).hexdigest()
        (tmp / "manifest.json").write_bytes(canonical_bytes(manifest) + b"\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result = ExportResult(
        path=str(out),
        cases=len(pairs),
        events=events,
        checkpoints=len(checkpoints),
        heads_digest=manifest["heads_digest"],
        manifest_digest=manifest["manifest_digest"],
        latest_checkpoint=checkpoints[-1]["digest"] if checkpoints else None,
    )
    log_event(
        "audit.export",
        cases=result.cases,
        events=result.events,
        checkpoints=result.checkpoints,
    )
    return result


def _version() -> str:
    try:
        return metadata.version("appcase")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"
