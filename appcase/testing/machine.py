"""A campaign played by random operators against a real SQLite file, for any campaign.

:func:`campaign_machine` returns a hypothesis ``RuleBasedStateMachine`` class for a campaign.
The machine surveys apps and fires random commands -- any event, by any actor (wrong roles,
wrong prefectures and ``system`` included), with payloads that are mostly valid and sometimes
not, sometimes with an override -- and runs the deadline sweep, while a clock moves forward by
random steps. Every command goes through a real engine (:func:`appcase.init_database`) on a
temporary SQLite file. After every step it checks:

* each case's stored states equal a replay of its events, and its hash chain verifies;
* no case was rectified without a pledge just before, none taken down without an escalation;
* no event happened outside its phase window without an override that waived the window, and
  overrides come only from roles that may override, in their own jurisdiction;
* no judgment is milder than the policy's minimum without an override that waived it;
* a refused command changed nothing (every table is compared before and after);
* a second sweep at the same instant changes nothing;
* event by event, the three folds agree: the case the engine stored right after each
  event, the replay of the stored events up to it, and (once per run, on an exported
  bundle that the offline verifier passes) the offline verifier's fold of the exported
  records up to it.

Example (in an analyst's own test file)::

    from hypothesis import settings
    import appcase
    from appcase.testing import campaign_machine

    Machine = campaign_machine(appcase.load_campaign("my-campaign.toml"))
    TestMyCampaign = Machine.TestCase
    TestMyCampaign.settings = settings(max_examples=10, stateful_step_count=30, deadline=None)
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import sqlite3
import tempfile
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import event as note
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

from appcase.audit.bundle import verify_bundle
from appcase.audit.fold import Transitions
from appcase.audit.fold import replay as fold_replay
from appcase.bootstrap import init_database, open_engine
from appcase.clock import FixedClock
from appcase.errors import AppcaseError
from appcase.policies import deadlines
from appcase.policies.campaign import Campaign, parse_campaign
from appcase.policies.permissions import ADMIN_ROLE, SYSTEM_ROLE
from appcase.ports import CaseFilter
from appcase.states import Disposition, EscalationGround, Event, State
from appcase.testing.strategies import (
    ActorSpec,
    actors,
    disposition_rank,
    harm_categories,
    mostly,
    severities,
    unique_app,
    zones,
)
from appcase.workflow.export import export_bundle
from appcase.workflow.grants import grant_override
from appcase.workflow.sweep import OVERDUE_REASON, sweep
from appcase.workflow.table import spec_for
from appcase.workflow.verify import replay, verify_events

__all__ = ["CampaignMachine", "campaign_machine", "dump"]

ADMIN = "machine-admin"
"""The administrator who registers the machine's cast of actors."""


def _start(campaign: Campaign) -> datetime:
    """08:00 local on the first day of the campaign's first phase."""
    first = min(p.start for p in campaign.phases)
    return deadlines.day_start(campaign, first) + timedelta(hours=8)


@functools.cache
def _template(definition: str, prefectures: int) -> Path:
    """A migrated SQLite file with the campaign (given as its canonical JSON) and its cast of
    actors, made once per process and campaign and copied for every run (migrating a fresh
    file per run would dominate the time)."""
    campaign = parse_campaign(json.loads(definition))
    directory = tempfile.mkdtemp(prefix="appcase-machine-template-")
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / "template.sqlite"
    engine = init_database(f"sqlite:///{path}", campaign, FixedClock(_start(campaign)))
    try:
        engine.add_actor(ADMIN, role=ADMIN_ROLE)
        for actor in actors(campaign, prefectures=prefectures):
            engine.add_actor(actor.id, role=actor.role, jurisdiction=actor.jurisdiction, by=ADMIN)
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


def _fitting(state: str, judicial_state: str) -> list[Event]:
    """Events with a transition out of the case's current states (guards aside)."""
    fitting: list[Event] = [
        e
        for e in Event
        if e is not Event.SURVEY
        and str(judicial_state if spec_for(e).track.value == "judicial" else state)
        in spec_for(e).sources
    ]
    return fitting or [Event.FLAG]


class CampaignMachine(RuleBasedStateMachine):
    """Random operators on one campaign database (subclassed per campaign by
    :func:`campaign_machine`, which sets the class attributes)."""

    cases = Bundle("cases")
    campaign: ClassVar[Campaign]
    cast: ClassVar[tuple[ActorSpec, ...]]
    prefectures: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        super().__init__()
        campaign = self.campaign
        self.cap = deadlines.rectification_deadline_cap(campaign)
        self.start = _start(campaign)
        self.actor_ids = [*(a.id for a in self.cast), SYSTEM_ROLE]
        self.roles = {a.id: (a.role, a.jurisdiction) for a in self.cast}
        self.dir = Path(tempfile.mkdtemp(prefix="appcase-machine-"))
        self.path = self.dir / "cases.sqlite"
        shutil.copyfile(_template(campaign.canonical_json(), len(self.prefectures)), self.path)
        self.clock = FixedClock(self.start)
        self.engine = open_engine(f"sqlite:///{self.path}", campaign.id, self.clock)
        self.apps: list[dict[str, Any]] = []
        self.snapshot: dict[str, list[str]] | None = None  # every table, while unchanged
        self.stored: dict[str, dict[int, tuple[Any, ...]]] = {}  # case -> count -> fields

    def teardown(self) -> None:
        try:
            self._offline_verifier_agrees()
        finally:
            self.engine.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- the cast ---------------------------------------------------------------------------
    def right_actor(self, event: Event, prefecture: str) -> str:
        """An officer whose role may fire ``event`` on a case of ``prefecture`` (the first
        such in the cast; any actor if no role may)."""
        for actor in self.cast:
            spec = self.campaign.role(actor.role)
            if spec is None or event not in spec.events:
                continue
            if spec.scope == "province" or actor.jurisdiction == prefecture:
                return actor.id
        return self.cast[0].id

    def overrider(self, prefecture: str) -> str:
        """An officer who may record an override on a case of ``prefecture`` (province first)."""
        fits = [
            a
            for a in self.cast
            if (spec := self.campaign.role(a.role)) is not None
            and spec.may_override
            and a.jurisdiction in (self.campaign.province.code, prefecture)
        ]
        fits.sort(key=lambda a: a.jurisdiction != self.campaign.province.code)
        return fits[0].id if fits else self.cast[0].id

    def _remember(self, case_id: str) -> None:
        """Keep the case as the engine stored it right after its latest event."""
        view = self.engine.get(case_id)
        self.stored.setdefault(case_id, {})[view.event_count] = _fields(view)

    def _offline_verifier_agrees(self) -> None:
        """Export a bundle; the offline verifier passes it, and its fold of each case's
        exported records, event by event, gives the case the engine stored then."""
        if not self.stored:
            return
        out = self.dir / "bundle"
        export_bundle(self.engine, out)
        report = verify_bundle(out)
        assert report.ok, report.problems
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        table = Transitions.from_table(manifest["transitions"])
        records: dict[str, list[tuple[dict[str, Any], str]]] = {}
        for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            records.setdefault(entry["record"]["case_id"], []).append(
                (entry["record"], entry["hash"])
            )
        for case_id, seen in self.stored.items():
            for count, fields in seen.items():
                folded, problem = fold_replay(records[case_id][:count], table, self.campaign.zone)
                assert problem is None, problem
                assert _folded(folded) == fields, f"{case_id} after event {count}"

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
        case_id = getattr(result, "case_id", None) or getattr(result, "id", None)
        if isinstance(case_id, str):
            self._remember(case_id)
        return result

    # --- rules -----------------------------------------------------------------------------
    @initialize(target=cases, data=st.data())
    def first_case(self, data: st.DataObject) -> str:
        prefecture = data.draw(st.sampled_from(self.prefectures), label="prefecture")
        app = unique_app(len(self.apps), prefecture)
        self.apps.append(app)
        actor = self.right_actor(Event.SURVEY, prefecture)
        case_id = self.engine.survey(app, actor=actor, at=self.clock.now()).id
        self._remember(case_id)
        return case_id

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
        prefecture = data.draw(st.sampled_from(self.prefectures), label="prefecture")
        if kind == "again" and self.apps:
            app = data.draw(st.sampled_from(self.apps), label="app again")
        else:
            app = unique_app(len(self.apps), prefecture)
            if kind == "same_operator":
                app["uscc"] = unique_app(0, self.prefectures[0])["uscc"]
            app["used_by_schools"] = data.draw(st.booleans(), label="schools")
        actor = data.draw(
            mostly(
                st.just(self.right_actor(Event.SURVEY, prefecture)),
                st.sampled_from(self.actor_ids),
                2,
            ),
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
            mostly(
                st.just(self.right_actor(event, case.prefecture)),
                st.sampled_from(self.actor_ids),
                1,
            ),
            label="actor",
        )
        at = self._at(data)
        payload = self._payload(data, event, case_id, at, careful=False)
        reason = data.draw(st.sampled_from([None, "", "依据实施方案处置"]), label="reason")
        override = data.draw(
            mostly(
                st.none(),
                st.one_of(
                    st.fixed_dictionaries({"reason": st.sampled_from(["逾期办理，经批准", " "])}),
                    # naming another officer is refused: they record a grant instead
                    st.fixed_dictionaries(
                        {
                            "reason": st.just("逾期办理，经批准"),
                            "authorised_by": st.sampled_from(self.actor_ids),
                        }
                    ),
                    st.fixed_dictionaries({"grant": st.sampled_from(["og-0000000000000000"])}),
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
            closed = not deadlines.window_open(self.campaign, event, at)
            if closed and data.draw(st.booleans(), label="override"):
                grant = grant_override(
                    self.engine,
                    by=self.overrider(case.prefecture),
                    event=event,
                    reason="逾期办理，经批准",
                    case_id=case_id,
                )
                override = {"grant": grant.id}
                self.snapshot = None  # the grant is written: a refusal is judged from here
            actor = self.right_actor(event, case.prefecture)
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
        local_day = deadlines.local_day(self.campaign, at)
        good_dates = st.integers(0, 20).map(lambda k: min(local_day + timedelta(days=k), self.cap))
        bad_dates = st.sampled_from([local_day - timedelta(days=1), self.cap + timedelta(days=1)])
        dates = (
            st.one_of(st.none(), good_dates)
            if careful
            else st.one_of(st.none(), good_dates, bad_dates)
        )
        categories = (
            harm_categories(self.campaign)
            if careful
            else mostly(harm_categories(self.campaign), st.just("not_a_category"))
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
        for outcome in first:
            if outcome.status == "escalated":
                self._remember(outcome.case_id)
        after_first = self.snapshot = dump(self.path)
        again = list(sweep(self.engine, at, batch_size=2))
        assert not [o for o in again if o.status == "escalated"]
        assert dump(self.path) == after_first, "a second sweep at the same instant wrote"

    def _check_event(self, ev: Any, last_admin: Any) -> None:
        """The rules every stored event keeps (override, window, order, minimum, sweep)."""
        event = Event(ev.event)
        waived = set(ev.override["waived"]) if ev.override else set()
        if waived:
            role, code = self.roles[ev.override["authorised_by"]]
            spec = self.campaign.role(role)
            assert spec is not None and spec.may_override, "override by a role that may not"
            allowed = (self.campaign.province.code, ev.case_id.split("-")[1])
            assert code in allowed, "override outside its jurisdiction"
        if not deadlines.window_open(self.campaign, event, ev.occurred_at):
            assert "phase_window" in waived, f"{ev.case_id} #{ev.seq} outside its window"
            assert ev.override["reason"].strip()
        if event is Event.RECTIFY:
            assert last_admin is not None, "rectified first"
            assert last_admin.event == "pledge", "rectified without a pledge just before"
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
            assert deadlines.deadline_passed(self.campaign, deadline, ev.occurred_at)

    # --- invariants --------------------------------------------------------------------------
    @invariant()
    def cases_are_consistent(self) -> None:
        campaign = self.engine.campaign
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
                    self._check_event(ev, last_admin)
                    if ev.track == "administrative":
                        last_admin = ev
                for count, fields in self.stored.get(row.id, {}).items():
                    prefix, problem = replay(events[:count])
                    assert problem is None
                    assert _folded(prefix) == fields, f"{row.id}: replay of {count} events"


def _fields(view: Any) -> tuple[Any, ...]:
    """What a case's chain determines, as the engine stored it."""
    return (
        view.state,
        view.judicial_state,
        view.event_count,
        view.head_hash,
        view.prefecture,
        view.disposition,
        view.suspected_illegal,
        view.pledge_deadline,
        view.last_occurred_at,
    )


def _folded(case: Any) -> tuple[Any, ...]:
    """The same fields, as a fold rebuilt them."""
    return (
        case.state,
        case.judicial_state,
        case.event_count,
        case.head_hash,
        case.prefecture,
        case.disposition,
        case.suspected_illegal,
        case.pledge_deadline,
        case.last_occurred_at,
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def campaign_machine(campaign: Campaign, *, prefectures: int = 2) -> type[CampaignMachine]:
    """A ``RuleBasedStateMachine`` class playing ``campaign`` through a real engine.

    Each run copies a migrated SQLite file holding the campaign and one actor of every role
    in the province and in the first ``prefectures`` prefectures (:func:`actors`), then fires
    random commands and checks the invariants listed in the module's docstring. Subclass the
    result to add invariants of your own; run it with ``Machine.TestCase`` under pytest or
    ``hypothesis.stateful.run_state_machine_as_test``.

    Args:
        campaign: the campaign to play (its file need not be stored anywhere).
        prefectures: how many of its prefectures (the first ones) cases are opened in (≥ 1).

    Returns:
        A new subclass of :class:`CampaignMachine`, bound to ``campaign``.
    """
    cast = tuple(actors(campaign, prefectures=prefectures))
    codes = tuple(p.code for p in campaign.prefectures[: max(prefectures, 1)])
    name = "Machine_" + "".join(c if c.isalnum() else "_" for c in campaign.id)
    namespace = {"campaign": campaign, "cast": cast, "prefectures": codes}
    return type(name, (CampaignMachine,), namespace)
