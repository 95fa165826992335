"""No command reads the whole ``events`` or ``cases`` table: a command costs the same on a
large base as on an empty one.

A base of a few thousand cases (six events each) is seeded and analysed; then every
command runs -- survey, each event, a hotline report, the sweep, ``list`` with each of its
filters, ``show``, ``history``, ``--as-of``, the feed -- while a ``before_cursor_execute`` listener
records every statement it issues. Each statement is then explained on the same database
(``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (FORMAT JSON)`` on PostgreSQL) with the
parameters it ran with, and the test fails on a full scan of ``events`` or ``cases``: a
``SCAN`` of either without an index on SQLite, a ``Seq Scan`` on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from appcase.clock import FixedClock
from appcase.workflow.engine import CaseEngine
from appcase.workflow.hotline import report_hotline
from benchmarks import lifecycle, seed
from tests.builders import app, evidence, interview, judgment, local, pledge, run_cli
from tests.dbcheck import db

pytestmark = pytest.mark.slow

BASE_CASES = 2000
"""Seeded rectified cases (six events each): enough that a planner prefers an index."""

WATCHED = ("events", "cases", "apps")
"""The tables that grow with the base (``apps`` holds one row per case)."""

INHERENT = {
    "appcase list --text 测试学习应用1": "a substring of names: every app is read",
    "appcase report hotline --app": "finds the app as list --text does (a substring search)",
    "appcase list --sort state --limit 5": "workflow order is an expression of the state",
    "appcase list --state pledged --state judged": "several states: without statistics SQLite "
    "may walk the campaign in id order rather than sort the states' rows (one state walks "
    "ix_cases_keyset)",
}
"""Commands whose reads are whole-table by what they ask, and why (left out of the check)."""

_DML = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


@dataclass
class Capture:
    """Every statement issued while :attr:`label` is set, grouped by command."""

    label: str | None = None
    statements: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    def __call__(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.label is None or not _DML.match(statement):
            return
        if executemany:
            parameters = parameters[0]
        self.statements.setdefault(self.label, []).append((statement, parameters))

    def run(self, label: str, action: Callable[[], Any]) -> Any:
        self.label = label
        try:
            return action()
        finally:
            self.label = None


@pytest.fixture
def capture() -> Iterator[Capture]:
    listener = Capture()
    event.listen(Engine, "before_cursor_execute", listener)
    try:
        yield listener
    finally:
        event.remove(Engine, "before_cursor_execute", listener)


def _sqlite_scans(bind: Engine, statement: str, parameters: Any) -> list[str]:
    names = set(WATCHED)
    aliases = r"\b(?:" + "|".join(WATCHED) + r")\s+AS\s+(\w+)"
    names |= set(re.findall(aliases, statement, re.IGNORECASE))
    with bind.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    details = [str(row[-1]) for row in rows]
    # An index walked in order under a LIMIT stops early; sorted first, it reads it all.
    stops_early = " LIMIT " in statement and not any("TEMP B-TREE" in d for d in details)
    scans = []
    for detail in details:
        found = re.match(r"(SCAN|SEARCH) (\w+)", detail)
        if not found or found.group(2) not in names:
            continue
        if found.group(1) == "SCAN" and ("USING" not in detail or not stops_early):
            scans.append(detail)  # the whole table, or the whole of one of its indexes
        elif detail.endswith("(campaign_id=?)") and not stops_early:
            scans.append(detail)  # the whole campaign: the base holds one
    return scans


def _postgres_scans(bind: Engine, statement: str, parameters: Any) -> list[str]:
    with bind.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    scans = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in WATCHED:
            scans.append(f"Seq Scan on {node['Relation Name']}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return scans


def full_scans(bind: Engine, capture: Capture) -> dict[str, list[str]]:
    """Per command, each statement whose plan scans ``events`` or ``cases`` in full."""
    explain = _sqlite_scans if bind.dialect.name == "sqlite" else _postgres_scans
    found: dict[str, list[str]] = {}
    for label, statements in capture.statements.items():
        if label in INHERENT:
            continue
        for statement, parameters in statements:
            scans = explain(bind, statement, parameters)
            if scans:
                one_line = " ".join(statement.split())
                found.setdefault(label, []).append(f"{', '.join(scans)}: {one_line[:300]}")
    return found


def _seed_base(engine: CaseEngine) -> None:
    lifecycle.register_actors(engine)
    seed.seed(engine, lifecycle.FULL_LIFECYCLE, BASE_CASES, first_app=5_000_000)
    bind = db(engine)
    if bind.dialect.name == "postgresql":  # appcase never analyses a SQLite file itself
        with bind.begin() as conn:
            conn.execute(text("ANALYZE"))


def _commands(engine: CaseEngine, url: str, capture: Capture) -> None:
    """Every command, on cases of Zhuzhou (430200) beside the Changsha base."""

    def fire(label: str, case_id: str, ev: str, actor: str, payload: dict[str, Any], **kw: Any):
        return capture.run(
            label, lambda: engine.fire(case_id, ev, actor=actor, payload=payload, **kw)
        )

    def survey(n: int) -> str:
        ident = app(n, "430200")
        view = capture.run(
            "survey", lambda: engine.survey(ident, actor="zz-cac", at=local(2, 20, 9))
        )
        return str(view.id)

    # a pledged case, referred to the judiciary, then swept and returned for rectification
    a = survey(0)
    fire("flag", a, "flag", "zz-cac", evidence(), at=local(2, 21))
    fire("add_evidence", a, "add_evidence", "zz-cac", evidence(), at=local(2, 22))
    fire("judge", a, "judge", "zz-edu", judgment(illegal=True), at=local(3, 12))
    fire("refer", a, "refer", "zz-cac", {"authority": "株洲市公安局"}, at=local(3, 13),
         reason="涉嫌违法")  # fmt: skip
    fire("interview", a, "interview", "zz-cac", interview(local(3, 14)), at=local(3, 14, 11))
    fire("pledge", a, "pledge", "zz-cac", pledge(local(3, 14, 12)), at=local(3, 14, 13))
    # a rectified case
    b = survey(1)
    fire("flag", b, "flag", "zz-cac", evidence(), at=local(2, 21))
    fire("judge", b, "judge", "zz-edu", judgment(), at=local(3, 12))
    fire("interview", b, "interview", "zz-cac", interview(local(3, 14)), at=local(3, 14, 11))
    fire("pledge", b, "pledge", "zz-cac", pledge(local(3, 14, 12)), at=local(3, 14, 13))
    rectified = {"checks": [{"commitment": "1", "verified": True},
                            {"commitment": "2", "verified": True}]}  # fmt: skip
    fire("rectify", b, "rectify", "zz-cac", rectified, at=local(3, 27))
    # a case taken down
    c = survey(2)
    fire("flag", c, "flag", "zz-cac", evidence(), at=local(2, 21))
    fire("judge", c, "judge", "zz-edu", judgment("takedown", "severe"), at=local(3, 12))
    fire("escalate", c, "escalate", "zz-cac", {"ground": "takedown_disposition"},
         at=local(3, 13), reason="研判建议关停")  # fmt: skip
    fire("take_down", c, "take_down", "prov", {"decision_no": "湘网信〔2018〕1号"},
         at=local(3, 15))  # fmt: skip
    # a case dismissed
    d = survey(3)
    fire("flag", d, "flag", "zz-cac", evidence(), at=local(2, 21))
    fire("judge", d, "judge", "zz-edu", {"findings": [], "disposition": "no_violation"},
         at=local(3, 12))  # fmt: skip
    fire("dismiss", d, "dismiss", "zz-edu", {}, at=local(3, 13))
    # a hotline report, by case and by app name
    e = survey(4)
    capture.run(
        "report hotline",
        lambda: report_hotline(
            engine, e, {"harm_category": "vulgar_pornographic", "description": "低俗图片"},
            actor="zz-cac", at=local(3, 2),
        ),
    )  # fmt: skip
    db_arg = url
    capture.run(
        "appcase report hotline --app",
        lambda: run_cli(db_arg, "report", "hotline", "--app", "测试学习应用3", "--category",
                        "vulgar_pornographic", "--description", "又见低俗图片",
                        "--at", "2018-03-20T10:00+08:00", actor="zz-cac"),
    )  # fmt: skip
    # the sweep escalates a, then a goes back for rectification
    capture.run("appcase sweep", lambda: run_cli(db_arg, "sweep", "--at", "2018-04-01T00:00+08:00"))
    fire("return_for_rectification", a, "return_for_rectification", "prov", {},
         at=local(4, 2), reason="已主动整改")  # fmt: skip

    reads: list[tuple[str, ...]] = [
        ("show", a),
        ("show", a, "--as-of", "2018-03-13T00:00+08:00"),
        ("show", a, "--as-of", "2018-04-30T12:00+08:00", "--as-recorded"),
        ("history", a),
        ("list", "--limit", "20"),
        ("list", "--state", "taken_down"),
        ("list", "--state", "pledged", "--state", "judged"),
        ("list", "--prefecture", "430200"),
        ("list", "--prefecture", "430200", "--state", "surveyed"),
        ("list", "--overdue-at", "2018-04-01T00:00+08:00"),
        ("list", "--referred"),
        ("list", "--judicial", "referred_to_judiciary"),
        ("list", "--phase", "summary"),
        ("list", "--sort", "last-event", "--limit", "5"),
        ("list", "--sort", "state", "--limit", "5"),
        ("list", "--sort", "prefecture", "--limit", "5"),
        ("list", "--text", "测试学习应用1"),
        ("list", "--as-of", "2018-03-13T00:00+08:00", "--prefecture", "430200"),
        ("list", "--as-of", "2018-03-13T00:00+08:00", "--limit", "5"),
        ("feed", "--limit", "5"),
        ("feed", "--after", "5000", "--limit", "5"),
    ]
    for args in reads:
        label = "appcase " + " ".join(args)
        result = capture.run(label, lambda args=args: run_cli(db_arg, *args))
        assert result.exit_code == 0, (label, result.output)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql",
                         marks=pytest.mark.postgres)], indirect=True)  # fmt: skip
def test_no_command_scans_events_or_cases(
    make_engine: Callable[[str], CaseEngine], db_url: str, capture: Capture, clock: FixedClock
) -> None:
    engine = make_engine(db_url)
    _seed_base(engine)
    _commands(engine, db_url, capture)
    assert len(capture.statements) > 30, sorted(capture.statements)
    scans = full_scans(db(engine), capture)
    assert scans == {}, "\n" + "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in scans.items())
