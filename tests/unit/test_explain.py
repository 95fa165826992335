"""Asking the disposition policy without judging: findings are checked against the campaign
the way a judgment's are, and the rules answer through the workflow, not the front end."""

from __future__ import annotations

import pytest

from appcase.errors import InvalidInput
from appcase.policies.campaign import builtin_campaign
from appcase.states import Disposition, Severity
from appcase.workflow.explain import explain_findings

HUNAN = builtin_campaign("hunan-2018")


def test_findings_given_outright_are_explained_with_their_circumstances() -> None:
    explained = explain_findings(
        HUNAN,
        [{"harm_category": "vulgar_pornographic", "severity": "severe", "suspected_illegal": True}],
        prior_cases=1,
        used_by_schools=True,
    )
    assert (explained.campaign_id, explained.case_id, explained.source) == (
        "hunan-2018",
        None,
        "given",
    )
    assert explained.findings[0].severity is Severity.SEVERE
    assert explained.result.minimum is Disposition.TAKEDOWN
    assert explained.result.refer
    assert explained.result.factors.prior_cases == 1
    assert explained.result.policy_version == HUNAN.policy.version
    assert explained.recorded is None


def test_an_unknown_harm_category_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown harm category gambling; the campaign's"):
        explain_findings(HUNAN, [{"harm_category": "gambling", "severity": "minor"}])


def test_a_malformed_finding_is_refused() -> None:
    with pytest.raises(InvalidInput, match="a finding is not valid: severity"):
        explain_findings(HUNAN, [{"harm_category": "other", "severity": "awful"}])
