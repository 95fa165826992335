"""An audit bundle exported from the demo verifies with the database gone -- through the
library, ``appcase audit verify --bundle``, ``python -m appcase.audit.bundle`` and the
audit package's files copied alone onto a Python with no site packages -- and editing
any one byte of any of its files makes verification fail."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appcase.audit.bundle import BUNDLE_FILES, verify_bundle
from appcase.audit.canonical import canonical_bytes
from appcase.audit.keys import generate_key, load_public_key, load_signer
from appcase.bootstrap import open_engine
from appcase.clock import FixedClock
from appcase.workflow.export import export_bundle
from appcase.workflow.verify import checkpoint
from tests.builders import local, run_cli

ROOT = Path(__file__).resolve().parents[2]
FILES = ("manifest.json", *BUNDLE_FILES)


@pytest.fixture(scope="module")
def exported(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, list[tuple[str, str]]]:
    """A bundle of the demo with two checkpoints, the latest signed; the database deleted.

    Returns:
        The bundle, the public key file and the demo's reporters (name, contact).
    """
    work = tmp_path_factory.mktemp("bundle")
    db = work / "demo.sqlite"
    shutil.copyfile(demo_template, db)
    with closing(sqlite3.connect(db)) as conn:
        reporters = list(conn.execute("SELECT name, contact FROM reporters"))
    key = work / "operator.key"
    generate_key(key)
    engine = open_engine(f"sqlite:///{db}", clock=FixedClock(local(4, 6, 9)))
    try:
        checkpoint(engine)
        checkpoint(engine, signer=load_signer(key_file=key))
        result = export_bundle(engine, work / "bundle")
    finally:
        engine.close()
    assert (result.cases, result.events, result.checkpoints) == (300, 994, 2)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert not db.exists()
    return work / "bundle", Path(f"{key}.pub"), reporters


def _copy(bundle: Path, into: Path) -> Path:
    target = into / "bundle"
    shutil.copytree(bundle, target)
    return target


def test_the_bundle_holds_what_the_format_says(
    exported: tuple[Path, Path, list[tuple[str, str]]],
) -> None:
    bundle, _, _ = exported
    assert sorted(p.name for p in bundle.iterdir()) == sorted(FILES)
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    assert (bundle / "manifest.json").read_bytes() == canonical_bytes(manifest) + b"\n"
    assert manifest["counts"] == {"cases": 300, "events": 994, "checkpoints": 2}
    assert manifest["checkpoints"][0]["signature"] is None
    assert manifest["checkpoints"][1]["signature"]["alg"] == "ed25519"
    assert manifest["checkpoints"][1]["prev_digest"] == manifest["checkpoints"][0]["digest"]
    lines = (bundle / "events.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 994
    first = json.loads(lines[0])
    assert set(first) == {"hash", "record"}
    assert first["record"]["seq"] == 1
    assert first["record"]["prev_hash"] == "0" * 64
    spec = (bundle / "CANONICALIZATION.md").read_text("utf-8")
    assert "appcase-checkpoint-v1:" in spec
    assert "HMAC signature needs" in spec


def test_the_bundle_verifies_with_the_database_gone(
    exported: tuple[Path, Path, list[tuple[str, str]]],
) -> None:
    bundle, public, _ = exported
    report = verify_bundle(bundle, load_public_key(public))
    assert report.ok, report.problems
    assert (report.cases, report.events, report.checkpoints) == (300, 994, 2)
    assert report.signatures_checked == 1
    unchecked = verify_bundle(bundle)
    assert unchecked.ok
    assert any("not checked" in n for n in unchecked.notes)


def test_the_command_line_verifies_a_bundle_without_opening_a_database(
    exported: tuple[Path, Path, list[tuple[str, str]]], tmp_path: Path
) -> None:
    bundle, public, _ = exported
    missing = tmp_path / "no-such.sqlite"
    result = run_cli(
        missing, "audit", "verify", "--bundle", str(bundle), "--public-key", str(public)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ok: bundle {bundle}: 300 cases, 994 events, 2 checkpoints")
    assert not missing.exists()


def test_python_dash_m_verifies_and_reports_damage(
    exported: tuple[Path, Path, list[tuple[str, str]]], tmp_path: Path
) -> None:
    bundle, public, _ = exported
    command = [sys.executable, "-m", "appcase.audit.bundle"]
    good = subprocess.run(
        [*command, str(bundle), "--public-key", str(public)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "ok: bundle" in good.stdout
    assert good.stderr == ""
    damaged = _copy(bundle, tmp_path)
    (damaged / "cases.jsonl").write_bytes(b"")
    bad = subprocess.run(
        [*command, str(damaged), "--json"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert bad.returncode == 1
    body = json.loads(bad.stdout)
    assert body["ok"] is False
    assert ["", None, "file_digest"] in [
        [p["case_id"], p["seq"], p["kind"]] for p in body["problems"]
    ]
    usage = subprocess.run(
        [*command, str(tmp_path / "nothing")], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert usage.returncode == 2
    assert "is not a directory" in usage.stderr


def test_the_audit_files_alone_verify_on_a_bare_python(
    exported: tuple[Path, Path, list[tuple[str, str]]], tmp_path: Path
) -> None:
    """Standard library only: the audit package's modules copied into one directory, run
    with no site packages (-S), so that neither appcase nor any third-party package can be
    imported."""
    bundle, public, _ = exported
    copied = sorted(p.name for p in (ROOT / "appcase" / "audit").glob("*.py"))
    assert "bundle.py" in copied
    for name in copied:
        if name != "__init__.py":
            shutil.copyfile(ROOT / "appcase" / "audit" / name, tmp_path / name)
    bare = [sys.executable, "-S", "-E", str(tmp_path / "bundle.py"), str(bundle)]
    probe = subprocess.run(
        [sys.executable, "-S", "-E", "-c", "import appcase"],
        capture_output=True,
        cwd=tmp_path,
        check=False,
    )
    assert probe.returncode != 0  # appcase is really out of reach
    result = subprocess.run(bare, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert "ok: bundle" in result.stdout
    assert "not checked" in result.stdout
    # signatures asked for but cryptography unavailable: refused, not silently skipped
    keyed = subprocess.run(
        [*bare, "--public-key", str(public)], capture_output=True, text=True, check=False
    )
    assert keyed.returncode == 2
    assert "cryptography" in keyed.stderr


def test_a_wrong_public_key_fails_the_bundle(
    exported: tuple[Path, Path, list[tuple[str, str]]], tmp_path: Path
) -> None:
    bundle, _, _ = exported
    other = tmp_path / "other.key"
    generate_key(other)
    report = verify_bundle(bundle, load_public_key(f"{other}.pub"))
    assert [(c, k) for c, _, k, _ in report.problems] == [("", "bad_signature")]
    assert "not signed with the key given" in report.problems[0][3]


def test_no_reporter_appears_in_any_bundle_file(
    exported: tuple[Path, Path, list[tuple[str, str]]],
) -> None:
    bundle, _, reporters = exported
    assert len(reporters) > 20  # the demo's hotline reports did store reporters
    data = {name: (bundle / name).read_text("utf-8") for name in FILES}
    assert "reporter_ref" in data["events.jsonl"]
    for name, contact in reporters:
        for text in data.values():
            assert name not in text
            assert contact not in text


@pytest.mark.slow
@given(
    file=st.sampled_from(FILES),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    byte=st.integers(min_value=0, max_value=255),
)
def test_editing_any_one_byte_of_any_file_fails_verification(
    exported: tuple[Path, Path, list[tuple[str, str]]], file: str, position: float, byte: int
) -> None:
    bundle, public, _ = exported
    data = (bundle / file).read_bytes()
    offset = int(position * len(data))
    if data[offset] == byte:
        byte = (byte + 1) % 256
    with tempfile.TemporaryDirectory() as tmp:
        copy = _copy(bundle, Path(tmp))
        (copy / file).write_bytes(data[:offset] + bytes([byte]) + data[offset + 1 :])
        report = verify_bundle(copy, load_public_key(public))
    assert not report.ok
    if file == "events.jsonl":  # damage to an event names its case (as the line gives it:
        # a byte edited inside a case id names the damaged id)
        assert report.problems[0][0] != "", report.problems


def test_an_edited_event_is_named_in_the_bundle(
    exported: tuple[Path, Path, list[tuple[str, str]]], tmp_path: Path
) -> None:
    bundle, _, _ = exported
    copy = _copy(bundle, tmp_path)
    lines = (copy / "events.jsonl").read_bytes().splitlines(keepends=True)
    line = json.loads(lines[5])
    line["record"]["reason"] = "edited"
    lines[5] = canonical_bytes(line) + b"\n"
    (copy / "events.jsonl").write_bytes(b"".join(lines))
    report = verify_bundle(copy)
    case, seq = line["record"]["case_id"], line["record"]["seq"]
    assert report.problems[0][:3] == (case, seq, "edited")
    assert report.problems[-1][:3] == ("", None, "file_digest")


@pytest.mark.parametrize("file", FILES)
@pytest.mark.parametrize("where", [0.0, 0.5, 0.999])
def test_editing_one_byte_of_each_file_fails_verification(
    exported: tuple[Path, Path, list[tuple[str, str]]], tmp_path: Path, file: str, where: float
) -> None:
    bundle, _, _ = exported
    copy = _copy(bundle, tmp_path)
    data = (copy / file).read_bytes()
    offset = int(where * len(data))
    (copy / file).write_bytes(data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1 :])
    assert not verify_bundle(copy).ok
