"""The demo: the whole Hunan 2018 campaign, played on a simulated clock.

A deterministic, seeded discrete-event simulation: every officer's act is scheduled at an
instant between 2018-02-13 and 2018-04-05 (Asia/Shanghai), the clock is moved to it, and
the act goes through the same :class:`~appcase.CaseEngine` API an operator uses, so every
guard applies. The apps come from the bundled fictional ledger
(``appcase/data/hunan-2018-ledger.csv``).

The demo is written on appcase's public API alone (the names of ``appcase.__all__``), as an
integrator's program would be: it plays the campaign and returns its counts as data
(:class:`DemoResult`); printing them is the command line's business.
"""

from __future__ import annotations

import csv
import heapq
import io
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from appcase import (
    CaseEngine,
    Disposition,
    EscalationGround,
    Event,
    FixedClock,
    GuardRejected,
    JudicialState,
    Severity,
    State,
    grant_override,
    init_database,
    sweep,
    verify,
)

__all__ = [
    "DemoResult",
    "PrefectureCounts",
    "default_demo_path",
    "load_ledger",
    "run_demo",
]

ADMIN_STATES = [s.value for s in State if s is not State.NEW]
CATEGORIES = [
    "distorting_history",
    "vulgar_pornographic",
    "inciting_violence",
    "inciting_social_conflict",
    "other",
]
DESCRIPTIONS = {
    "distorting_history": "课外阅读栏目发布歪曲历史人物的文章",
    "vulgar_pornographic": "学习社区中出现低俗色情图片和链接",
    "inciting_violence": "视频板块含有教唆暴力的内容",
    "inciting_social_conflict": "评论区出现煽动社会矛盾的帖子",
    "other": "推送与学习无关的网络游戏广告",
}
SWEEPS = [(3, 20), (3, 25), (4, 1)]
"""Dates (2018, at local midnight) on which the deadline sweep runs."""


def default_demo_path() -> Path:
    """``demo.sqlite`` in the platform's user data directory."""
    from platformdirs import user_data_path

    return user_data_path("appcase", appauthor=False) / "demo.sqlite"


def load_ledger() -> list[dict[str, Any]]:
    """The bundled fictional ledger: one mapping per app (AppIdentity fields)."""
    text = resources.files("appcase.data").joinpath("hunan-2018-ledger.csv").read_text("utf-8")
    apps = []
    for row in csv.DictReader(io.StringIO(text)):
        apps.append(
            {
                "name": row["app_name"],
                "operator": row["operator"],
                "uscc": row["uscc"],
                "icp_filing": row["icp_filing"] or None,
                "platforms": [p for p in row["platforms"].split(";") if p],
                "target_users": row["target_users"],
                "used_by_schools": row["used_by_schools"] == "true",
                "prefecture": row["prefecture"],
            }
        )
    return apps


class PrefectureCounts(BaseModel):
    """Final counts of one prefecture (or the province)."""

    code: str
    name: str
    cases: int
    states: dict[str, int]
    referred: int
    overdue: int
    overrides: int


class DemoResult(BaseModel):
    """What the demo did.

    Attributes:
        database: the SQLite file written.
        prefectures / province: final counts by state, referrals, overdue escalations
            (by the sweep) and overrides.
        reached: for each state of both tracks, how many cases were ever in it.
        refused: commands the guards refused (the demo tries a few wrong ones on purpose).
        events: events written; audit_ok: whether ``audit verify`` passed.
        example_case: a case that was both escalated for takedown and referred.
    """

    database: str
    prefectures: list[PrefectureCounts]
    province: PrefectureCounts
    reached: dict[str, int]
    refused: list[str]
    events: int
    audit_ok: bool
    audit_problems: int
    example_case: str | None = None


@dataclass(order=True)
class _Step:
    at: datetime
    order: int
    case_id: str
    action: str


class _Simulation:
    def __init__(self, engine: CaseEngine, clock: FixedClock, rng: random.Random) -> None:
        self.engine, self.clock, self.rng = engine, clock, rng
        self.zone = engine.campaign.zone
        self.queue: list[_Step] = []
        self.order = 0
        self.refused: list[str] = []
        self.meta: dict[str, dict[str, Any]] = {}

    # scheduling --------------------------------------------------------------------
    def local(self, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
        return datetime(2018, month, day, hour, minute, tzinfo=self.zone)

    def later(self, start: datetime, lo_days: int, hi_days: int) -> datetime:
        day = (start + timedelta(days=self.rng.randint(lo_days, hi_days))).date()
        at = datetime.combine(
            day, time(self.rng.randint(9, 16), self.rng.choice((0, 15, 30, 45))), self.zone
        )
        return max(at, start + timedelta(hours=1))

    def schedule(self, at: datetime, case_id: str, action: str) -> None:
        self.order += 1
        heapq.heappush(self.queue, _Step(at, self.order, case_id, action))

    def run(self) -> None:
        while self.queue:
            step = heapq.heappop(self.queue)
            self.clock.set(step.at)
            getattr(self, f"do_{step.action}")(step)

    def attempt(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except GuardRejected as exc:
            self.refused.append(f"{what}: " + "; ".join(r.message for r in exc.rejections))
            return None

    # actors ------------------------------------------------------------------------
    @staticmethod
    def cac(prefecture: str) -> str:
        return f"{prefecture}-cac"

    @staticmethod
    def edu(prefecture: str) -> str:
        return f"{prefecture}-edu"

    # steps -------------------------------------------------------------------------
    def do_survey(self, step: _Step) -> None:
        app = self.meta[step.case_id]["app"]
        actor = (
            self.cac(app["prefecture"]) if self.rng.random() < 0.6 else self.edu(app["prefecture"])
        )
        view = self.engine.survey(app, actor=actor, at=step.at)
        self.meta[view.id] = self.meta.pop(step.case_id) | {"prefecture": app["prefecture"]}
        roll = self.rng.random()
        if roll < 0.45:
            when = self.later(step.at, 1, 12)
            if when.date() > date(2018, 3, 10):
                when = self.local(3, 10, 15)
            self.schedule(when, view.id, "flag")
        elif roll < 0.48:
            # a hotline report that arrives after the patrol window: needs an override
            self.schedule(self.local(3, self.rng.randint(12, 16), 10), view.id, "late_flag")

    def _evidence(self, source: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for category in self.rng.sample(CATEGORIES, self.rng.choice((1, 1, 1, 2, 3))):
            items.append(
                {
                    "harm_category": category,
                    "description": DESCRIPTIONS[category],
                    "source": source,
                    "locator": f"app://screen/{self.rng.randint(100, 999)}",
                }
            )
            if source == "hotline":  # fictional reporters; kept apart, never printed
                items[-1]["reporter"] = {
                    "name": f"举报人{self.rng.randint(1000, 9999)}",
                    "contact": f"1380000{self.rng.randint(1000, 9999)}",
                }
        return items

    def do_flag(self, step: _Step) -> None:
        pref = self.meta[step.case_id]["prefecture"]
        source = "hotline" if self.rng.random() < 0.3 else "patrol"
        self.engine.fire(
            step.case_id,
            Event.FLAG,
            actor=self.cac(pref),
            at=step.at,
            payload={"evidence": self._evidence(source)},
        )
        self.after_flag(step)

    def do_late_flag(self, step: _Step) -> None:
        pref = self.meta[step.case_id]["prefecture"]
        self.engine.fire(
            step.case_id,
            Event.FLAG,
            actor=self.cac(pref),
            at=step.at,
            payload={"evidence": self._evidence("hotline")},
            override={"reason": "群众举报在巡查期结束后收到，经批准补充立案"},
        )
        self.after_flag(step)

    def after_flag(self, step: _Step) -> None:
        if self.rng.random() < 0.06:
            return  # never judged: the sweep reports it
        when = self.later(step.at, 2, 8)
        if when.date() > date(2018, 3, 31):
            when = self.local(3, 31, 16)
        self.schedule(when, step.case_id, "judge")

    def do_judge(self, step: _Step) -> None:
        cid = step.case_id
        pref = self.meta[cid]["prefecture"]
        evidence = [e for e in self.engine.history(cid) if e.event == "flag"][-1].payload[
            "evidence"
        ]
        findings, number = (
            [],
            len(
                [
                    i
                    for e in self.engine.history(cid)
                    if e.event == "flag"
                    for i in e.payload["evidence"]
                ]
            )
            - len(evidence),
        )
        for item in evidence:
            number += 1
            severity = self.rng.choices(list(Severity), weights=(35, 50, 15))[0]
            findings.append(
                {
                    "harm_category": item["harm_category"],
                    "severity": severity.value,
                    "evidence_refs": [number],
                    "suspected_illegal": self.rng.random() < 0.07,
                }
            )
        lacking = self.rng.random() < 0.05
        no_violation = self.rng.random() < 0.1
        if no_violation:
            findings, lacking = [], False
        result = self.engine.explain_judgment(
            cid, {"findings": findings, "seriously_lacking_responsibility": lacking}
        )
        chosen, reason = result.minimum, None
        if chosen is Disposition.INTERVIEW_RECTIFY and self.rng.random() < 0.08:
            chosen, reason = Disposition.TAKEDOWN, "用户以小学生为主，情节恶劣，从严处置"
        self.engine.fire(
            cid,
            Event.JUDGE,
            actor=self.edu(pref),
            at=step.at,
            reason=reason,
            payload={
                "findings": findings,
                "disposition": chosen.value,
                "seriously_lacking_responsibility": lacking,
            },
        )
        if result.refer:
            self.schedule(self.later(step.at, 1, 3), cid, "refer")
        if chosen is Disposition.NO_VIOLATION:
            self.schedule(self.later(step.at, 0, 2), cid, "dismiss")
        elif chosen is Disposition.TAKEDOWN:
            self.schedule(self.later(step.at, 1, 3), cid, "escalate_takedown")
        elif step.at.date() < date(2018, 3, 27):
            self.schedule(self.later(step.at, 2, 4), cid, "interview")
        # else: judged too late to interview within the campaign; stays judged

    def do_dismiss(self, step: _Step) -> None:
        pref = self.meta[step.case_id]["prefecture"]
        self.engine.fire(step.case_id, Event.DISMISS, actor=self.edu(pref), at=step.at)

    def do_refer(self, step: _Step) -> None:
        pref = self.meta[step.case_id]["prefecture"]
        self.engine.fire(
            step.case_id,
            Event.REFER,
            actor=self.cac(pref),
            at=step.at,
            reason="研判发现涉嫌违法信息，移送公安机关依法处置",
            payload={"authority": "公安机关网安部门"},
        )

    def do_escalate_takedown(self, step: _Step) -> None:
        pref = self.meta[step.case_id]["prefecture"]
        self.engine.fire(
            step.case_id,
            Event.ESCALATE,
            actor=self.cac(pref),
            at=step.at,
            reason="研判建议关停下架",
            payload={"ground": EscalationGround.TAKEDOWN_DISPOSITION.value},
        )
        self.schedule(self.later(step.at, 1, 4), step.case_id, "province_decides")

    def do_interview(self, step: _Step) -> None:
        cid = step.case_id
        pref = self.meta[cid]["prefecture"]
        held = step.at
        deadline = min(held.date() + timedelta(days=self.rng.randint(7, 12)), date(2018, 3, 31))
        self.engine.fire(
            cid,
            Event.INTERVIEW,
            actor=self.cac(pref),
            at=held,
            payload={
                "notice_given_at": (held - timedelta(days=2)).isoformat(),
                "held_at": held.isoformat(),
                "place": "市网信办约谈室",
                "officers": ["网信办 刘洋", "教育局 陈静"],
                "operator_representatives": ["运营方负责人"],
                "problems": ["传播不良信息", "内容审核制度不健全"],
                "rectification_deadline": deadline.isoformat(),
            },
        )
        self.meta[cid]["deadline"] = deadline
        if self.rng.random() < 0.08:
            self.schedule(self.later(held, 1, 2), cid, "escalate_refused")
        elif self.rng.random() < 0.06:
            return  # the operator asks for time; still unsigned when the campaign ends
        else:
            self.schedule(held + timedelta(hours=2), cid, "pledge")

    def do_pledge(self, step: _Step) -> None:
        cid = step.case_id
        pref = self.meta[cid]["prefecture"]
        deadline: date = self.meta[cid]["deadline"]
        self.engine.fire(
            cid,
            Event.PLEDGE,
            actor=self.cac(pref),
            at=step.at,
            payload={
                "signed_by": "运营方法定代表人",
                "signed_at": step.at.isoformat(),
                "commitments": ["立即清理违法违规和不良信息", "完善内容审核、应急值班等基本制度"],
                "deadline": deadline.isoformat(),
            },
        )
        roll = self.rng.random()
        start = datetime.combine(deadline, time(10), self.zone)
        if roll < 0.72:
            days = (deadline - step.at.date()).days
            self.schedule(
                self.later(start - timedelta(days=days), max(1, days // 2), max(1, days)),
                cid,
                "rectify",
            )
        elif roll < 0.84:
            self.schedule(start, cid, "escalate_failed")
        # else: the deadline passes in silence; the sweep escalates

    def do_rectify(self, step: _Step) -> None:
        pref = self.meta[step.case_id]["prefecture"]
        self.attempt(
            f"rectify {step.case_id}",
            lambda: self.engine.fire(
                step.case_id,
                Event.RECTIFY,
                actor=self.cac(pref),
                at=step.at,
                payload={
                    "checks": [
                        {"commitment": "1", "verified": True, "note": "复查确认"},
                        {"commitment": "2", "verified": True, "note": "制度已上墙"},
                    ]
                },
            ),
        )

    def do_escalate_failed(self, step: _Step) -> None:
        self._escalate(step, EscalationGround.RECTIFICATION_FAILED, "复查发现整改不到位")

    def do_escalate_refused(self, step: _Step) -> None:
        self._escalate(step, EscalationGround.PLEDGE_REFUSED, "运营方拒绝签订整改承诺书")

    def _escalate(self, step: _Step, ground: EscalationGround, reason: str) -> None:
        pref = self.meta[step.case_id]["prefecture"]
        done = self.attempt(
            f"escalate {step.case_id}",
            lambda: self.engine.fire(
                step.case_id,
                Event.ESCALATE,
                actor=self.cac(pref),
                at=step.at,
                reason=reason,
                payload={"ground": ground.value},
            ),
        )
        if done:
            self.schedule(self.later(step.at, 1, 4), step.case_id, "province_decides")

    def do_sweep(self, step: _Step) -> None:
        for outcome in sweep(self.engine, step.at):
            if outcome.status == "escalated":
                self.schedule(self.later(step.at, 1, 3), outcome.case_id, "province_decides")

    def do_province_decides(self, step: _Step) -> None:
        cid = step.case_id
        if self.rng.random() < 0.1:
            return  # still under review at the province when the campaign ends
        if step.at.date() <= date(2018, 3, 24) and self.rng.random() < 0.2:
            self.engine.fire(
                cid,
                Event.RETURN_FOR_RECTIFICATION,
                actor="hn-cac",
                at=step.at,
                reason="运营方已主动下线问题栏目，退回限期整改",
            )
            self.meta[cid]["deadline"] = min(step.at.date() + timedelta(days=6), date(2018, 3, 31))
            self.schedule(step.at + timedelta(days=1), cid, "pledge")
            return
        at = step.at if step.at.date() <= date(2018, 4, 5) else self.local(4, 5, 16)
        self.engine.fire(
            cid,
            Event.TAKE_DOWN,
            actor="hn-cac",
            at=at,
            payload={
                "decision_no": f"湘网信函〔2018〕{self.rng.randint(10, 99)}号",
                "measure": self.rng.choice(["takedown", "takedown_and_shutdown"]),
            },
            reason="依据研判意见和地市建议，决定下架并关停服务",
        )

    def do_late_judge(self, step: _Step) -> None:
        """A judgment after the phase closed, authorised by the province (an override)."""
        cid = step.case_id
        pref = self.meta[cid]["prefecture"]
        self.engine.fire(
            cid,
            Event.JUDGE,
            actor=self.edu(pref),
            at=step.at,
            payload={
                "findings": [{"harm_category": "other", "severity": "minor"}],
                "disposition": "interview_rectify",
            },
            override_grant=grant_override(
                self.engine,
                by="hn-cac",
                event=Event.JUDGE,
                reason="逾期研判，经省网信办批准",
                case_id=cid,
            ).id,
        )

    def do_wrong(self, step: _Step) -> None:
        """Commands an operator might get wrong; the guards refuse them, nothing is written."""
        cid = step.case_id
        pref = self.meta[cid]["prefecture"]
        other = next(p.code for p in self.engine.campaign.prefectures if p.code != pref)
        self.attempt(
            f"judge {cid} by another prefecture's bureau",
            lambda: self.engine.fire(
                cid,
                Event.JUDGE,
                actor=self.edu(other),
                at=step.at,
                payload={
                    "findings": [{"harm_category": "other", "severity": "minor"}],
                    "disposition": "no_violation",
                },
            ),
        )
        self.attempt(
            f"take down {cid} without escalation",
            lambda: self.engine.fire(cid, Event.TAKE_DOWN, actor="hn-cac", at=step.at, payload={}),
        )


def run_demo(path: Path, *, seed: int = 2018) -> DemoResult:
    """Play the campaign into a fresh SQLite file at ``path`` (replacing it).

    Args:
        path: the SQLite file to write.
        seed: the simulation's random seed (same seed, same campaign, same hashes aside
            from the recorded-at instants, which follow the simulated clock too).

    Returns:
        The :class:`DemoResult`.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    zone_start = datetime(2018, 2, 13, 8, 30, tzinfo=_zone())
    clock = FixedClock(zone_start)
    engine = init_database(f"sqlite:///{path}", "hunan-2018", clock)
    campaign = engine.campaign
    engine.add_actor("hn-admin", role="administrator", name="湖南省网信办系统管理员")
    for p in campaign.prefectures:
        engine.add_actor(
            f"{p.code}-cac",
            role="cac_prefecture",
            jurisdiction=p.code,
            name=f"{p.name_zh}网信办",
            by="hn-admin",
        )
        engine.add_actor(
            f"{p.code}-edu",
            role="edu_prefecture",
            jurisdiction=p.code,
            name=f"{p.name_zh}教育局",
            by="hn-admin",
        )
    engine.add_actor(
        "hn-cac",
        role="cac_province",
        jurisdiction=campaign.province.code,
        name="湖南省网信办",
        by="hn-admin",
    )

    sim = _Simulation(engine, clock, rng)
    for i, app in enumerate(load_ledger()):
        key = f"app-{i}"
        sim.meta[key] = {"app": app}
        when = sim.later(zone_start, 0, 23)
        sim.schedule(when, key, "survey")
    for month, day in SWEEPS:
        sim.schedule(datetime(2018, month, day, tzinfo=sim.zone), "-", "sweep")
    sim.run()

    # a few acts after the campaign's phases closed, and a few wrong commands
    flagged = engine.list_cases(states=(State.FLAGGED.value,))
    if flagged:
        clock.set(sim.local(4, 2, 10))
        sim.meta.setdefault(flagged[0].id, {"prefecture": flagged[0].prefecture})
        sim.do_late_judge(_Step(sim.local(4, 2, 10), 0, flagged[0].id, "late_judge"))
    surveyed = engine.list_cases(states=(State.JUDGED.value,), limit=1) or engine.list_cases(
        limit=1
    )
    clock.set(sim.local(4, 3, 10))
    sim.meta.setdefault(surveyed[0].id, {"prefecture": surveyed[0].prefecture})
    sim.do_wrong(_Step(sim.local(4, 3, 10), 0, surveyed[0].id, "wrong"))
    clock.set(sim.local(4, 5, 18))
    for _outcome in sweep(engine, sim.local(4, 5, 18)):
        pass  # the last sweep, after the campaign: its escalations are in the counts
    return _result(engine, path, sim.refused)


def _zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def _result(engine: CaseEngine, path: Path, refused: list[str]) -> DemoResult:
    campaign = engine.campaign
    states: Counter[tuple[str, str]] = Counter()
    referred: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    overrides: Counter[str] = Counter()
    reached: Counter[str] = Counter()
    events = 0
    example: str | None = None
    for case in engine.list_cases():  # ordered by id
        events += case.event_count
        states[(case.prefecture, case.state)] += 1
        is_referred = case.judicial_state == JudicialState.REFERRED_TO_JUDICIARY.value
        referred[case.prefecture] += is_referred
        history = engine.history(case.id)
        for to_state in {e.to_state for e in history}:
            reached[to_state] += 1
        escalations = [e for e in history if e.event == Event.ESCALATE.value]
        overdue[case.prefecture] += sum(e.actor == "system" for e in escalations)
        overrides[case.prefecture] += sum(e.override is not None for e in history)
        if example is None and is_referred and escalations:
            example = case.id

    def counts(code: str, name: str, codes: list[str]) -> PrefectureCounts:
        by_state = {st: sum(states[(c, st)] for c in codes) for st in ADMIN_STATES}
        return PrefectureCounts(
            code=code,
            name=name,
            cases=sum(by_state.values()),
            states=by_state,
            referred=sum(referred[c] for c in codes),
            overdue=sum(overdue[c] for c in codes),
            overrides=sum(overrides[c] for c in codes),
        )

    prefectures = [counts(p.code, p.name_zh, [p.code]) for p in campaign.prefectures]
    province = counts(
        campaign.province.code, campaign.province.name_zh, [p.code for p in campaign.prefectures]
    )
    report = verify(engine)
    all_states = ADMIN_STATES + [s.value for s in JudicialState]
    reached_all = {st: reached.get(st, 0) for st in all_states}
    reached_all[JudicialState.NOT_REFERRED.value] = province.cases  # every case starts there
    return DemoResult(
        database=str(path),
        prefectures=prefectures,
        province=province,
        reached=reached_all,
        refused=refused,
        events=events,
        audit_ok=report.ok,
        audit_problems=len(report.problems),
        example_case=example,
    )
