"""Item 9: every command on a large base against the same command on an empty one.

Two SQLite databases hold the same campaign: a *large* one, whose events table holds
``Size.base_events`` events (seeded cases of Changsha, 430100, driven through the whole
lifecycle by :func:`benchmarks.seed.seed`), and an *empty* one, freshly initialised with a
handful of such cases. Each round plays the same scenario on new cases of the same
prefecture in both, in lockstep (a group of calls on one, the same on the other, which
goes first alternating): surveys, every event of the table, a
hotline report, the sweep, then every read -- show, as-of, history, verify and replay of one
case, the feed's tail, list with its filters. Every command is timed over its calls in the
round; a round's ratio is the large base's time over the empty base's, and a row reports
the median over the rounds against the goal (≤ 1.2 ×).

Two reads are whole-campaign by what they ask and so grow with the base whatever the
queries: the summary report (it counts every case) and ``list --text`` (a substring of any
app's name). They are measured once per base, after the rounds, and reported as such,
without a goal. ``audit export`` has
no per-case form (a bundle holds the whole campaign), so it is not in this item.

The large base takes about a minute per million events to seed; it is built once and kept
in a cache directory (``APPCASE_BENCH_CACHE``, default ``<temp dir>/appcase-bench-cache``)
under a name that carries the size and a digest of the schema's migrations and of the
seeding code, so that a later run (or another size) does not rebuild it, and a changed
schema does (the base it replaces is deleted). Each run works on a copy.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import lifecycle, seed
from benchmarks.report import Row

HERE = Path(__file__).absolute().parent
MIGRATIONS = HERE.parent / "appcase" / "persistence" / "migrations" / "versions"
GOAL = 1.2
EVENTS_PER_CASE = 1 + len(lifecycle.FULL_LIFECYCLE)
EMPTY_CASES = 10
"""Seeded cases in the "empty" base: the same shape as the large one, a few cases."""

INHERENT = {
    "report summary": "counts every case of the campaign, by what it reports",
    "list --text": "a substring of any app's name: every app is read",
}

_local = lifecycle.local
ILLEGAL = {
    "findings": [
        {
            "harm_category": "vulgar_pornographic",
            "severity": "serious",
            "evidence_refs": [1],
            "suspected_illegal": True,
        }
    ],
    "disposition": "interview_rectify",
}


def cache_dir() -> Path:
    """Where built bases are kept between runs."""
    root = os.environ.get("APPCASE_BENCH_CACHE")
    return Path(root) if root else Path(tempfile.gettempdir()) / "appcase-bench-cache"


def cache_key() -> str:
    """A digest of what a seeded base depends on: the migrations and the seeding code."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    for path in (HERE / "seed.py", HERE / "lifecycle.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def large_base(events: int, say: Callable[[str], None]) -> Path:
    """A checkpointed SQLite file of about ``events`` events (whole cases of the lifecycle),
    from the cache, built there first if missing."""
    cases = max(1, events // EVENTS_PER_CASE)
    path = cache_dir() / f"base-{cases * EVENTS_PER_CASE}-events-{cache_key()}.sqlite"
    if path.exists():
        say(f"  large base from the cache: {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f"{path.stem}.{os.getpid()}.building")
    for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        leftover.unlink(missing_ok=True)
    start = time.perf_counter()
    engine = seed.new_engine(seed.sqlite_url(building))
    ids = seed.seed(engine, lifecycle.FULL_LIFECYCLE, cases - 1, chunk=10_000)
    seed.check_sample(engine, ids)
    engine.close()
    seed.checkpoint(building)
    os.replace(building, path)  # whole or not at all, should two runs build at once
    for stale in path.parent.glob(f"base-{cases * EVENTS_PER_CASE}-events-*.sqlite"):
        if stale != path:  # built for an older schema or seeder: never used again
            stale.unlink(missing_ok=True)
    say(f"  built the large base ({cases:,} cases) in {time.perf_counter() - start:.0f} s: {path}")
    return path


class Scenario:
    """The commands of one round on one base, each timed over its calls."""

    def __init__(self, engine: Any, first_app: int, sets: int) -> None:
        self.engine = engine
        self.first_app = first_app
        self.sets = sets
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def timed(self, label: str, fn: Callable[[], Any]) -> Any:
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            return fn()
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
            self.cpu[label] = self.cpu.get(label, 0.0) + time.process_time() - start_cpu

    def fire(self, label: str, case_id: str, step: lifecycle.Step) -> None:
        e = self.engine
        self.timed(
            label,
            lambda: e.fire(
                case_id, step.event, actor=step.actor, payload=step.payload, at=step.at,
                reason=step.reason,
            ),
        )  # fmt: skip

    def play(self) -> Iterator[None]:
        """Run every command, pausing (``yield``) after each group of calls, so that the
        same scenario on another base can run in lockstep (:func:`lockstep`)."""
        from appcase.workflow.asof import get_as_of
        from appcase.workflow.feed import feed
        from appcase.workflow.hotline import report_hotline
        from appcase.workflow.sweep import summarise, sweep
        from appcase.workflow.verify import replay_all, verify

        e, S = self.engine, lifecycle.Step
        flag = S("flag", "cs-cac", lifecycle.EVIDENCE, _local(2, 21))
        judge = S("judge", "cs-edu", lifecycle.judgment("interview_rectify"), _local(3, 12))
        interview = S("interview", "cs-cac", lifecycle.INTERVIEW, _local(3, 14, 11))
        pledge = S("pledge", "cs-cac", lifecycle.PLEDGE, _local(3, 14, 13))
        steps = {
            "add_evidence": S("add_evidence", "cs-cac", lifecycle.EVIDENCE, _local(2, 22)),
            "judge illegal": S("judge", "cs-edu", ILLEGAL, _local(3, 12)),
            "refer": S("refer", "cs-cac", {"authority": "长沙市公安局"}, _local(3, 13), "涉嫌违法"),
            "rectify": S("rectify", "cs-cac", lifecycle.RECTIFY, _local(3, 27)),
            "judge takedown": S("judge", "cs-edu", lifecycle.judgment("takedown"), _local(3, 12)),
            "escalate": lifecycle.ESCALATE,
            "take_down": S(
                "take_down", "prov", {"decision_no": "湘网信〔2018〕1号"}, _local(3, 15)
            ),
            "judge none": S(
                "judge", "cs-edu", {"findings": [], "disposition": "no_violation"}, _local(3, 12)
            ),
            "dismiss": S("dismiss", "cs-edu", {}, _local(3, 13)),
            "return_for_rectification": S(
                "return_for_rectification", "prov", {}, _local(4, 2), "已主动整改"
            ),
        }
        mine: list[dict[str, str]] = []
        for i in range(self.sets):
            ids = {}
            for role in "abcde":
                app = lifecycle.app(self.first_app + 5 * i + "abcde".index(role))
                view = self.timed(
                    "survey",
                    lambda app=app: e.survey(
                        app, actor=lifecycle.SURVEY_ACTOR, at=lifecycle.SURVEY_AT
                    ),
                )
                ids[role] = str(view.id)
            mine.append(ids)
            yield
        for ids in mine:
            a, b, c, d = ids["a"], ids["b"], ids["c"], ids["d"]
            for case_id in (a, b, c, d):
                self.fire("flag", case_id, flag)
            self.fire("add_evidence", a, steps["add_evidence"])
            self.fire("judge", a, steps["judge illegal"])
            self.fire("judge", b, judge)
            self.fire("judge", c, steps["judge takedown"])
            self.fire("judge", d, steps["judge none"])
            self.fire("refer", a, steps["refer"])
            for case_id in (a, b):
                self.fire("interview", case_id, interview)
                self.fire("pledge", case_id, pledge)
            self.fire("rectify", b, steps["rectify"])
            self.fire("escalate", c, steps["escalate"])
            self.fire("take_down", c, steps["take_down"])
            self.fire("dismiss", d, steps["dismiss"])
            evidence = {"harm_category": "vulgar_pornographic", "description": "低俗图片"}
            self.timed(
                "report hotline",
                lambda ids=ids, ev=evidence: report_hotline(
                    e, ids["e"], ev, actor="cs-cac", at=_local(3, 2)
                ),
            )
            yield
        at = lifecycle.SWEEP_AT
        swept = self.timed("sweep", lambda: summarise(at, sweep(e, at)).escalated)
        assert swept == self.sets, f"the sweep escalated {swept}, not {self.sets}"
        yield
        for ids in mine:
            self.fire("return_for_rectification", ids["a"], steps["return_for_rectification"])
        yield
        for ids in mine:
            a = ids["a"]
            self.timed("show", lambda a=a: e.get(a))
            self.timed("show --as-of", lambda a=a: get_as_of(e, a, _local(3, 13)))
            self.timed("history", lambda a=a: e.history(a))
            report = self.timed("audit verify CASE", lambda a=a: verify(e, a))
            assert report.ok, report.problems[:3]
            self.timed("audit replay --case", lambda a=a: replay_all(e, a))
            yield
        tail = self.tail_position()
        reads: dict[str, Callable[[], Any]] = {
            "feed (the last 100)": lambda: feed(e, tail, 100),
            "list --limit 20": lambda: e.list_cases(limit=20),
            "list --state taken_down --limit 20": lambda: e.list_cases(
                states=("taken_down",), limit=20
            ),
            "list --prefecture --state pledged": lambda: e.list_cases(
                prefectures=(lifecycle.PREFECTURE,), states=("pledged",)
            ),
            "list --overdue-at": lambda: e.list_cases(overdue_at=lifecycle.SWEEP_AT),
            "list --referred --limit 20": lambda: e.list_cases(
                judicial_states=("referred_to_judiciary",), limit=20
            ),
            "list --sort last-event --limit 5": lambda: e.list_cases(sort="last-event", limit=5),
        }
        for _ in range(self.sets):
            for label, read in reads.items():
                self.timed(label, read)
            yield

    def whole_campaign_reads(self) -> dict[str, float]:
        """The reads of :data:`INHERENT`, once each; return seconds per command label."""
        from appcase.workflow.reports import gather_summary

        e = self.engine
        name = lifecycle.app(self.first_app)["name"]
        self.timed("list --text", lambda: e.list_cases(text=name))
        self.timed("report summary", lambda: gather_summary(e))
        return self.seconds

    def tail_position(self) -> int:
        """A feed position 100 events before the newest."""
        from sqlalchemy import func, select

        with self.engine.storage.engine.connect() as conn:
            newest = conn.execute(select(func.max(seed.EVENTS.c.id))).scalar_one()
        return max(0, int(newest) - 100)


def lockstep(runs: list[Iterator[None]]) -> None:
    """Advance the generators one step each in turn, the first of a step alternating, until
    all are done: the same commands on both bases run close together in time, so that load
    from other users of the machine falls on both alike."""
    step = 0
    while runs:
        for run in list(runs if step % 2 == 0 else reversed(runs)):
            if next(run, StopIteration) is StopIteration:
                runs.remove(run)
        step += 1


def bench_flat(work: Path, size: Any, say: Callable[[str], None]) -> list[Row]:
    """Every command on a base of ``size.base_events`` events against an empty base."""
    big_src = large_base(size.base_events, say)
    big_path = seed.copy_db(big_src, work / "flat-large.sqlite")
    empty_path = work / "flat-empty.sqlite"
    for stale in (empty_path, Path(f"{empty_path}-wal"), Path(f"{empty_path}-shm")):
        stale.unlink(missing_ok=True)  # a kept --workdir holds the last run's
    empty = seed.new_engine(seed.sqlite_url(empty_path))
    seed.seed(empty, lifecycle.FULL_LIFECYCLE, EMPTY_CASES - 1)
    engines = {"large": seed.reopen(seed.sqlite_url(big_path)), "empty": empty}
    times: dict[str, dict[str, list[float]]] = {"large": {}, "empty": {}}
    cpu: dict[str, dict[str, list[float]]] = {"large": {}, "empty": {}}
    app_number = 50_000_000
    for r in range(-1, size.base_rounds):  # round -1 warms up (caches, the file's pages)
        order = ("large", "empty") if r % 2 == 0 else ("empty", "large")
        scenarios: dict[str, Scenario] = {}
        for which in order:
            app_number += 5 * size.base_sets
            scenarios[which] = Scenario(engines[which], app_number, size.base_sets)
        lockstep([scenarios[which].play() for which in order])
        for which, scenario in scenarios.items():
            if r >= 0:
                for label, seconds in scenario.seconds.items():
                    times[which].setdefault(label, []).append(seconds)
                    cpu[which].setdefault(label, []).append(scenario.cpu[label])
        say(f"  round {r + 1} of {size.base_rounds} done" if r >= 0 else "  warmed up")
    for which, engine in engines.items():  # whole-campaign reads: once (slow on a large base)
        scenario = Scenario(engine, 1, 1)
        for label, seconds in scenario.whole_campaign_reads().items():
            times[which][label] = [seconds]
            cpu[which][label] = [scenario.cpu[label]]
    for engine in engines.values():
        engine.close()
    events = size.base_events // EVENTS_PER_CASE * EVENTS_PER_CASE
    rows: list[Row] = []
    calls = _calls(size.base_sets)
    for label, large in times["large"].items():
        small = times["empty"][label]
        per = calls.get(label, 1)
        ratios = [x / y for x, y in zip(large, small, strict=True)]  # round by round
        inherent = INHERENT.get(label)
        row = Row(
            "9",
            f"{label} on {events:,} events",
            "ms/call",
            [x / per * 1000 for x in large],
            "the same on an empty base",
            ratios,
            f"none: {inherent}" if inherent else f"ratio ≤ {GOAL}",
            cpu_ratios=[
                x / y for x, y in zip(cpu["large"][label], cpu["empty"][label], strict=True)
            ],
            note=(
                f"empty base: {statistics.median(small) / per * 1000:.3g} ms/call; "
                f"{per} call(s) a round"
            ),
        )
        if not inherent:
            row.met = row.ratio is not None and row.ratio <= GOAL
        rows.append(row)
    met = [r for r in rows if r.met is not None]
    rows.insert(
        0,
        Row(
            "9",
            f"every command: {events:,}-event base vs empty base ({len(met)} commands), worst",
            "× (ratio)",
            [max((r.ratio or 0.0) for r in met)] if met else [],
            goal=f"ratio ≤ {GOAL} for every command",
            met=all(r.met for r in met),
            note=(
                f"{size.base_rounds} rounds (after one warm-up), each playing the scenario of "
                f"benchmarks/flat.py on {size.base_sets} new set(s) of five cases per base, "
                "in lockstep; worst wall-time ratios: "
                + ", ".join(
                    f"{r.what.split(' on ')[0]} {r.ratio:.2f}"
                    for r in sorted(met, key=lambda r: -(r.ratio or 0))[:3]
                )
                + "; worst CPU-time ratios: "
                + ", ".join(
                    f"{r.what.split(' on ')[0]} {statistics.median(r.cpu_ratios):.2f}"
                    for r in sorted(met, key=lambda r: -statistics.median(r.cpu_ratios or [0]))[:3]
                )
                + ". Library calls (what each command of the command line runs), SQLite."
            ),
        ),
    )
    return rows


def _calls(sets: int) -> dict[str, int]:
    """How many calls of each command a round makes (per base)."""
    per_set = {
        "survey": 5,
        "flag": 4,
        "judge": 4,
        "interview": 2,
        "pledge": 2,
    }
    calls = {label: n * sets for label, n in per_set.items()}
    calls["sweep"] = 1
    calls["list --text"] = 1
    calls["report summary"] = 1
    for label in (
        "add_evidence", "refer", "rectify", "escalate", "take_down", "dismiss",
        "report hotline", "return_for_rectification", "show", "show --as-of", "history",
        "audit verify CASE", "audit replay --case", "feed (the last 100)", "list --limit 20",
        "list --state taken_down --limit 20", "list --prefecture --state pledged",
        "list --overdue-at", "list --referred --limit 20", "list --sort last-event --limit 5",
    ):  # fmt: skip
        calls[label] = sets
    return calls
