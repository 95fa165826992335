"""The disposition policy's provenance and record."""

from __future__ import annotations

import re

from appcase.policies import disposition
from appcase.policies.campaign import builtin_campaign
from appcase.policies.disposition import RULES, Factors, FindingInput, evaluate
from appcase.states import Severity

HUNAN = builtin_campaign("hunan-2018")


def test_every_rule_is_documented_with_its_source() -> None:
    doc = disposition.__doc__ or ""
    for rule_id, (text, source) in RULES.items():
        assert f"**{rule_id}**" in doc, f"{rule_id} is not in the module's rule list"
        assert text
        assert source == "configurable default" or re.search(r"[二三]|CAC|规定", source), source


def test_the_hunan_thresholds_are_the_documented_defaults() -> None:
    p = HUNAN.policy.disposition
    assert (p.takedown_severity, p.takedown_serious_count) == ("severe", 3)
    assert (p.recidivism_aggravates, p.school_use_aggravates) == (True, False)
    assert p.lacking_responsibility_takedown is True
    assert HUNAN.policy.version == "hunan-2018/1"


def test_the_record_names_rules_sources_and_factors() -> None:
    factors = Factors(prior_cases=2, used_by_schools=True)
    result = evaluate(
        [FindingInput("inciting_violence", Severity.MINOR, suspected_illegal=True)],
        factors,
        HUNAN.policy.disposition,
        HUNAN.policy.version,
    )
    assert result.as_record() == {
        "version": "hunan-2018/1",
        "minimum": "interview_rectify",
        "refer": True,
        "rules": [
            {"id": "D2", "detail": "1 finding(s)", "source": RULES["D2"][1]},
            {"id": "D3", "detail": "2 prior case(s)", "source": RULES["D3"][1]},
            {
                "id": "R1",
                "detail": "suspected illegal: inciting_violence",
                "source": RULES["R1"][1],
            },
        ],
        "factors": {
            "prior_cases": 2,
            "seriously_lacking_responsibility": False,
            "used_by_schools": True,
        },
    }
