"""The properties of :mod:`appcase.testing` on campaign files: they hold on Hunan 2018 and on
the fictional example province, and each mutation of a campaign file is caught by the
property its error belongs to."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from appcase.errors import CampaignFileError
from appcase.policies.campaign import load_campaign, parse_campaign
from appcase.testing import PROPERTIES, check_campaign

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
HUNAN_DATA: dict[str, Any] = tomllib.loads(
    resources.files("appcase.data").joinpath("hunan-2018.toml").read_text(encoding="utf-8")
)
FAST = [p.name for p in PROPERTIES if p.name != "machine_invariants"]


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(HUNAN_DATA)
    change(data)
    return data


def _role(data: dict[str, Any], role: str) -> dict[str, Any]:
    return next(r for r in data["roles"] if r["id"] == role)


def drop_take_down(data: dict[str, Any]) -> None:
    _role(data, "cac_province")["events"].remove("take_down")


def drop_judge(data: dict[str, Any]) -> None:
    _role(data, "edu_prefecture")["events"].remove("judge")


def flag_after_judgment(data: dict[str, Any]) -> None:
    data["windows"]["flag"] = ["summary"]


def swap_ladder(data: dict[str, Any]) -> None:
    data["policy"]["disposition"]["minimum_by_severity"] = {
        "minor": "interview_rectify",
        "serious": "takedown",
        "severe": "interview_rectify",
    }


def takedown_without_referral(data: dict[str, Any]) -> None:
    data["policy"]["disposition"]["refer_when_taken_down"] = False


def working_days_to_a_saturday(data: dict[str, Any]) -> None:
    data["policy"]["deadlines"]["working_days"] = True  # the cap, 2018-03-31, is a Saturday


def escalation_gap(data: dict[str, Any]) -> None:
    data["windows"]["escalate"] = ["judgment"]  # a pledge missed on 03-31 can't be escalated


MUTATIONS = [
    ("a role removed from an event (take_down)", drop_take_down, "states_reachable"),
    ("a role removed from an event (judge)", drop_judge, "states_reachable"),
    ("flag's window opens after judge's closes", flag_after_judgment, "windows_ordered"),
    ("escalation window ends with the cap", escalation_gap, "windows_ordered"),
    ("severity thresholds swapped", swap_ladder, "disposition_monotone"),
    ("a takedown no longer refers a crime", takedown_without_referral, "referral_exact"),
    ("working days capped on a Saturday", working_days_to_a_saturday, "working_day_deadlines"),
]


@pytest.mark.parametrize("source", ["hunan-2018", str(EXAMPLES / "jiangnan-2024.toml")])
def test_every_fast_property_holds(source: str) -> None:
    results = check_campaign(load_campaign(source), examples=100, seed=5, only=FAST)
    assert [r.name for r in results] == FAST
    for r in results:
        assert r.holds, r.report()


@pytest.mark.parametrize(
    ("change", "prop"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_a_mutation_is_caught_by_its_property(
    change: Callable[[dict[str, Any]], None], prop: str
) -> None:
    campaign = parse_campaign(mutated(change), "mutated")
    (before,) = check_campaign(parse_campaign(HUNAN_DATA), examples=100, seed=5, only=[prop])
    (after,) = check_campaign(campaign, examples=400, seed=5, only=[prop])
    assert before.holds
    assert not after.holds
    assert after.counterexample is not None
    assert prop in after.report()


def test_a_window_that_ends_before_it_starts_is_refused_when_loaded() -> None:
    def backwards(data: dict[str, Any]) -> None:
        data["phases"][2]["deadline"] = data["phases"][2]["start"].replace(day=1, month=3)

    with pytest.raises(CampaignFileError) as refused:
        parse_campaign(mutated(backwards), "mutated")
    assert any(e.startswith("phases.2.deadline") for e in refused.value.errors)


def test_mutations_break_only_what_they_should() -> None:
    campaign = parse_campaign(mutated(drop_take_down), "mutated")
    results = {r.name: r for r in check_campaign(campaign, examples=50, seed=5, only=FAST)}
    assert not results["states_reachable"].holds
    assert results["states_reachable"].counterexample is not None
    assert "taken_down" in results["states_reachable"].counterexample.summary
    assert results["disposition_monotone"].holds
    assert results["roles_can_act"].holds
