"""Verify an appcase audit bundle with no database, using only the standard library.

An auditor runs::

    python -m appcase.audit.bundle DIR [--public-key FILE | --hmac-key FILE]

(or ``appcase audit verify --bundle DIR``). This module imports nothing but the standard
library and the other modules of :mod:`appcase.audit` (standard library only too), so the
package's ``.py`` files can be copied into one directory and run on any machine with
Python 3.11, without appcase: ``python3 bundle.py DIR``. Ed25519 signatures are checked
when the ``cryptography`` package is importable and a public key is given; HMAC signatures
need the HMAC key itself. ``CANONICALIZATION.md`` in every bundle specifies the format
precisely enough to write this verifier again in another language.

Every case's events are checked as a chain (:mod:`appcase.audit.chain`) and folded with
the bundle's own transition table (:mod:`appcase.audit.fold`, the fold the engine writes
cases with) into the states and projections its cases.jsonl line must hold.

Exit status of ``python -m``: 0 the bundle is intact, 1 damage was found (every damage is
printed, the first naming the case, the event and the kind), 2 bad usage (no such
directory, an unreadable key, signatures asked for but ``cryptography`` missing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from appcase.audit.canonical import canonical_bytes, shown
    from appcase.audit.chain import Problem, check_chain
    from appcase.audit.checkpoints import check_checkpoints, check_heads, heads_digest
    from appcase.audit.fold import Transitions, differences, replay
    from appcase.audit.keys import AuditInputError, VerifyKey, load_hmac_key, load_public_key
except ImportError:  # pragma: no cover - copied beside the audit modules, outside appcase
    from canonical import canonical_bytes, shown  # type: ignore[import-not-found,no-redef]
    from chain import Problem, check_chain  # type: ignore[import-not-found,no-redef]
    from checkpoints import (  # type: ignore[import-not-found,no-redef]
        check_checkpoints,
        check_heads,
        heads_digest,
    )
    from fold import Transitions, differences, replay  # type: ignore[import-not-found,no-redef]
    from keys import (  # type: ignore[import-not-found,no-redef]
        AuditInputError,
        VerifyKey,
        load_hmac_key,
        load_public_key,
    )

__all__ = [
    "BUNDLE_FILES",
    "FORMAT",
    "MAX_LINE_BYTES",
    "MAX_MANIFEST_BYTES",
    "BundleError",
    "BundleReport",
    "describe",
    "main",
    "verify_bundle",
]

BundleError = AuditInputError
"""Bad usage: the bundle directory or a key cannot be read, or a check cannot be made."""

FORMAT = "appcase-audit-bundle/1"
"""The ``format`` of the bundles this module verifies."""

BUNDLE_FILES = ("events.jsonl", "cases.jsonl", "campaign.json", "CANONICALIZATION.md")
"""The files a bundle holds besides ``manifest.json``; the manifest lists their SHA-256."""


MAX_LINE_BYTES = 16 * 1024 * 1024
"""The longest line of events.jsonl or cases.jsonl read (16 MiB): a longer line is reported
as malformed, and never read whole into memory."""

MAX_MANIFEST_BYTES = 256 * 1024 * 1024
"""The largest manifest.json read (256 MiB)."""

_UNREADABLE = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)
"""What checking a structurally wrong value can raise: turned into a ``malformed`` verdict
naming the file and lines, never let out (the verifier is a security boundary)."""

CASE_FIELDS_FOLDED = (
    "prefecture",
    "app",
    "disposition",
    "suspected_illegal",
    "pledge_deadline",
    "flagged_at",
    "last_occurred_at",
)
"""The fields of a cases.jsonl line that the case's events determine beside its states
(compared when the line holds them)."""


@dataclass
class BundleReport:
    """What :func:`verify_bundle` found.

    Attributes:
        path: the bundle directory.
        cases / events / checkpoints: how many the bundle holds.
        signatures_checked: checkpoint signatures verified with the key given.
        problems: ``(case_id or "", seq or None, kind, detail)``, cases first (by id).
            Kinds: those of :func:`~appcase.audit.chain.check_chain`, and
            ``state_mismatch``, ``checkpoint_mismatch``, ``bad_signature``, ``malformed``
            (a file is not what the format says), ``file_digest`` (a file's SHA-256 is not
            the manifest's), ``manifest`` (the manifest was changed).
        notes: remarks that are not damage (e.g. signatures not checked).
    """

    path: str
    cases: int = 0
    events: int = 0
    checkpoints: int = 0
    signatures_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was found wrong."""
        return not self.problems


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class LineTooLong(ValueError):
    """A line longer than :data:`MAX_LINE_BYTES` (not read whole)."""


def _parse(data: bytes) -> Any:
    """Parsed JSON, or the exception saying why not (a huge integer, deep nesting ...)."""
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError too
        return exc


def _lines(path: Path) -> Iterator[tuple[int, bytes, Any]]:
    """``(line number, raw bytes, parsed JSON or an Exception)`` per line; a line longer
    than :data:`MAX_LINE_BYTES` is skipped in bounded reads and given as
    :class:`LineTooLong` (with its bytes empty)."""
    with path.open("rb") as f:
        number = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = f.readline(1 << 20)
                yield number, b"", LineTooLong(f"longer than {MAX_LINE_BYTES} bytes")
                continue
            line = raw[:-1] if raw.endswith(b"\n") else raw
            yield number, line, _parse(line)


def _canonical_or_none(value: Any) -> bytes | None:
    try:
        return canonical_bytes(value)
    except ValueError:
        return None


def verify_bundle(path: str | Path, key: VerifyKey | None = None) -> BundleReport:
    """Verify an audit bundle: every file against the manifest, every case's chain, head
    and replay, every checkpoint and (with ``key``) their signatures.

    Args:
        path: the bundle directory (as ``appcase audit export`` wrote it).
        key: a key to check checkpoint signatures with (see :func:`check_checkpoints`).

    Returns:
        The report; ``report.ok`` is true when nothing was found wrong.

    Raises:
        BundleError: ``path`` is not a directory, or Ed25519 signatures are asked for and
            ``cryptography`` is missing.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root} is not a directory (give the bundle's directory)")
    report = BundleReport(path=str(root))
    campaign_level: list[Problem] = []
    case_problems: dict[str, Problem] = {}

    manifest = _read_manifest(root, campaign_level)
    if manifest is None:
        report.problems = campaign_level
        return report
    campaign = _dict(manifest, "campaign", campaign_level)
    given_id = campaign.get("id")
    campaign_id = given_id if isinstance(given_id, str) else ""
    listed = manifest.get("checkpoints")
    if not isinstance(listed, list):
        if listed is not None:
            campaign_level.append(
                ("", None, "manifest", "the manifest's checkpoints are not a list")
            )
        listed = []
    checkpoints = [cp for cp in listed if isinstance(cp, dict)]
    if len(checkpoints) != len(listed):
        campaign_level.append(
            ("", None, "manifest", "a checkpoint of the manifest is not an object")
        )
    report.checkpoints = len(checkpoints)

    files = _dict(manifest, "files", campaign_level)
    if sorted(files) != sorted(BUNDLE_FILES):
        names = ", ".join(shown(f) for f in sorted(files)[:8])
        campaign_level.append(("", None, "manifest", f"the manifest lists {names}"))
    for name in BUNDLE_FILES:
        file = root / name
        if not file.is_file():
            campaign_level.append(("", None, "file_digest", f"{name} is missing"))
        elif _sha256_file(file) != files.get(name):
            campaign_level.append(
                ("", None, "file_digest", f"{name} does not match the manifest's SHA-256")
            )
    for extra in sorted(p.name for p in root.iterdir()):
        if extra != "manifest.json" and extra not in BUNDLE_FILES and not extra.startswith("."):
            campaign_level.append(("", None, "malformed", f"{extra} is not part of the bundle"))

    campaign_file = root / "campaign.json"
    if campaign_file.is_file() and _sha256_file(campaign_file) != campaign.get("digest"):
        campaign_level.append(
            ("", None, "file_digest", "campaign.json is not the campaign the manifest names")
        )

    cases = _read_cases(root / "cases.jsonl", campaign_level)
    report.cases = len(cases)

    needed: dict[str, set[int]] = {}
    for cp in checkpoints:
        cp_heads = cp.get("heads")
        for head in cp_heads if isinstance(cp_heads, list) else ():
            if (
                isinstance(head, list)
                and len(head) == 3
                and isinstance(head[0], str)
                and type(head[1]) is int
            ):
                needed.setdefault(head[0], set()).add(head[1])
    kept: dict[tuple[str, int], str] = {}
    seen: set[str] = set()
    try:
        transitions: Transitions | None = Transitions.from_table(manifest.get("transitions"))
    except ValueError as exc:
        transitions = None
        campaign_level.append(
            ("", None, "manifest", f"the manifest's transition table cannot be read: {exc}")
        )

    def finish(case_id: str, entries: list[tuple[dict[str, Any], str]], lines: str) -> None:
        try:
            check(case_id, entries)
        except _UNREADABLE as exc:
            case_problems.setdefault(
                case_id,
                (
                    case_id,
                    None,
                    "malformed",
                    f"events.jsonl {lines}: the case's events cannot be checked "
                    f"({type(exc).__name__})",
                ),
            )

    def check(case_id: str, entries: list[tuple[dict[str, Any], str]]) -> None:
        seen.add(case_id)
        for pos, (_, stored) in enumerate(entries, 1):
            if pos in needed.get(case_id, ()):
                kept[(case_id, pos)] = stored
        if case_id in case_problems:
            return
        case = cases.get(case_id)
        if case is None:
            case_problems[case_id] = (
                case_id,
                1,
                "inserted",
                "events of a case that is not in cases.jsonl",
            )
            return
        found = check_chain(case_id, entries, _int(case.get("events")), _str(case.get("head")))
        if found is None and transitions is not None:
            found = _replayed(case_id, entries, case, transitions)
        if found is not None:
            case_problems[case_id] = found

    events_file = root / "events.jsonl"
    current: str | None = None
    first = 0
    entries: list[tuple[dict[str, Any], str]] = []
    if events_file.is_file():
        for number, raw, value in _lines(events_file):
            where = f"events.jsonl line {number}"
            record = value.get("record") if isinstance(value, dict) else None
            if not isinstance(record, dict) or not isinstance(record.get("case_id"), str):
                why = f": {value}" if isinstance(value, LineTooLong) else ""
                campaign_level.append(("", None, "malformed", f"{where} is not an event{why}"))
                continue
            report.events += 1
            case_id = record["case_id"]
            if _canonical_or_none(value) != raw and case_id not in case_problems:
                case_problems[case_id] = (
                    case_id,
                    _int(record.get("seq")) or None,
                    "edited",
                    f"{where} is not in canonical form",
                )
            if case_id != current:
                if current is not None:
                    finish(current, entries, f"lines {first}-{number - 1}")
                if case_id in seen and case_id not in case_problems:
                    case_problems[case_id] = (
                        case_id,
                        None,
                        "reordered",
                        f"the case's events are not together in events.jsonl ({where})",
                    )
                current, entries, first = case_id, [], number
            entries.append((record, _str(value.get("hash"))))
        if current is not None:
            finish(current, entries, f"lines {first}-{number}")
    for case_id, case in sorted(cases.items()):
        if case_id not in seen and case_id not in case_problems and _int(case.get("events")):
            case_problems[case_id] = (
                case_id,
                1,
                "deleted",
                f"cases.jsonl records {_int(case.get('events'))} events; none are in events.jsonl",
            )

    heads = [[cid, _int(c.get("events")), _str(c.get("head"))] for cid, c in sorted(cases.items())]
    if manifest.get("heads") != heads:
        campaign_level.append(("", None, "manifest", "the manifest's heads are not cases.jsonl's"))
    try:
        digest = heads_digest(campaign_id, heads)
    except ValueError:
        digest = None
    if manifest.get("heads_digest") != digest:
        campaign_level.append(("", None, "manifest", "the heads digest does not match the heads"))
    counts = manifest.get("counts")
    actual = {"cases": report.cases, "events": report.events, "checkpoints": report.checkpoints}
    if counts != actual:
        given = (
            "{" + ", ".join(f"{k!r}: {shown(v)}" for k, v in list(counts.items())[:3]) + "}"
            if isinstance(counts, dict)
            else shown(counts)
        )
        campaign_level.append(("", None, "manifest", f"counts {given} but the bundle has {actual}"))

    cp_problems, notes, checked = check_checkpoints(
        checkpoints, campaign_id, _str(campaign.get("digest")), key
    )
    campaign_level.extend(cp_problems)
    report.notes.extend(notes)
    report.signatures_checked = checked
    for case_id, problem in check_heads(
        checkpoints, lambda c, n: kept.get((c, n)), lambda c: c in cases or c in seen
    ).items():
        case_problems.setdefault(case_id, problem)
    if checkpoints:
        after = report.events - min(_int(checkpoints[-1].get("events")), report.events)
        if after > 0:
            report.notes.append(
                f"{after} event(s) recorded after the latest checkpoint are covered by this "
                "bundle's digests only"
            )
    else:
        report.notes.append("the bundle holds no checkpoint: nothing in it is signed")
    report.problems = [case_problems[c] for c in sorted(case_problems)] + campaign_level
    return report


def _replayed(
    case_id: str,
    entries: Sequence[tuple[Mapping[str, Any], str]],
    case: Mapping[str, Any],
    transitions: Transitions,
) -> Problem | None:
    """Fold a case's (intact) chain and compare the result with its cases.jsonl line."""
    folded, error = replay(entries, transitions)
    if error is not None:
        return (case_id, None, "state_mismatch", str(error))
    if (folded.state, folded.judicial_state) != (case.get("state"), case.get("judicial_state")):
        return (
            case_id,
            None,
            "state_mismatch",
            f"replay gives {folded.state}/{folded.judicial_state}, cases.jsonl says "
            f"{case.get('state')}/{case.get('judicial_state')}",
        )
    diffs = differences(folded, {k: case[k] for k in CASE_FIELDS_FOLDED if k in case})
    if diffs:
        return (case_id, None, "state_mismatch", "; ".join(diffs))
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(manifest: Mapping[str, Any], name: str, problems: list[Problem]) -> dict[str, Any]:
    """The manifest's object ``name``; an empty one (and a problem) if it is not one."""
    value = manifest.get(name)
    if isinstance(value, dict):
        return value
    problems.append(("", None, "manifest", f"the manifest's {name} is not an object"))
    return {}


def _read_manifest(root: Path, problems: list[Problem]) -> dict[str, Any] | None:
    file = root / "manifest.json"
    if not file.is_file():
        problems.append(("", None, "manifest", "manifest.json is missing (or not a file)"))
        return None
    try:
        with file.open("rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError:
        problems.append(("", None, "manifest", "manifest.json cannot be read"))
        return None
    if len(raw) > MAX_MANIFEST_BYTES:
        problems.append(
            ("", None, "manifest", f"manifest.json is larger than {MAX_MANIFEST_BYTES} bytes")
        )
        return None
    manifest = _parse(raw)
    if isinstance(manifest, BaseException):
        problems.append(("", None, "manifest", f"manifest.json is not JSON: {manifest}"))
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        problems.append(("", None, "manifest", f"manifest.json is not an {FORMAT} manifest"))
        return None
    canonical = _canonical_or_none(manifest)
    if canonical is None or canonical + b"\n" != raw:
        problems.append(("", None, "manifest", "manifest.json is not in canonical form"))
    body = {k: v for k, v in manifest.items() if k != "manifest_digest"}
    body_bytes = _canonical_or_none(body)
    if body_bytes is None or hashlib.sha256(body_bytes).hexdigest() != manifest.get(
        "manifest_digest"
    ):
        problems.append(("", None, "manifest", "manifest.json does not match its digest"))
    return manifest


_CASE_TYPES: dict[str, type] = {"events": int, "head": str, "state": str, "judicial_state": str}
"""The types of the fields of a cases.jsonl line that the checks read."""


def _read_cases(file: Path, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    if not file.is_file():
        return cases
    for number, raw, value in _lines(file):
        if not isinstance(value, dict) or not isinstance(value.get("case_id"), str):
            why = f": {value}" if isinstance(value, LineTooLong) else ""
            problems.append(
                ("", None, "malformed", f"cases.jsonl line {number} is not a case{why}")
            )
            continue
        wrong = [
            name
            for name, kind in _CASE_TYPES.items()
            if not isinstance(value.get(name), kind) or isinstance(value.get(name), bool)
        ]
        if wrong:
            problems.append(
                (
                    "",
                    None,
                    "malformed",
                    f"cases.jsonl line {number}: {', '.join(wrong)} not of the format's type",
                )
            )
        if _canonical_or_none(value) != raw:
            problems.append(
                ("", None, "malformed", f"cases.jsonl line {number} is not in canonical form")
            )
        if value["case_id"] in cases:
            problems.append(("", None, "malformed", f"cases.jsonl line {number} repeats a case"))
        cases[value["case_id"]] = value
    return cases


def describe(problem: Problem) -> str:
    """One line for a problem: ``case C event #N: kind: detail`` (``bundle`` when the
    problem is not a case's).

    Args:
        problem: ``(case_id or "", seq or None, kind, detail)``.
    """
    case_id, seq, kind, detail = problem
    where = f"case {case_id}" if case_id else "bundle"
    if seq is not None:
        where += f" event #{seq}"
    return f"{where}: {kind}: {detail}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m appcase.audit.bundle DIR``: verify a bundle and print the
    result (``--json`` for programs; damage and notes go to standard error as text).

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 intact, 1 damage found, 2 bad usage.
    """
    parser = argparse.ArgumentParser(
        prog="python -m appcase.audit.bundle",
        description="Verify an appcase audit bundle offline (no database).",
    )
    parser.add_argument("bundle", help="the bundle directory")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--public-key", metavar="FILE", help="Ed25519 public key (PEM or hex)")
    group.add_argument("--hmac-key", metavar="FILE", help="HMAC-SHA256 key file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        key = None
        if args.public_key:
            key = load_public_key(args.public_key)
        elif args.hmac_key:
            key = load_hmac_key(args.hmac_key)
        report = verify_bundle(args.bundle, key)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: the bundle cannot be read: {exc.strerror} ({exc.filename})", file=sys.stderr)
        return 2
    if args.json:
        body = {
            "ok": report.ok,
            "path": report.path,
            "cases": report.cases,
            "events": report.events,
            "checkpoints": report.checkpoints,
            "signatures_checked": report.signatures_checked,
            "problems": [
                {"case_id": c, "seq": s, "kind": k, "detail": d} for c, s, k, d in report.problems
            ],
            "notes": report.notes,
        }
        print(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        summary = (
            f"{report.cases} cases, {report.events} events, {report.checkpoints} checkpoints, "
            f"{report.signatures_checked} signatures checked"
        )
        if report.ok:
            print(f"ok: bundle {report.path}: {summary}")
        else:
            print(f"FAILED: bundle {report.path}: {summary}", file=sys.stderr)
            for problem in report.problems:
                print(f"  - {describe(problem)}", file=sys.stderr)
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr if not report.ok else sys.stdout)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
