"""Properties of the disposition policy (约谈整改一批、关停下架一批), over any findings, any
circumstances and any valid campaign thresholds; then the ``judge`` guard against it through
the real engine."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from appcase.bootstrap import init_database
from appcase.clock import FixedClock
from appcase.errors import GuardRejected
from appcase.policies.campaign import DispositionParams
from appcase.policies.disposition import RULES, DispositionResult, Factors, FindingInput, evaluate
from appcase.states import Disposition, Severity
from appcase.workflow.engine import CaseEngine
from appcase.workflow.grants import grant_override
from tests.builders import ADMIN, local, register_actors, unique_app
from tests.strategies import (
    HUNAN,
    SEVERITY_ORDER,
    disposition_params,
    disposition_rank,
    dispositions,
    factors,
    finding_inputs,
    finding_lists,
    severity_rank,
)

HUNAN_PARAMS = HUNAN.policy.disposition


def _rank(findings: list[FindingInput], f: Factors, p: DispositionParams) -> int:
    return disposition_rank(evaluate(findings, f, p).minimum)


@given(finding_lists(), factors, disposition_params, st.text(max_size=10))
def test_total(
    findings: list[FindingInput], f: Factors, p: DispositionParams, version: str
) -> None:
    result = evaluate(findings, f, p, version)
    assert isinstance(result, DispositionResult)
    assert result.minimum in set(Disposition)
    assert result.policy_version == version
    assert result.factors == f
    assert result.rule_ids, "every answer names the rules behind it"
    assert set(result.rule_ids) <= set(RULES)
    assert list(result.rule_ids) == sorted(result.rule_ids, key=list(RULES).index)
    for rule in result.rules:
        assert (rule.text, rule.source) == RULES[rule.id]
        assert rule.source, f"rule {rule.id} has no provenance"


@given(finding_lists(), factors, disposition_params)
def test_deterministic(findings: list[FindingInput], f: Factors, p: DispositionParams) -> None:
    assert evaluate(findings, f, p) == evaluate(list(findings), dataclasses.replace(f), p)


@given(st.data(), finding_lists(), factors, disposition_params)
def test_independent_of_finding_order(
    data: st.DataObject, findings: list[FindingInput], f: Factors, p: DispositionParams
) -> None:
    shuffled = data.draw(st.permutations(findings))
    assert evaluate(shuffled, f, p) == evaluate(findings, f, p)


@given(finding_lists(), finding_inputs(), factors, disposition_params)
def test_adding_a_finding_is_never_milder(
    findings: list[FindingInput], extra: FindingInput, f: Factors, p: DispositionParams
) -> None:
    assert _rank([*findings, extra], f, p) >= _rank(findings, f, p)


@given(st.data(), finding_lists().filter(bool), factors, disposition_params)
def test_raising_a_severity_is_never_milder(
    data: st.DataObject, findings: list[FindingInput], f: Factors, p: DispositionParams
) -> None:
    i = data.draw(st.integers(0, len(findings) - 1), label="finding")
    current = severity_rank(findings[i].severity)
    assume(current < len(SEVERITY_ORDER) - 1)
    higher = data.draw(st.sampled_from(SEVERITY_ORDER[current + 1 :]), label="raised to")
    raised = [*findings]
    raised[i] = dataclasses.replace(findings[i], severity=higher)
    assert _rank(raised, f, p) >= _rank(findings, f, p)


@given(finding_lists(), factors, st.integers(1, 5), disposition_params)
def test_more_prior_cases_is_never_milder(
    findings: list[FindingInput], f: Factors, more: int, p: DispositionParams
) -> None:
    worse = dataclasses.replace(f, prior_cases=f.prior_cases + more)
    assert _rank(findings, worse, p) >= _rank(findings, f, p)


@given(finding_lists(), factors, disposition_params)
def test_lacking_responsibility_or_school_use_is_never_milder(
    findings: list[FindingInput], f: Factors, p: DispositionParams
) -> None:
    base = _rank(findings, f, p)
    for change in (
        {"seriously_lacking_responsibility": True},
        {"used_by_schools": True},
        {"seriously_lacking_responsibility": True, "used_by_schools": True},
    ):
        assert _rank(findings, dataclasses.replace(f, **change), p) >= base


@given(finding_lists(), factors, disposition_params, st.data())
def test_stricter_thresholds_are_never_milder(
    findings: list[FindingInput], f: Factors, p: DispositionParams, data: st.DataObject
) -> None:
    stricter = p.model_copy(
        update={
            "takedown_severity": data.draw(
                st.sampled_from(["serious", p.takedown_severity]), label="takedown_severity"
            ),
            "takedown_serious_count": data.draw(
                st.integers(1, p.takedown_serious_count), label="takedown_serious_count"
            ),
            "recidivism_aggravates": p.recidivism_aggravates or data.draw(st.booleans()),
            "school_use_aggravates": p.school_use_aggravates or data.draw(st.booleans()),
            "lacking_responsibility_takedown": p.lacking_responsibility_takedown
            or data.draw(st.booleans()),
        }
    )
    assert _rank(findings, f, stricter) >= _rank(findings, f, p)


@given(finding_lists(), factors, disposition_params)
def test_refers_exactly_when_a_finding_is_suspected_illegal(
    findings: list[FindingInput], f: Factors, p: DispositionParams
) -> None:
    result = evaluate(findings, f, p)
    illegal = any(x.suspected_illegal for x in findings)
    assert result.refer is illegal
    assert ("R1" in result.rule_ids) is illegal


@given(finding_lists(), factors, disposition_params)
def test_no_violation_exactly_without_findings(
    findings: list[FindingInput], f: Factors, p: DispositionParams
) -> None:
    result = evaluate(findings, f, p)
    assert (result.minimum is Disposition.NO_VIOLATION) is (not findings)
    assert ("D1" in result.rule_ids) is (not findings)


@given(finding_lists(), factors, disposition_params)
def test_agrees_with_a_plain_reading_of_the_rules(
    findings: list[FindingInput], f: Factors, p: DispositionParams
) -> None:
    """The rules as a policy analyst would write them down, computed another way."""
    if not findings:
        expected = Disposition.NO_VIOLATION
    else:
        bump = (p.recidivism_aggravates and f.prior_cases > 0) + (
            p.school_use_aggravates and f.used_by_schools
        )
        effective = [min(severity_rank(x.severity) + bump, 2) for x in findings]
        threshold = severity_rank(Severity(p.takedown_severity))
        takedown = (
            any(e >= threshold for e in effective)
            or sum(e >= 1 for e in effective) >= p.takedown_serious_count
            or (p.lacking_responsibility_takedown and f.seriously_lacking_responsibility)
        )
        expected = Disposition.TAKEDOWN if takedown else Disposition.INTERVIEW_RECTIFY
    assert evaluate(findings, f, p).minimum is expected


@pytest.mark.parametrize(
    ("severities", "factor", "minimum", "rules"),
    [
        ((), Factors(), "no_violation", ("D1",)),
        (("minor",), Factors(), "interview_rectify", ("D2",)),
        (("serious", "serious"), Factors(), "interview_rectify", ("D2",)),
        (("severe",), Factors(), "takedown", ("D2", "D5")),
        (("serious",) * 3, Factors(), "takedown", ("D2", "D6")),
        (("serious",), Factors(prior_cases=1), "takedown", ("D2", "D3", "D5")),
        (("minor",), Factors(prior_cases=2), "interview_rectify", ("D2", "D3")),
        (("minor",), Factors(used_by_schools=True), "interview_rectify", ("D2",)),
        (
            ("minor",),
            Factors(seriously_lacking_responsibility=True),
            "takedown",
            ("D2", "D7"),
        ),
        (
            (),
            Factors(seriously_lacking_responsibility=True, prior_cases=3),
            "no_violation",
            ("D1",),
        ),
    ],
)
def test_hunan_2018_examples(
    severities: tuple[str, ...], factor: Factors, minimum: str, rules: tuple[str, ...]
) -> None:
    findings = [FindingInput("vulgar_pornographic", Severity(s)) for s in severities]
    result = evaluate(findings, factor, HUNAN_PARAMS, HUNAN.policy.version)
    assert (result.minimum.value, result.rule_ids) == (minimum, rules)
    assert result.policy_version == "hunan-2018/1"


# --- the judge guard, through the engine ----------------------------------------------------


@pytest.fixture(scope="module")
def judge_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseEngine]:
    """One SQLite file for every example; each example judges a case of its own, with an
    operator of its own (no prior cases)."""
    path: Path = tmp_path_factory.mktemp("judge") / "cases.sqlite"
    clock = FixedClock(local(4, 30, 12))
    engine = init_database(f"sqlite:///{path}", "hunan-2018", clock)
    register_actors(engine)
    engine.add_actor("prov-override", role="cac_province", jurisdiction="430000", by=ADMIN)
    yield engine
    engine.close()


_numbers = itertools.count(1000)


@given(
    findings=finding_lists(max_size=4),
    lacking=st.booleans(),
    chosen=dispositions,
    reason=st.sampled_from([None, "", "  ", "情节恶劣，从严处置"]),
    override=st.booleans(),
)
def test_judge_guard_enforces_the_policy_minimum(
    judge_engine: CaseEngine,
    findings: list[FindingInput],
    lacking: bool,
    chosen: Disposition,
    reason: str | None,
    override: bool,
) -> None:
    engine = judge_engine
    case = engine.survey(unique_app(next(_numbers)), actor="cs-cac", at=local(2, 20, 9))
    engine.fire(
        case.id,
        "flag",
        actor="cs-cac",
        payload={"evidence": [{"harm_category": "other", "description": "截图"}]},
        at=local(2, 21),
    )
    expected = evaluate(findings, Factors(seriously_lacking_responsibility=lacking), HUNAN_PARAMS)
    payload = {
        "findings": [
            {
                "harm_category": x.harm_category,
                "severity": x.severity.value,
                "suspected_illegal": x.suspected_illegal,
                "evidence_refs": [1],
            }
            for x in findings
        ],
        "disposition": chosen.value,
        "seriously_lacking_responsibility": lacking,
    }
    ovr = None
    if override:  # the province's consent, recorded by the province
        grant = grant_override(
            engine,
            by="prov-override",
            event="judge",
            reason="经省网信办批准从轻处置",
            case_id=case.id,
        )
        ovr = {"grant": grant.id}
    milder = disposition_rank(chosen) < disposition_rank(expected.minimum)
    stricter = disposition_rank(chosen) > disposition_rank(expected.minimum)
    has_reason = bool((reason or "").strip())
    needs_findings = not findings and chosen is not Disposition.NO_VIOLATION
    should_pass = not needs_findings and (not milder or override) and (not stricter or has_reason)

    def judge() -> dict[str, Any]:
        view = engine.fire(
            case.id,
            "judge",
            actor="cs-edu",
            payload=payload,
            at=local(3, 12),
            reason=reason,
            override=ovr,
        )
        return view.model_dump()

    if not should_pass:
        with pytest.raises(GuardRejected) as refused:
            judge()
        codes = {r.code for r in refused.value.rejections}
        assert ("disposition_minimum" in codes) is (
            (milder and not override) or (stricter and not has_reason)
        )
        assert engine.get(case.id).state == "flagged"
        return
    view = judge()
    recorded = view["payload"]["policy"]
    assert recorded["version"] == HUNAN.policy.version
    assert recorded["minimum"] == expected.minimum.value
    assert recorded["refer"] is expected.refer
    assert [r["id"] for r in recorded["rules"]] == list(expected.rule_ids)
    if milder:
        assert view["override"] is not None
        assert "disposition_minimum" in view["override"]["waived"]
        assert view["override"]["authorised_by"] == "prov-override"
    else:
        assert view["override"] is None
    stored = engine.get(case.id)
    assert (stored.state, stored.disposition, stored.suspected_illegal) == (
        "judged",
        chosen.value,
        expected.refer,
    )
