"""Permissions: no (role, jurisdiction, event) outside the campaign's table ever succeeds.

First the pure policy against a plain reading of random role tables; then the Hunan 2018 table
pinned to the source document; then the real engine, firing every event on a case in the
state where it would succeed, by every kind of actor.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appcase.bootstrap import init_database
from appcase.clock import FixedClock
from appcase.errors import GuardRejected, InvalidInput
from appcase.policies.campaign import Campaign, RoleSpec
from appcase.policies.permissions import ADMIN_ROLE, SYSTEM_ROLE, check_permission, check_posting
from appcase.states import Event
from appcase.workflow.engine import CaseEngine
from tests.builders import RECTIFIED, evidence, interview, judgment, local, pledge, unique_app
from tests.strategies import HUNAN, events

PROVINCE = "430000"
PREFECTURES = ("430100", "430200")
JURISDICTIONS = (PROVINCE, *PREFECTURES, "430300", "999999")

# The Hunan 2018 table as the source document and DESIGN §3 give it: the prefecture CAC office
# (市州网信办) surveys, collects evidence, interviews, takes pledges, verifies rectification,
# escalates and refers; the prefecture education bureau (市州教育行政部门) surveys, collects
# evidence, judges (研判) and refers; the provincial office (省网信办) decides takedowns and
# returns, and refers. Prefecture roles act in their own prefecture only.
HUNAN_TABLE: dict[str, tuple[str, frozenset[str]]] = {
    "cac_prefecture": (
        "prefecture",
        frozenset(
            {
                "survey",
                "flag",
                "add_evidence",
                "interview",
                "pledge",
                "rectify",
                "escalate",
                "refer",
            }
        ),
    ),
    "edu_prefecture": (
        "prefecture",
        frozenset({"survey", "flag", "add_evidence", "judge", "dismiss", "refer"}),
    ),
    "cac_province": ("province", frozenset({"take_down", "return_for_rectification", "refer"})),
}


def allowed(
    table: dict[str, tuple[str, frozenset[str]]],
    role: str,
    jurisdiction: str,
    event: Event,
    case_prefecture: str,
    via_sweep: bool = False,
) -> bool:
    """Plain reading of a role table: the role lists the event, and a prefecture role acts in
    its own prefecture; ``system`` only escalates, only through the sweep."""
    if role == SYSTEM_ROLE:
        return via_sweep and event is Event.ESCALATE
    if via_sweep or role not in table:
        return False
    scope, evs = table[role]
    return event.value in evs and (scope == "province" or jurisdiction == case_prefecture)


def table_of(campaign: Campaign) -> dict[str, tuple[str, frozenset[str]]]:
    return {r.id: (r.scope, frozenset(e.value for e in r.events)) for r in campaign.roles}


ROLE_IDS = ("cac_prefecture", "edu_prefecture", "cac_province", "school_office")

role_specs = st.builds(
    lambda rid, scope, evs, ovr: RoleSpec(
        id=rid, name_zh=rid, name=rid, scope=scope, events=tuple(evs), may_override=ovr
    ),
    st.sampled_from(ROLE_IDS),
    st.sampled_from(["prefecture", "province"]),
    st.lists(events, unique=True),
    st.booleans(),
)
role_tables = st.lists(role_specs, min_size=1, max_size=4, unique_by=lambda r: r.id).map(
    lambda roles: HUNAN.model_copy(update={"roles": tuple(roles)})
)
"""Hunan 2018 with a random role table."""

any_role = st.sampled_from([*ROLE_IDS, SYSTEM_ROLE, "mayor"])
jurisdictions = st.sampled_from(JURISDICTIONS)


@given(role_tables, any_role, jurisdictions, events, st.sampled_from(PREFECTURES), st.booleans())
def test_check_permission_is_the_table(
    campaign: Campaign, role: str, jur: str, event: Event, case_pref: str, via_sweep: bool
) -> None:
    rejections = check_permission(
        campaign,
        role=role,
        actor_jurisdiction=jur,
        event=event,
        case_prefecture=case_pref,
        via_sweep=via_sweep,
    )
    assert (not rejections) is allowed(table_of(campaign), role, jur, event, case_pref, via_sweep)
    assert {r.code for r in rejections} <= {"role", "jurisdiction"}


@given(role_tables, any_role, jurisdictions)
def test_postings_follow_the_scope(campaign: Campaign, role: str, jur: str) -> None:
    table = table_of(campaign)
    if role == SYSTEM_ROLE:
        ok = jur == PROVINCE
    elif role not in table:
        ok = False
    elif table[role][0] == "province":
        ok = jur == PROVINCE
    else:
        ok = jur in {p.code for p in campaign.prefectures}
    assert (not check_posting(campaign, role, jur)) is ok


def test_the_hunan_table_is_the_source_documents() -> None:
    assert table_of(HUNAN) == HUNAN_TABLE
    assert {r.id for r in HUNAN.roles if r.may_override} == {"cac_prefecture", "cac_province"}


# --- through the engine ---------------------------------------------------------------------

OFFICERS: dict[str, tuple[str, str]] = {
    f"{role}-{code}": (role, code)
    for role, (scope, _) in HUNAN_TABLE.items()
    for code in ((PROVINCE,) if scope == "province" else PREFECTURES)
}
"""Every valid posting over two prefectures and the province."""


@pytest.fixture(scope="module")
def perm_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseEngine]:
    path: Path = tmp_path_factory.mktemp("perm") / "cases.sqlite"
    engine = init_database(f"sqlite:///{path}", "hunan-2018", FixedClock(local(4, 30, 12)))
    engine.add_actor("admin", role=ADMIN_ROLE)
    for actor_id, (role, code) in OFFICERS.items():
        engine.add_actor(actor_id, role=role, jurisdiction=code, by="admin")
    yield engine
    engine.close()


_numbers = itertools.count(5000)

Step = tuple[str, str, dict[str, Any], datetime, str | None]


def _steps(event: Event) -> tuple[list[Step], dict[str, Any], datetime, str | None]:
    """Commands (event, role, payload, at, reason) that bring a new case to where ``event``
    succeeds, then the event's own payload, time and reason."""
    cac, edu = "cac_prefecture", "edu_prefecture"
    flag: Step = ("flag", cac, evidence(), local(2, 21), None)

    def judge(disposition: str, illegal: bool = False) -> Step:
        severity = "severe" if disposition == "takedown" else "serious"
        return ("judge", edu, judgment(disposition, severity, illegal), local(3, 12), None)

    clean: Step = (
        "judge",
        edu,
        {"findings": [], "disposition": "no_violation"},
        local(3, 12),
        None,
    )
    talk: Step = ("interview", cac, interview(local(3, 14)), local(3, 14, 11), None)
    sign: Step = ("pledge", cac, pledge(local(3, 14, 12)), local(3, 14, 13), None)
    up: Step = ("escalate", cac, {"ground": "takedown_disposition"}, local(3, 13), "研判建议关停")
    table: dict[Event, tuple[list[Step], dict[str, Any], datetime, str | None]] = {
        Event.FLAG: ([], evidence(), local(3, 1), None),
        Event.ADD_EVIDENCE: ([flag], evidence("other"), local(3, 1), None),
        Event.JUDGE: ([flag], judgment(), local(3, 12), None),
        Event.DISMISS: ([flag, clean], {}, local(3, 13), None),
        Event.INTERVIEW: (
            [flag, judge("interview_rectify")],
            interview(local(3, 14)),
            local(3, 14, 11),
            None,
        ),
        Event.PLEDGE: (
            [flag, judge("interview_rectify"), talk],
            pledge(local(3, 14, 12)),
            local(3, 14, 13),
            None,
        ),
        Event.RECTIFY: (
            [flag, judge("interview_rectify"), talk, sign],
            RECTIFIED,
            local(3, 27),
            None,
        ),
        Event.ESCALATE: (
            [flag, judge("takedown")],
            {"ground": "takedown_disposition"},
            local(3, 13),
            "建议关停",
        ),
        Event.TAKE_DOWN: (
            [flag, judge("takedown"), up],
            {"decision_no": "湘网信〔2018〕9号"},
            local(3, 15),
            None,
        ),
        Event.RETURN_FOR_RECTIFICATION: (
            [flag, judge("takedown"), up],
            {},
            local(3, 15),
            "退回整改",
        ),
        Event.REFER: (
            [flag, judge("interview_rectify", True)],
            {"authority": "公安机关"},
            local(3, 13),
            "涉嫌违法",
        ),
    }
    return table[event]


def _officer(role: str, prefecture: str) -> str:
    return f"{role}-{PROVINCE if role == 'cac_province' else prefecture}"


def _prepared(engine: CaseEngine, event: Event, prefecture: str) -> str:
    """A new case of ``prefecture`` brought to where ``event`` succeeds for a permitted actor."""
    app = unique_app(next(_numbers), prefecture)
    case = engine.survey(app, actor=_officer("cac_prefecture", prefecture), at=local(2, 20, 9))
    prep, _payload, _at, _reason = _steps(event)
    for ev, by, body, when, why in prep:
        engine.fire(case.id, ev, actor=_officer(by, prefecture), payload=body, at=when, reason=why)
    return case.id


@pytest.mark.parametrize("prefecture", PREFECTURES)
@pytest.mark.parametrize("event", list(Event), ids=str)
def test_no_actor_outside_the_table_ever_succeeds(
    perm_engine: CaseEngine, event: Event, prefecture: str
) -> None:
    """Every actor (every valid posting, ``system`` and an administrator) fires ``event``
    on a case of ``prefecture`` in the state where it succeeds: exactly the table's actors
    succeed (the administrator never does)."""
    engine = perm_engine
    verdicts = {
        actor: allowed(
            HUNAN_TABLE, *OFFICERS.get(actor, (SYSTEM_ROLE, PROVINCE)), event, prefecture
        )
        for actor in [*OFFICERS, "system"]
    } | {"admin": False}
    if event is Event.SURVEY:
        for actor, permitted in verdicts.items():
            app = unique_app(next(_numbers), prefecture)
            if permitted:
                assert engine.survey(app, actor=actor, at=local(2, 20, 9)).state == "surveyed"
                continue
            with pytest.raises((GuardRejected, InvalidInput)) as refused:
                engine.survey(app, actor=actor, at=local(2, 20, 9))
            if isinstance(refused.value, GuardRejected):
                assert {r.code for r in refused.value.rejections} & {"role", "jurisdiction"}
            assert not engine.list_cases(text=app["name"])
        return
    _prep, payload, at, reason = _steps(event)
    case_id = _prepared(engine, event, prefecture)
    before = engine.get(case_id)
    for actor in [a for a, ok in verdicts.items() if not ok]:
        with pytest.raises(GuardRejected) as refused:
            engine.fire(case_id, event, actor=actor, payload=payload, at=at, reason=reason)
        assert {r.code for r in refused.value.rejections} & {"role", "jurisdiction"}, actor
        assert engine.get(case_id) == before
    for n, actor in enumerate(a for a, ok in verdicts.items() if ok):
        if n:  # the case moved on: a fresh one for the next permitted actor
            case_id = _prepared(engine, event, prefecture)
        view = engine.fire(case_id, event, actor=actor, payload=payload, at=at, reason=reason)
        assert (view.actor, view.event) == (actor, event.value)


def test_the_engine_strategy_reaches_both_answers() -> None:
    """The engine test is not vacuous: its actors include permitted and refused ones for
    every event."""
    for event in Event:
        answers = {
            allowed(HUNAN_TABLE, *OFFICERS.get(a, (SYSTEM_ROLE, PROVINCE)), event, "430100")
            for a in [*OFFICERS, "system"]
        }
        assert answers == {True, False}, event


def test_the_system_actor_only_acts_through_the_sweep(perm_engine: CaseEngine) -> None:
    engine = perm_engine
    case = engine.survey(unique_app(next(_numbers)), actor="cac_prefecture-430100", at=local(2, 20))
    prep, _payload, _at, _reason = _steps(Event.RECTIFY)
    for ev, by, body, when, why in prep:
        engine.fire(case.id, ev, actor=_officer(by, "430100"), payload=body, at=when, reason=why)
    with pytest.raises(GuardRejected) as refused:
        engine.fire(
            case.id,
            "escalate",
            actor="system",
            payload={"ground": "rectification_overdue"},
            at=local(3, 29),
            reason="rectification overdue",
        )
    assert any("only through the sweep" in r.message for r in refused.value.rejections)
    with pytest.raises(InvalidInput):
        engine.add_actor("system", role="cac_province", jurisdiction=PROVINCE, by="admin")
    with pytest.raises(InvalidInput):
        engine.add_actor("sys2", role=SYSTEM_ROLE, jurisdiction=PROVINCE, by="admin")
