"""A campaign played by random operators against a real SQLite file.

A hypothesis ``RuleBasedStateMachine`` surveys apps and fires random commands -- any event,
by any actor (wrong roles, wrong prefectures and ``system`` included), with payloads that are
mostly valid and sometimes not, sometimes with an override -- and runs the deadline sweep,
while a clock moves forward by random steps. After every step it checks:

* each case's stored states equal a replay of its events, and its hash chain verifies;
* no case was rectified without a pledge just before, none taken down without an escalation;
* no event happened outside its phase window without an override that waived the window;
* no judgment is milder than the policy's minimum without an override that waived it;
* a refused command changed nothing (every table is compared before and after);
* a second sweep at the same instant changes nothing.

The ``ci`` profile runs a few short campaigns; ``APPCASE_HYPOTHESIS_PROFILE=thorough`` many
long ones.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event as note
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from sqlalchemy import select

from appcase.bootstrap import init_database, open_engine
from appcase.clock import FixedClock
from appcase.errors import AppcaseError
from appcase.persistence.models import PledgeRow
from appcase.policies import deadlines
from appcase.ports import CaseFilter
from appcase.states import Disposition, EscalationGround, Event, State
from appcase.workflow.sweep import OVERDUE_REASON, sweep
from appcase.workflow.table import spec_for
from appcase.workflow.verify import replay, verify_events
from tests.builders import SHANGHAI, USCC, unique_app
from tests.dbcheck import orm
from tests.strategies import HUNAN, disposition_rank, harm_categories, severities, zones

ACTORS: dict[str, tuple[str, str]] = {
    "cs-cac": ("cac_prefecture", "430100"),
    "cs-edu": ("edu_prefecture", "430100"),
    "zz-cac": ("cac_prefecture", "430200"),
    "zz-edu": ("edu_prefecture", "430200"),
    "prov": ("cac_province", "430000"),
}
ALL_ACTORS = [*ACTORS, "system"]
CAP = deadlines.rectification_deadline_cap(HUNAN)
START = datetime(2018, 2, 13, 8, 0, tzinfo=SHANGHAI)

PROFILE = os.environ.get("APPCASE_HYPOTHESIS_PROFILE", "ci")
MACHINE_SETTINGS = {
    "ci": settings(max_examples=15, stateful_step_count=40),
    "dev": settings(max_examples=4, stateful_step_count=20),
    "thorough": settings(max_examples=400, stateful_step_count=80),
}


@functools.cache
def _template() -> Path:
    """A migrated SQLite file with Hunan 2018 and :data:`ACTORS`, made once per process and
    copied for every run (migrating a fresh file per run would dominate the test's time)."""
    directory = tempfile.mkdtemp(prefix="appcase-machine-template-")
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / "template.sqlite"
    engine = init_database(f"sqlite:///{path}", "hunan-2018", FixedClock(START))
    try:
        for actor_id, (role, code) in ACTORS.items():
            engine.add_actor(actor_id, role=role, jurisdiction=code)
    finally:
        engine.close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def dump(path: Path) -> dict[str, list[str]]:
    """Every row of every table of a SQLite file, sorted (committed data only)."""
    with closing(sqlite3.connect(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{n}"')) for n in names}


def mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int = 4) -> Any:
    """``usual`` ``odds`` times as often as ``rare`` (before shrinking)."""
    return st.integers(0, odds).flatmap(lambda i: rare if i == odds else usual)


def _fitting(state: str, judicial_state: str) -> list[Event]:
    """Events with a transition out of the case's current states (guards aside)."""
    fitting = [
        e
        for e in Event
        if e is not Event.SURVEY
        and str(judicial_state if spec_for(e).track.value == "judicial" else state)
        in spec_for(e).sources
    ]
    return fitting or [Event.FLAG]


def right_actor(event: Event, prefecture: str) -> str:
    """An officer whose role may fire ``event`` on a case of ``prefecture``."""
    prefix = "cs" if prefecture == "430100" else "zz"
    if event in (Event.TAKE_DOWN, Event.RETURN_FOR_RECTIFICATION):
        return "prov"
    if event in (Event.JUDGE, Event.DISMISS):
        return f"{prefix}-edu"
    return f"{prefix}-cac"


class CampaignMachine(RuleBasedStateMachine):
    """Random operators on one campaign database."""

    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="appcase-machine-"))
        self.path = self.dir / "cases.sqlite"
        shutil.copyfile(_template(), self.path)
        self.clock = FixedClock(START)
        self.engine = open_engine(f"sqlite:///{self.path}", "hunan-2018", self.clock)
        self.apps: list[dict[str, Any]] = []
        self.snapshot: dict[str, list[str]] | None = None  # every table, while unchanged

    def teardown(self) -> None:
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------
    def _at(self, data: st.DataObject, careful: bool = False) -> datetime:
        """Now, or (carelessly) a little earlier; written in any zone."""
        back = timedelta(0)
        if not careful:
            earlier = st.timedeltas(timedelta(0), timedelta(hours=3))
            back = data.draw(mostly(st.just(timedelta(0)), earlier), label="back")
        return (self.clock.now() - back).astimezone(data.draw(zones, label="written in"))

    def _refused_changes_nothing(self, what: str, command: Any) -> Any:
        """Run ``command``; if it raises an appcase error, check nothing was written."""
        if self.snapshot is None:
            self.snapshot = dump(self.path)
        try:
            result = command()
        except AppcaseError as exc:
            codes = sorted({r.code for r in getattr(exc, "rejections", [])})
            note(f"refused {what}: {', '.join(codes) or type(exc).__name__}")
            assert dump(self.path) == self.snapshot, "a refused command changed the database"
            return None
        self.snapshot = None
        note(f"done: {what}")
        return result

    # --- rules -----------------------------------------------------------------------------
    @initialize(target=cases, prefecture=st.sampled_from(["430100", "430200"]))
    def first_case(self, prefecture: str) -> str:
        app = unique_app(len(self.apps), prefecture)
        self.apps.append(app)
        actor = right_actor(Event.SURVEY, prefecture)
        return self.engine.survey(app, actor=actor, at=self.clock.now()).id

    @rule(
        step=st.one_of(
            st.timedeltas(timedelta(0), timedelta(hours=8)),
            st.timedeltas(timedelta(0), timedelta(days=4)),
            st.timedeltas(timedelta(0), timedelta(days=20)),
        )
    )
    def advance_clock(self, step: timedelta) -> None:
        self.clock.set(self.clock.now() + step)

    @precondition(lambda self: len(self.apps) < 4)
    @rule(target=cases, data=st.data())
    def survey(self, data: st.DataObject) -> Any:
        kind = data.draw(st.sampled_from(["new", "new", "new", "same_operator", "again"]))
        prefecture = data.draw(st.sampled_from(["430100", "430200"]), label="prefecture")
        if kind == "again" and self.apps:
            app = data.draw(st.sampled_from(self.apps), label="app again")
        else:
            app = unique_app(len(self.apps), prefecture)
            if kind == "same_operator":
                app["uscc"] = USCC[0]
            app["used_by_schools"] = data.draw(st.booleans(), label="schools")
        actor = data.draw(
            mostly(st.just(right_actor(Event.SURVEY, prefecture)), st.sampled_from(ALL_ACTORS), 2),
            label="actor",
        )
        at = self._at(data)
        view = self._refused_changes_nothing(
            "survey", lambda: self.engine.survey(app, actor=actor, at=at)
        )
        if view is None:
            return multiple()
        self.apps.append(app)
        return view.id

    @rule(case_id=cases, data=st.data())
    def fire(self, case_id: str, data: st.DataObject) -> None:
        """A careless operator: any event, any actor, payloads valid or not."""
        case = self.engine.get(case_id)
        fitting = _fitting(case.state, case.judicial_state)
        anything = st.sampled_from([e for e in Event if e is not Event.SURVEY])
        event = data.draw(mostly(st.sampled_from(fitting), anything, 1), label="event")
        actor = data.draw(
            mostly(st.just(right_actor(event, case.prefecture)), st.sampled_from(ALL_ACTORS), 1),
            label="actor",
        )
        at = self._at(data)
        payload = self._payload(data, event, case_id, at, careful=False)
        reason = data.draw(st.sampled_from([None, "", "依据实施方案处置"]), label="reason")
        override = data.draw(
            mostly(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "reason": st.sampled_from(["逾期办理，经批准", " "]),
                        "authorised_by": st.sampled_from([None, *ALL_ACTORS]),
                    }
                ),
                2,
            ),
            label="override",
        )
        self._fire(case_id, event, actor, payload, at, reason, override)

    @rule(case_id=cases, data=st.data())
    def proceed(self, case_id: str, data: st.DataObject) -> None:
        """A diligent operator: an event that fits the case's state, by the right officer,
        with a complete payload, and an override by the province when a window has closed."""
        for _ in range(data.draw(st.integers(1, 4), label="steps")):
            case = self.engine.get(case_id)
            fitting = _fitting(case.state, case.judicial_state)
            event = data.draw(st.sampled_from(fitting), label="event")
            at = self._at(data, careful=True)
            payload = self._payload(data, event, case_id, at, careful=True)
            override = None
            closed = not deadlines.window_open(HUNAN, event, at)
            if closed and data.draw(st.booleans(), label="override"):
                override = {"reason": "逾期办理，经省网信办批准", "authorised_by": "prov"}
            actor = right_actor(event, case.prefecture)
            self._fire(case_id, event, actor, payload, at, "依据实施方案处置", override)

    def _fire(
        self,
        case_id: str,
        event: Event,
        actor: str,
        payload: dict[str, Any],
        at: datetime,
        reason: str | None,
        override: dict[str, Any] | None,
    ) -> None:
        self._refused_changes_nothing(
            event.value,
            lambda: self.engine.fire(
                case_id,
                event,
                actor=actor,
                payload=payload,
                at=at,
                reason=reason,
                override=override,
            ),
        )

    def _payload(
        self,
        data: st.DataObject,
        event: Event,
        case_id: str,
        at: datetime,
        *,
        careful: bool,
    ) -> dict[str, Any]:
        """A payload for ``event``: complete when ``careful``, else complete or not."""
        history = self.engine.history(case_id)
        if not careful and data.draw(st.integers(0, 9), label="garbage?") == 0:
            return {"bogus": 1}
        local_day = at.astimezone(SHANGHAI).date()
        good_dates = st.integers(0, 20).map(lambda k: min(local_day + timedelta(days=k), CAP))
        bad_dates = st.sampled_from([local_day - timedelta(days=1), CAP + timedelta(days=1)])
        dates = (
            st.one_of(st.none(), good_dates)
            if careful
            else st.one_of(st.none(), good_dates, bad_dates)
        )
        categories = (
            harm_categories() if careful else mostly(harm_categories(), st.just("gambling"))
        )
        if event in (Event.FLAG, Event.ADD_EVIDENCE):
            item = st.fixed_dictionaries(
                {"harm_category": categories, "description": st.just("低俗图片")}
            )
            items = st.lists(item, min_size=1 if careful else 0, max_size=2)
            return {"evidence": data.draw(items, label="evidence")}
        if event is Event.JUDGE:
            count = sum(len(e.payload.get("evidence", [])) for e in history)
            refs = st.lists(st.integers(1, count if careful else count + 1), min_size=1, max_size=2)
            finding = st.fixed_dictionaries(
                {
                    "harm_category": categories,
                    "severity": mostly(
                        st.sampled_from(["minor", "serious"]), severities.map(str), 2
                    ),
                    "evidence_refs": refs,
                    "suspected_illegal": mostly(st.just(False), st.just(True)),
                }
            )
            findings = data.draw(st.lists(finding, max_size=3), label="findings")
            lacking = data.draw(mostly(st.just(False), st.just(True)), label="lacking")
            body: dict[str, Any] = {
                "findings": findings,
                "seriously_lacking_responsibility": lacking,
            }
            minimum = self.engine.explain_judgment(case_id, body, at).minimum
            chosen = data.draw(
                mostly(st.just(minimum), st.sampled_from(list(Disposition))), label="disposition"
            )
            return {**body, "disposition": chosen.value}
        if event is Event.INTERVIEW:
            held = at
            if not careful:
                held -= data.draw(st.timedeltas(timedelta(0), timedelta(hours=2)), label="held")
            officers = [["张伟", "李娜"]] if careful else [["张伟", "李娜"], ["张伟"]]
            return {
                "notice_given_at": (held - timedelta(days=2)).isoformat(),
                "held_at": held.isoformat(),
                "place": "市网信办约谈室",
                "officers": data.draw(st.sampled_from(officers), label="officers"),
                "problems": ["传播低俗信息"],
                "rectification_deadline": _iso(data.draw(dates, label="deadline")),
            }
        if event is Event.PLEDGE:
            commitments = [["清理违规信息"], ["清理违规信息", "完善审核制度"]]
            return {
                "signed_by": "王经理",
                "signed_at": (at - timedelta(hours=1)).isoformat(),
                "commitments": data.draw(
                    st.sampled_from(commitments if careful else [*commitments, []])
                ),
                "deadline": _iso(data.draw(dates, label="deadline")),
            }
        if event is Event.RECTIFY:
            pledges = [e for e in history if e.event == "pledge"]
            pledged = len(pledges[-1].payload.get("commitments", [])) if pledges else 0
            size = pledged if careful else data.draw(st.integers(0, pledged + 1), label="checked")
            checks = st.lists(mostly(st.just(True), st.just(False)), min_size=size, max_size=size)
            verified = data.draw(checks, label="checks")
            return {
                "checks": [
                    {"commitment": str(i), "verified": ok} for i, ok in enumerate(verified, 1)
                ]
            }
        if event is Event.ESCALATE:
            case = self.engine.get(case_id)
            fits = {
                "judged": "takedown_disposition",
                "interviewed": "pledge_refused",
                "pledged": "rectification_failed",
            }
            ground = st.sampled_from([g.value for g in EscalationGround])
            if careful and case.state in fits:
                ground = st.just(fits[case.state])
            return {"ground": data.draw(ground, label="ground")}
        if event is Event.TAKE_DOWN:
            numbers = ["湘网信〔2018〕7号"] if careful else ["湘网信〔2018〕7号", ""]
            return {"decision_no": data.draw(st.sampled_from(numbers))}
        if event is Event.REFER:
            return {"authority": "公安机关网安部门"}
        return {}

    @rule()
    def sweep_now(self) -> None:
        at = self.clock.now()
        self.snapshot = None
        first = list(sweep(self.engine, at, batch_size=2))
        for status in sorted({o.status for o in first}):
            note(f"sweep: {status}")
        after_first = self.snapshot = dump(self.path)
        again = list(sweep(self.engine, at, batch_size=2))
        assert not [o for o in again if o.status == "escalated"]
        assert dump(self.path) == after_first, "a second sweep at the same instant wrote"

    # --- invariants --------------------------------------------------------------------------
    @invariant()
    def cases_are_consistent(self) -> None:
        campaign = self.engine.campaign
        with orm(self.engine) as session:
            pledge_events = set(session.scalars(select(PledgeRow.event_id)))
        with self.engine.storage.reading() as repo:
            for row, _app in repo.cases(campaign.id, CaseFilter()):
                events = repo.events(row.id)
                assert verify_events(row, events) is None
                rebuilt, problem = replay(events)
                assert problem is None
                stored = (
                    row.state,
                    row.judicial_state,
                    row.event_count,
                    row.head_hash,
                    row.disposition,
                    row.suspected_illegal,
                    row.pledge_deadline,
                    row.last_occurred_at,
                )
                assert stored == (
                    rebuilt.state,
                    rebuilt.judicial_state,
                    rebuilt.event_count,
                    rebuilt.head_hash,
                    rebuilt.disposition,
                    rebuilt.suspected_illegal,
                    rebuilt.pledge_deadline,
                    rebuilt.last_occurred_at,
                )
                last_admin = None
                for ev in events:
                    _check_event(ev, last_admin, pledge_events)
                    if ev.track == "administrative":
                        last_admin = ev


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _check_event(ev: Any, last_admin: Any, pledge_events: set[int]) -> None:
    event = Event(ev.event)
    waived = set(ev.override["waived"]) if ev.override else set()
    if waived:
        role, code = ACTORS[ev.override["authorised_by"]]
        assert role in ("cac_prefecture", "cac_province"), "override by a role that may not"
        assert code in ("430000", ev.case_id.split("-")[1]), "override outside its jurisdiction"
    if not deadlines.window_open(HUNAN, event, ev.occurred_at):
        assert "phase_window" in waived, f"{ev.case_id} #{ev.seq} outside its window"
        assert ev.override["reason"].strip()
    if event is Event.RECTIFY:
        assert last_admin is not None, "rectified first"
        assert last_admin.event == "pledge", "rectified without a pledge just before"
        assert last_admin.position in pledge_events
    if event is Event.TAKE_DOWN:
        assert last_admin is not None, "taken down first"
        assert last_admin.event == "escalate", "taken down without an escalation"
    if event is Event.JUDGE:
        policy = ev.payload["policy"]
        chosen = Disposition(ev.payload["disposition"])
        if disposition_rank(chosen) < disposition_rank(Disposition(policy["minimum"])):
            assert "disposition_minimum" in waived
    if ev.actor_id == "system":
        assert event is Event.ESCALATE
        assert ev.reason == OVERDUE_REASON
        assert ev.payload["ground"] == "rectification_overdue"
        assert last_admin is not None
        assert last_admin.to_state == State.PLEDGED
        deadline = date.fromisoformat(last_admin.payload["deadline"])
        assert deadlines.deadline_passed(HUNAN, deadline, ev.occurred_at)


TestCampaignMachine = pytest.mark.slow(CampaignMachine.TestCase)
TestCampaignMachine.settings = MACHINE_SETTINGS.get(PROFILE, MACHINE_SETTINGS["ci"])
