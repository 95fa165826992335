"""Valid payloads and a driver that walks a case to any state through the engine."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from click.testing import CliRunner, Result

from appcase import testing
from appcase.cli import cli
from appcase.states import State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.views import CaseView

SHANGHAI = ZoneInfo("Asia/Shanghai")

ACTORS = {
    "cs-cac": ("cac_prefecture", "430100"),
    "cs-edu": ("edu_prefecture", "430100"),
    "zz-cac": ("cac_prefecture", "430200"),
    "zz-edu": ("edu_prefecture", "430200"),
    "prov": ("cac_province", "430000"),
}
"""Test actors: Changsha's and Zhuzhou's offices and the province."""

# Real, published credit codes (valid check characters), used only as well-formed values.
USCC = ["914403001922038216", "91440300708461136T", "91110108551385082Q"]


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant in 2018, Asia/Shanghai."""
    return datetime(2018, month, day, hour, minute, tzinfo=SHANGHAI)


ADMIN = "admin"
"""The test databases' administrator (registers the other actors)."""


def register_actors(engine: CaseEngine) -> None:
    """Register the administrator :data:`ADMIN` (the first one, by itself), then
    :data:`ACTORS` by it."""
    engine.add_actor(ADMIN, role="administrator")
    for actor_id, (role, code) in ACTORS.items():
        engine.add_actor(actor_id, role=role, jurisdiction=code, by=ADMIN)


def app(n: int = 0, prefecture: str = "430100", **extra: Any) -> dict[str, Any]:
    """A valid app identity, unique per ``n``."""
    return {
        "name": f"测试学习应用{n}",
        "operator": "长沙测试教育科技有限公司",
        "uscc": USCC[n % len(USCC)],
        "prefecture": prefecture,
        **extra,
    }


def evidence(category: str = "vulgar_pornographic") -> dict[str, Any]:
    """A flag payload with one evidence item."""
    return {"evidence": [{"harm_category": category, "description": "低俗图片"}]}


def judgment(
    disposition: str = "interview_rectify", severity: str = "serious", illegal: bool = False
) -> dict[str, Any]:
    """A judge payload with one finding citing evidence 1."""
    return {
        "findings": [
            {
                "harm_category": "vulgar_pornographic",
                "severity": severity,
                "evidence_refs": [1],
                "suspected_illegal": illegal,
            }
        ],
        "disposition": disposition,
    }


def interview(held: datetime, deadline: str = "2018-03-28") -> dict[str, Any]:
    """A complete interview record held at ``held``."""
    return {
        "notice_given_at": (held - timedelta(days=2)).isoformat(),
        "held_at": held.isoformat(),
        "place": "市网信办约谈室",
        "officers": ["张伟", "李娜"],
        "problems": ["传播低俗信息"],
        "rectification_deadline": deadline,
    }


def pledge(signed: datetime, deadline: str = "2018-03-28") -> dict[str, Any]:
    """A signed pledge with two commitments."""
    return {
        "signed_by": "王经理",
        "signed_at": signed.isoformat(),
        "commitments": ["清理违规信息", "完善审核制度"],
        "deadline": deadline,
    }


RECTIFIED = {
    "checks": [{"commitment": "1", "verified": True}, {"commitment": "2", "verified": True}]
}


def drive(
    engine: CaseEngine,
    to: State | str,
    *,
    n: int = 0,
    prefecture: str = "430100",
    disposition: str = "interview_rectify",
    illegal: bool = False,
) -> CaseView:
    """Create a case and walk it to state ``to`` along the usual path, as Changsha's officers.

    ``escalated_for_takedown`` and ``taken_down`` go through a takedown judgment.
    """
    target = State(to)
    cac = "cs-cac" if prefecture == "430100" else "zz-cac"
    edu = "cs-edu" if prefecture == "430100" else "zz-edu"
    if target in (State.ESCALATED_FOR_TAKEDOWN, State.TAKEN_DOWN):
        disposition = "takedown"
    severity = "severe" if disposition == "takedown" else "serious"
    steps: list[tuple[str, str, dict[str, Any], datetime, str | None]] = [
        ("flag", cac, evidence(), local(2, 21), None),
        ("judge", edu, judgment(disposition, severity, illegal), local(3, 12), None),
    ]
    if disposition == "takedown":
        steps += [
            ("escalate", cac, {"ground": "takedown_disposition"}, local(3, 13), "研判建议关停"),
            ("take_down", "prov", {"decision_no": "湘网信〔2018〕1号"}, local(3, 15), None),
        ]
    else:
        steps += [
            ("interview", cac, interview(local(3, 14)), local(3, 14, 11), None),
            ("pledge", cac, pledge(local(3, 14, 12)), local(3, 14, 13), None),
            ("rectify", cac, RECTIFIED, local(3, 27), None),
        ]
    view = engine.survey(app(n, prefecture), actor=cac, at=local(2, 20, 9))
    for event, actor, payload, at, reason in steps:
        if engine.get(view.id).state == target.value:
            break
        engine.fire(view.id, event, actor=actor, payload=payload, at=at, reason=reason)
    result = engine.get(view.id)
    assert result.state == target.value, (result.state, target)
    return result


# --- cases with distinct operators, the command line, database snapshots ------------------


def unique_app(n: int, prefecture: str = "430100", **extra: Any) -> dict[str, Any]:
    """:func:`appcase.testing.unique_app`, in Changsha by default: a valid app identity whose
    credit code is unique per ``(n, prefecture)`` -- unlike :func:`app`."""
    return testing.unique_app(n, prefecture, **extra)


def advance(
    engine: CaseEngine,
    case_id: str,
    to: State | str,
    *,
    disposition: str = "interview_rectify",
    illegal: bool = False,
) -> CaseView:
    """Walk a ``surveyed`` case of Changsha to ``to`` along the same path as :func:`drive`
    (``judged`` with any ``disposition``; ``no_violation`` judgments cite no finding)."""
    target = State(to)
    if target in (State.ESCALATED_FOR_TAKEDOWN, State.TAKEN_DOWN):
        disposition = "takedown"
    severity = "severe" if disposition == "takedown" else "serious"
    verdict = judgment(disposition, severity, illegal)
    if disposition == "no_violation":
        verdict = {"findings": [], "disposition": "no_violation"}
    steps: list[tuple[str, str, dict[str, Any], datetime, str | None]] = [
        ("flag", "cs-cac", evidence(), local(2, 21), None),
        ("judge", "cs-edu", verdict, local(3, 12), None),
    ]
    if disposition == "takedown":
        steps += [
            (
                "escalate",
                "cs-cac",
                {"ground": "takedown_disposition"},
                local(3, 13),
                "研判建议关停",
            ),
            ("take_down", "prov", {"decision_no": "湘网信〔2018〕1号"}, local(3, 15), None),
        ]
    else:
        steps += [
            ("interview", "cs-cac", interview(local(3, 14)), local(3, 14, 11), None),
            ("pledge", "cs-cac", pledge(local(3, 14, 12)), local(3, 14, 13), None),
            ("rectify", "cs-cac", RECTIFIED, local(3, 27), None),
        ]
    for event, actor, payload, at, reason in steps:
        if engine.get(case_id).state == target.value:
            break
        engine.fire(case_id, event, actor=actor, payload=payload, at=at, reason=reason)
    result = engine.get(case_id)
    assert result.state == target.value, (result.state, target)
    return result


STANDARD_CASES: dict[str, tuple[str, str, bool]] = {
    "surveyed": ("surveyed", "interview_rectify", False),
    "flagged": ("flagged", "interview_rectify", False),
    "judged": ("judged", "interview_rectify", False),
    "judged_takedown": ("judged", "takedown", False),
    "judged_clean": ("judged", "no_violation", False),
    "judged_illegal": ("judged", "interview_rectify", True),
    "interviewed": ("interviewed", "interview_rectify", False),
    "pledged": ("pledged", "interview_rectify", False),
    "escalated": ("escalated_for_takedown", "takedown", False),
    "rectified": ("rectified", "interview_rectify", False),
}
"""Labels of :func:`standard_cases`: (state, disposition, suspected illegal)."""


def standard_cases(engine: CaseEngine) -> dict[str, str]:
    """Create one Changsha case per :data:`STANDARD_CASES` label (surveyed 2018-02-20, then
    :func:`advance`'s dates; pledges due 2018-03-28). Returns label → case id."""
    ids: dict[str, str] = {}
    for n, (label, (state, disposition, illegal)) in enumerate(STANDARD_CASES.items()):
        view = engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9))
        advance(engine, view.id, state, disposition=disposition, illegal=illegal)
        ids[label] = view.id
    return ids


def run_cli(
    db: Path | str,
    *args: str,
    actor: str | None = None,
    as_json: bool = False,
    stdin: str | None = None,
) -> Result:
    """Run ``appcase --db DB [--actor A] [--json] ARGS`` in-process, with no ``APPCASE_*``
    environment; fail the test on an uncaught exception or a traceback in the output."""
    head = ["--db", str(db)]
    if actor:
        head += ["--actor", actor]
    if as_json:
        head.append("--json")
    unset = ("APPCASE_ACTOR", "APPCASE_DATABASE_URL", "APPCASE_CAMPAIGN", "APPCASE_LOG_LEVEL")
    env: dict[str, str | None] = dict.fromkeys(unset)
    logging_config = structlog.get_config()  # the CLI configures logging to its own stderr
    try:
        result = CliRunner().invoke(
            cli, [*head, *args], input=stdin, env=env, catch_exceptions=True
        )
    finally:
        structlog.reset_defaults()
        structlog.configure(**logging_config)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"appcase {' '.join(args)} crashed: {result.exception!r}") from (
            result.exception
        )
    assert "Traceback" not in result.output, result.output
    return result


def checkpoint(path: Path) -> None:
    """Move a SQLite file's write-ahead log into the main file and empty the log."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def file_digests(path: Path) -> dict[str, str | None]:
    """SHA-256 of a SQLite file and of its ``-wal`` log (``None`` when absent or empty)."""
    out: dict[str, str | None] = {}
    for suffix in ("", "-wal"):
        f = Path(f"{path}{suffix}")
        data = f.read_bytes() if f.exists() else b""
        out[suffix or "main"] = hashlib.sha256(data).hexdigest() if data else None
    return out


def dump_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a SQLite file (sorted), plus the schema and triggers."""
    with closing(sqlite3.connect(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = {n: sorted(conn.execute(f'SELECT * FROM "{n}"'), key=repr) for n in names}
        out["sqlite_master"] = sorted(conn.execute("SELECT * FROM sqlite_master"), key=repr)
    return out


def cli_database(directory: Path) -> tuple[Path, dict[str, str]]:
    """A SQLite file in ``directory`` initialised with Hunan 2018, the test :data:`ACTORS` and
    :func:`standard_cases`, closed and checkpointed (copy it for each test).

    Returns:
        The file and the label → case id map of :func:`standard_cases`.
    """
    from appcase.bootstrap import init_database
    from appcase.clock import FixedClock

    path = directory / "template.sqlite"
    engine = init_database(f"sqlite:///{path}", "hunan-2018", FixedClock(local(4, 30, 12)))
    try:
        register_actors(engine)
        ids = standard_cases(engine)
    finally:
        engine.close()
    checkpoint(path)
    return path, ids
