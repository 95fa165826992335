"""Auditing the case histories: ``audit verify``, ``checkpoint``, ``keygen``, ``export``,
``replay``. See ``docs/audit.md``."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import click

from appcase.cli.app import App, emit, pass_app
from appcase.errors import AuditFailure, InvalidInput
from appcase.limits import MAX_KEY_FILE_BYTES, check_path, read_bounded, shown_text

__all__ = ["COMMANDS"]


def _check_key_files(*paths: str | None) -> None:
    """Refuse a key file that is not a regular file or is larger than
    :data:`~appcase.limits.MAX_KEY_FILE_BYTES`, before the key loaders read it whole."""
    for path in paths:
        if not path:
            continue
        shown = shown_text(path)
        try:
            mode = check_path(path, "key file").stat().st_mode
        except OSError as exc:
            raise InvalidInput(f"cannot read key file {shown}: {exc.strerror}") from None
        if not stat.S_ISREG(mode):
            raise InvalidInput(f"key file {shown} is not a regular file")
        read_bounded(path, MAX_KEY_FILE_BYTES, "key file")


def _check_out_dir(out: Path) -> None:
    """Refuse an export folder that cannot be written, before anything is written: an empty
    name, an existing file or non-empty folder, or a place where no folder can be made
    (tried by making and removing an empty folder in the nearest existing parent)."""
    text = str(out)
    shown = shown_text(text)
    if not text.strip() or not out.name:
        raise InvalidInput(f"--out '{shown}' names no new folder; give a folder name")
    check_path(out, "export folder")
    try:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise InvalidInput(f"{shown} exists and is not an empty directory; choose a new one")
        parent = out.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise InvalidInput(f"cannot write to {shown}: {parent} is not a folder")
        probe = tempfile.mkdtemp(prefix=".appcase-probe-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        raise InvalidInput(f"cannot write to {shown}: {exc.strerror or exc}") from None


def _verify_key(public_key: str | None, hmac_key: str | None) -> Any:
    from appcase.audit.keys import AuditInputError, load_hmac_key, load_public_key

    _check_key_files(public_key, hmac_key)
    if public_key and hmac_key:
        raise InvalidInput("give either --public-key or --hmac-key, not both")
    try:
        if public_key:
            return load_public_key(public_key)
        if hmac_key:
            return load_hmac_key(hmac_key)
    except AuditInputError as exc:
        raise InvalidInput(str(exc)) from None
    return None


def _signer(key: str | None, hmac_key: str | None) -> Any:
    from appcase.audit.keys import AuditInputError, load_signer

    _check_key_files(key, hmac_key)
    try:
        return load_signer(key_file=key, hmac_key_file=hmac_key)
    except AuditInputError as exc:
        raise InvalidInput(str(exc)) from None


def _notes(app: App, notes: list[str]) -> None:
    if not app.json:
        for note in notes:
            click.echo(f"note: {note}")


_PUBLIC_KEY = click.option(
    "--public-key",
    metavar="FILE",
    help="Ed25519 public key (PEM or hex): every checkpoint signed with it must verify and "
    "the latest must be signed with it.",
)
_HMAC_VERIFY = click.option(
    "--hmac-key", "hmac_key", metavar="FILE", help="HMAC-SHA256 key file, instead of a public key."
)


@click.group("audit")
def audit_group() -> None:
    """Verify case histories, take checkpoints, export a bundle for auditors.

    \b
    Examples:
      appcase audit checkpoint --key operator.key
      appcase audit verify --public-key operator.key.pub
      appcase audit export --out bundle-2018-04-05
      appcase audit verify --bundle bundle-2018-04-05 --public-key operator.key.pub
    """


@audit_group.command("verify")
@click.option("--case", "case_id", metavar="CASE", help="Verify only this case.")
@click.option(
    "--bundle",
    metavar="DIR",
    type=click.Path(path_type=Path),
    help="Verify an exported bundle instead of the database (no database is opened).",
)
@_PUBLIC_KEY
@_HMAC_VERIFY
@pass_app
def audit_verify(
    app: App,
    case_id: str | None,
    bundle: Path | None,
    public_key: str | None,
    hmac_key: str | None,
) -> None:
    """Recompute every hash chain, replay every case, check every checkpoint; exit 1
    naming the first damaged case, its event and the kind of damage.

    Kinds: edited, deleted, inserted, reordered, head_mismatch, state_mismatch,
    checkpoint_mismatch (a case deleted or a history changed since a checkpoint),
    bad_signature; for a bundle also file_digest, manifest, malformed.

    \b
    Examples:
      appcase audit verify
      appcase audit verify --case HN2018-430100-0001
      appcase audit verify --public-key operator.key.pub
      appcase audit verify --bundle bundle-2018-04-05 --public-key operator.key.pub
    """
    key = _verify_key(public_key, hmac_key)
    if bundle is not None:
        _verify_bundle(app, bundle, key, case_id)
        return
    from appcase.workflow.verify import verify

    report = verify(app.engine(), case_id, key=key)
    if not report.ok:
        raise AuditFailure(report.problems)
    signed = f", {report.signatures_checked} signatures" if report.signatures_checked else ""
    emit(
        app,
        report.model_dump(mode="json") | {"ok": True},
        f"ok: {report.cases} cases, {report.events} events, "
        f"{report.checkpoints} checkpoints{signed} verified",
    )
    _notes(app, report.notes)


def _verify_bundle(app: App, bundle: Path, key: Any, case_id: str | None) -> None:
    from appcase.audit.bundle import BundleError, verify_bundle

    if case_id is not None:
        raise InvalidInput("--case cannot be combined with --bundle: a bundle is verified whole")
    try:
        report = verify_bundle(bundle, key)
    except BundleError as exc:
        raise InvalidInput(str(exc)) from None
    if not report.ok:
        raise AuditFailure(report.problems)
    signed = f", {report.signatures_checked} signatures" if report.signatures_checked else ""
    emit(
        app,
        {
            "ok": True,
            "path": report.path,
            "cases": report.cases,
            "events": report.events,
            "checkpoints": report.checkpoints,
            "signatures_checked": report.signatures_checked,
            "notes": report.notes,
        },
        f"ok: bundle {report.path}: {report.cases} cases, {report.events} events, "
        f"{report.checkpoints} checkpoints{signed} verified",
    )
    _notes(app, report.notes)


@audit_group.command("checkpoint")
@click.option("--key", metavar="FILE", help="Sign with this Ed25519 private key (PEM).")
@click.option("--hmac-key", "hmac_key", metavar="FILE", help="Sign with this HMAC-SHA256 key.")
@pass_app
def audit_checkpoint(app: App, key: str | None, hmac_key: str | None) -> None:
    """Record a checkpoint: a digest over every case's head, chained to the previous
    checkpoint, optionally signed. Keep the printed digest somewhere else too.

    A later 'audit verify' reports any case deleted, or any history changed, since a
    checkpoint ('checkpoint mismatch').

    \b
    Examples:
      appcase audit keygen --out operator.key
      appcase audit checkpoint --key operator.key
    """
    from appcase.workflow.verify import checkpoint

    view = checkpoint(app.engine(), signer=_signer(key, hmac_key))
    signed = f", signed {view.signature_alg} key {view.key_id}" if view.signature_alg else ""
    emit(
        app,
        view,
        f"checkpoint #{view.seq}: {view.cases} cases, {view.events} events{signed}\n"
        f"  digest {view.digest}",
    )


@audit_group.command("keygen")
@click.option(
    "--out",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (PEM, mode 0600); the public key goes to FILE.pub.",
)
@pass_app
def audit_keygen(app: App, out: Path) -> None:
    """Make an Ed25519 key pair to sign checkpoints; print the public key.

    Keep the private key with the operator; give the public key (FILE.pub) to auditors.

    \b
    Example:
      appcase audit keygen --out operator.key
    """
    from appcase.audit.keys import AuditInputError, generate_key

    try:
        pem, raw, key_id = generate_key(out)
    except AuditInputError as exc:
        raise InvalidInput(str(exc)) from None
    emit(
        app,
        {
            "private_key": str(out),
            "public_key_file": f"{out}.pub",
            "public_key_pem": pem,
            "public_key_hex": raw,
            "key_id": key_id,
        },
        f"private key written to {out} (keep it secret)\n"
        f"public key written to {out}.pub (key id {key_id}, hex {raw}):\n{pem.rstrip()}",
    )


@audit_group.command("export")
@click.option(
    "--out",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="A new directory for the bundle.",
)
@click.option(
    "--checkpoint",
    "take",
    is_flag=True,
    help="Take a checkpoint first, so that it covers every event exported.",
)
@click.option("--key", metavar="FILE", help="With --checkpoint: sign it with this Ed25519 key.")
@click.option("--hmac-key", "hmac_key", metavar="FILE", help="With --checkpoint: HMAC key.")
@pass_app
def audit_export(app: App, out: Path, take: bool, key: str | None, hmac_key: str | None) -> None:
    """Write an audit bundle: events.jsonl, cases.jsonl, manifest.json, campaign.json and
    CANONICALIZATION.md. Anyone can verify it offline with
    'python -m appcase.audit.bundle DIR'. Reporters are never exported.

    \b
    Examples:
      appcase audit export --out bundle-2018-04-05
      appcase audit export --out bundle-2018-04-05 --checkpoint --key operator.key
    """
    from appcase.workflow.export import export_bundle
    from appcase.workflow.verify import checkpoint

    if (key or hmac_key) and not take:
        raise InvalidInput("--key and --hmac-key sign a checkpoint: add --checkpoint")
    _check_out_dir(out)  # before the checkpoint: a refused export writes nothing
    signer = _signer(key, hmac_key)
    engine = app.engine()
    if take:
        checkpoint(engine, signer=signer)
    result = export_bundle(engine, out)
    emit(
        app,
        result,
        f"bundle written to {result.path}: {result.cases} cases, {result.events} events, "
        f"{result.checkpoints} checkpoints\n"
        f"  manifest digest {result.manifest_digest}\n"
        f"  verify with: python -m appcase.audit.bundle {result.path}"
        + (
            " --public-key KEY.pub (or --hmac-key KEY) to check the checkpoints' signatures"
            if result.checkpoints
            else ""
        ),
    )


@audit_group.command("replay")
@click.option("--case", "case_id", metavar="CASE", help="Replay only this case.")
@pass_app
def audit_replay(app: App, case_id: str | None) -> None:
    """Rebuild every case from its events through the state machines and compare it with
    the stored case: both tracks, disposition, referral flag, pledge deadline, event
    count and last event time. Exit 1 naming every case that differs.

    \b
    Example:
      appcase audit replay
    """
    from appcase.workflow.verify import replay_all

    cases, problems = replay_all(app.engine(), case_id)
    if problems:
        raise AuditFailure(problems)
    emit(app, {"ok": True, "cases": cases}, f"ok: {cases} cases replayed to their stored state")


COMMANDS = [audit_group]
