"""The offline verifier is a security boundary: whatever a bundle holds, it ends in a report
(or, from ``python -m appcase.audit.bundle``, exit 1 or 2), never an exception.

Hypothesis mutates a real exported bundle structurally: a value anywhere in the manifest, an
event line or a case line replaced by a value of another JSON type (a huge integer, a deep
nesting, a float, an object where a string belongs ...), lines truncated, duplicated,
deleted or reordered, a file cut short. Half of the mutated bundles are then "resealed" --
their files' digests and the manifest's own digest recomputed -- so that the verifier's
checks beyond the digests are reached too, as a forger would make them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appcase.audit.bundle import BundleReport, verify_bundle
from appcase.audit.canonical import canonical_bytes
from appcase.clock import FixedClock
from appcase.workflow.engine import CaseEngine
from appcase.workflow.export import export_bundle
from appcase.workflow.verify import checkpoint
from tests.builders import SHANGHAI, drive

ROOT = Path(__file__).resolve().parents[2]

DEEP = "[" * 100_000 + "]" * 100_000
"""Nesting deep enough for a ``RecursionError`` in :mod:`json`."""

HUGE = "9" * 5_000
"""An integer beyond Python's int-string conversion limit (4,300 digits)."""

RAW_VALUES = st.sampled_from(
    [
        "0",
        "-1",
        "1.5",
        "1e400",
        "9007199254740993",
        str(2**53),
        HUGE,
        "-" + HUGE,
        "null",
        "true",
        '""',
        '"x"',
        '"' + "a" * 10_000 + '"',
        '"\\ud800"',
        "[]",
        "[1,2,3]",
        '[["a",1,"b"]]',
        "{}",
        '{"a":1}',
        '{"seq":1}',
        DEEP,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
    ]
)
"""JSON texts put in place of a value (written raw: some are not what json.dumps writes)."""


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (the root included)."""
    out = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            out.extend(_paths(sub, (*prefix, key)))
    elif isinstance(value, list):
        for i, sub in enumerate(value[:8]):
            out.extend(_paths(sub, (*prefix, i)))
    return out


MARK = "\x00REPLACED\x00"


def _replace(value: Any, path: tuple[Any, ...], raw: str) -> bytes:
    """``value`` as JSON with the value at ``path`` replaced by the JSON text ``raw``."""
    if not path:
        return raw.encode("utf-8", "surrogatepass")
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = MARK
    text = json.dumps(copy, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace(json.dumps(MARK), raw).encode("utf-8", "surrogatepass")


@st.composite
def mutations(draw: st.DrawFn, files: dict[str, bytes]) -> tuple[dict[str, bytes], str, bool]:
    """A mutated copy of a bundle's files, what was done, and whether to reseal it."""
    files = dict(files)
    name = draw(st.sampled_from(["manifest.json", "events.jsonl", "cases.jsonl"]))
    lines = files[name].split(b"\n")
    body, tail = (lines[:-1], [b""]) if lines and lines[-1] == b"" else (lines, [])
    kind = draw(
        st.sampled_from(["replace", "replace", "replace", "truncate", "dup", "drop", "swap"])
    )
    if kind == "replace" or (name == "manifest.json" and kind != "truncate"):
        i = draw(st.integers(0, max(len(body) - 1, 0)))
        value = json.loads(body[i])
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        raw = draw(RAW_VALUES)
        body[i] = _replace(value, path, raw)
        what = f"{name} line {i + 1}: {list(path)} := {raw[:40]}"
    elif kind == "truncate":
        data = files[name]
        cut = draw(st.integers(0, max(len(data) - 1, 0)))
        files[name] = data[:cut]
        return files, f"{name} cut at {cut}", draw(st.booleans())
    elif kind == "dup":
        i = draw(st.integers(0, len(body) - 1))
        body.insert(draw(st.integers(0, len(body))), body[i])
        what = f"{name} line {i + 1} duplicated"
    elif kind == "drop":
        i = draw(st.integers(0, len(body) - 1))
        del body[i]
        what = f"{name} line {i + 1} deleted"
    else:
        i = draw(st.integers(0, len(body) - 1))
        j = draw(st.integers(0, len(body) - 1))
        body[i], body[j] = body[j], body[i]
        what = f"{name} lines {i + 1} and {j + 1} swapped"
    files[name] = b"\n".join(body + tail)
    return files, what, draw(st.booleans())


def _reseal(files: dict[str, bytes]) -> dict[str, bytes]:
    """Recompute the manifest's file digests and its own digest, if it is still an object."""
    try:
        manifest = json.loads(files["manifest.json"])
    except (ValueError, RecursionError):
        return files
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return files
    for name in ("events.jsonl", "cases.jsonl"):
        manifest["files"][name] = hashlib.sha256(files[name]).hexdigest()
    manifest.pop("manifest_digest", None)
    try:
        body = canonical_bytes(manifest)
    except ValueError:
        return files
    manifest["manifest_digest"] = hashlib.sha256(body).hexdigest()
    return {**files, "manifest.json": canonical_bytes(manifest) + b"\n"}


@pytest.fixture(scope="module")
def bundle_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files of a small real bundle: cases in several states, a checkpoint between."""
    from appcase.bootstrap import init_database
    from tests.builders import register_actors

    work = tmp_path_factory.mktemp("fuzz")
    clock = FixedClock(__import__("datetime").datetime(2018, 4, 30, 12, tzinfo=SHANGHAI))
    engine: CaseEngine = init_database(f"sqlite:///{work}/db.sqlite", "hunan-2018", clock)
    try:
        register_actors(engine)
        drive(engine, "pledged", n=0)
        drive(engine, "taken_down", n=1)
        checkpoint(engine)
        drive(engine, "rectified", n=2)
        export_bundle(engine, work / "bundle")
    finally:
        engine.close()
    return {p.name: p.read_bytes() for p in (work / "bundle").iterdir()}


def _write(files: dict[str, bytes], into: Path) -> Path:
    if into.exists():
        shutil.rmtree(into)
    into.mkdir()
    for name, data in files.items():
        (into / name).write_bytes(data)
    return into


def test_the_unmutated_bundle_verifies(bundle_files: dict[str, bytes], tmp_path: Path) -> None:
    assert verify_bundle(_write(bundle_files, tmp_path / "b")).ok


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_bundle_always_ends_in_a_report(
    bundle_files: dict[str, bytes], tmp_path: Path, data: st.DataObject
) -> None:
    files, what, reseal = data.draw(mutations(bundle_files))
    if reseal:
        files = _reseal(files)
    root = _write(files, tmp_path / "b")
    started = time.monotonic()
    report = verify_bundle(root)
    assert isinstance(report, BundleReport)
    assert time.monotonic() - started < 20, what
    if not reseal and files != bundle_files:
        assert not report.ok, what


@pytest.mark.parametrize(
    "edit",
    [
        ("events.jsonl", lambda b: b.replace(b'"seq":1,', b'"seq":[1],', 1)),
        ("events.jsonl", lambda b: b.replace(b'"record":{', b'"record":{"x":{"y":1},', 1)),
        ("cases.jsonl", lambda b: b.replace(b'"events":', b'"events":9007199254740991,"x":', 1)),
        ("manifest.json", lambda b: b"[" * 200_000 + b"]" * 200_000),
        ("events.jsonl", lambda b: b"9" * 5_000 + b"\n" + b),
    ],
)
def test_python_m_exits_1_or_2_without_a_traceback(
    bundle_files: dict[str, bytes], tmp_path: Path, edit: tuple[str, Any]
) -> None:
    name, change = edit
    root = _write({**bundle_files, name: change(bundle_files[name])}, tmp_path / "b")
    done = subprocess.run(
        [sys.executable, "-m", "appcase.audit.bundle", str(root)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr


def test_a_count_of_2_to_the_53_is_never_looped_over(bundle_files: dict[str, bytes]) -> None:
    """A case line (or row) claiming 2**53 - 1 events, with an event edited: the search for
    the position the edited event was written at is bounded by the events stored."""
    from appcase.audit.chain import check_chain

    lines = [json.loads(line) for line in bundle_files["events.jsonl"].splitlines()]
    case_id = lines[0]["record"]["case_id"]
    entries = [(e["record"], e["hash"]) for e in lines if e["record"]["case_id"] == case_id]
    entries[1] = ({**entries[1][0], "reason": "edited"}, entries[1][1])
    started = time.monotonic()
    found = check_chain(case_id, entries, 2**53 - 1, entries[-1][1])
    assert found is not None
    assert found[2] == "edited"
    assert time.monotonic() - started < 5


def test_an_endless_or_huge_file_is_a_verdict_with_the_limit(
    bundle_files: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appcase.audit import bundle

    root = _write(bundle_files, tmp_path / "b")
    (root / "events.jsonl").unlink()
    (root / "events.jsonl").symlink_to("/dev/zero")
    (root / "manifest.json").unlink()
    (root / "manifest.json").symlink_to("/dev/zero")
    report = verify_bundle(root)
    assert not report.ok
    assert any("manifest.json" in p[3] for p in report.problems)

    root = _write(bundle_files, tmp_path / "c")
    monkeypatch.setattr(bundle, "MAX_LINE_BYTES", 500)
    report = verify_bundle(root)
    details = [p[3] for p in report.problems]
    assert any(d.endswith("is not an event: longer than 500 bytes") for d in details)
    assert any("cases.jsonl line 1 is not a case: longer than 500 bytes" in d for d in details)
