"""Asking the disposition policy what it says, without judging: for findings and
circumstances given outright, or for a case (its facts from the database, its findings from
its latest judgment unless given).

The rules themselves are :mod:`appcase.policies.disposition`; this module validates the
findings against the campaign and gathers the circumstances, as the ``judge`` command does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from appcase.errors import InvalidInput
from appcase.policies import disposition
from appcase.policies.campaign import Campaign
from appcase.workflow.commands import Finding, JudgePayload

if TYPE_CHECKING:
    from appcase.workflow.engine import CaseEngine

__all__ = ["Explanation", "explain_case", "explain_findings"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the disposition policy says, and on what.

    Attributes:
        campaign_id: the campaign whose policy answered.
        result: the minimum disposition, the referral, the rules that fired and the
            circumstances (factors) they fired on.
        findings: the findings the policy was asked about, validated.
        case_id: the case explained, or ``None`` for findings given outright.
        source: where the findings came from: ``"given"``, or ``"judgment #N"`` (the
            case's latest judgment, event number N).
        recorded: the policy's answer recorded with the case's latest judgment
            (``{"seq": N, "version", "minimum", "refer", "rules", "factors"}``), or
            ``None`` if the case has none (or findings were given outright).
    """

    campaign_id: str
    result: disposition.DispositionResult
    findings: tuple[Finding, ...]
    case_id: str | None = None
    source: str = "given"
    recorded: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The explanation as JSON data, as ``appcase --json policy explain`` prints it and
        the HTTP API answers it.

        Returns:
            ``{"campaign", "policy_version", "case", "findings_from", "findings",
            "factors", "minimum", "refer", "rules"}`` and ``"recorded"`` when the case's
            latest judgment recorded the policy's answer; each finding
            ``{"harm_category", "severity", "suspected_illegal", "evidence_refs"}``, each
            rule ``{"id", "text", "source", "detail"}``.
        """
        result = self.result
        body: dict[str, Any] = {
            "campaign": self.campaign_id,
            "policy_version": result.policy_version,
            "case": self.case_id,
            "findings_from": self.source,
            "findings": [
                {
                    "harm_category": f.harm_category,
                    "severity": f.severity.value,
                    "suspected_illegal": f.suspected_illegal,
                    "evidence_refs": list(f.evidence_refs),
                }
                for f in self.findings
            ],
            "factors": result.as_record()["factors"],
            "minimum": result.minimum.value,
            "refer": result.refer,
            "rules": [
                {"id": r.id, "text": r.text, "source": r.source, "detail": r.detail}
                for r in result.rules
            ],
        }
        if self.recorded is not None:
            body["recorded"] = self.recorded
        return body


def explain_findings(
    campaign: Campaign,
    findings: Sequence[Finding | Mapping[str, Any]],
    *,
    prior_cases: int = 0,
    seriously_lacking_responsibility: bool = False,
    used_by_schools: bool = False,
) -> Explanation:
    """What the campaign's disposition policy says of findings and circumstances given.

    Args:
        campaign: the campaign whose policy to ask.
        findings: the findings (``Finding`` or mappings with its fields: ``harm_category``,
            ``severity``, optional ``evidence_refs`` and ``suspected_illegal``).
        prior_cases: earlier interview or takedown judgments of the same app or operator.
        seriously_lacking_responsibility: 主体责任落实严重不到位, as judged.
        used_by_schools: whether the app is used by schools.

    Returns:
        The :class:`Explanation` (``case_id`` ``None``, ``source`` ``"given"``).

    Raises:
        InvalidInput: a malformed finding, or a harm category the campaign does not have.
    """
    parsed = _findings(campaign, findings)
    result = disposition.evaluate(
        [
            disposition.FindingInput(f.harm_category, f.severity, f.suspected_illegal)
            for f in parsed
        ],
        disposition.Factors(
            prior_cases=prior_cases,
            seriously_lacking_responsibility=seriously_lacking_responsibility,
            used_by_schools=used_by_schools,
        ),
        campaign.policy.disposition,
        campaign.policy.version,
    )
    return Explanation(campaign.id, result, parsed)


def explain_case(
    engine: CaseEngine,
    case_id: str,
    findings: Sequence[Finding | Mapping[str, Any]] = (),
    *,
    seriously_lacking_responsibility: bool = False,
    at: datetime | None = None,
) -> Explanation:
    """What the disposition policy says of a judgment of a case, without firing it.

    The circumstances (prior cases of the app or operator, school use) come from the
    database, as for the ``judge`` command. The findings are those given, else those of the
    case's latest judgment (whose "seriously lacking responsibility" then counts too, and
    whose time is the default instant).

    Args:
        engine: the engine of the case's campaign.
        case_id: the case.
        findings: findings to judge on; empty: the latest judgment's.
        seriously_lacking_responsibility: 主体责任落实严重不到位, as judged.
        at: the instant of the judgment, aware; prior cases are those judged before it
            (default: the latest judgment's time when its findings are used, else now).

    Returns:
        The :class:`Explanation`, with the policy's answer recorded with the case's latest
        judgment, if it has one.

    Raises:
        CaseNotFound: no such case.
        InvalidInput: no findings given and the case has no judgment yet; a malformed
            finding or an unknown harm category.
    """
    judgments = [e for e in engine.history(case_id) if e.event == "judge"]
    latest = judgments[-1] if judgments else None
    if findings:
        parsed, source = _findings(engine.campaign, findings), "given"
    elif latest is not None:
        parsed = _findings(engine.campaign, latest.payload.get("findings", []))
        lacking = bool(latest.payload.get("seriously_lacking_responsibility"))
        seriously_lacking_responsibility = seriously_lacking_responsibility or lacking
        source = f"judgment #{latest.seq}"
        at = at or latest.occurred_at
    else:
        raise InvalidInput(
            f"case {case_id} has no judgment yet", "give the findings to judge it on"
        )
    payload = JudgePayload(
        findings=parsed, seriously_lacking_responsibility=seriously_lacking_responsibility
    )
    result = engine.explain_judgment(case_id, payload, at)
    recorded = None
    if latest is not None and "policy" in latest.payload:
        recorded = {"seq": latest.seq, **latest.payload["policy"]}
    return Explanation(engine.campaign.id, result, parsed, case_id, source, recorded)


def _findings(
    campaign: Campaign, findings: Sequence[Finding | Mapping[str, Any]]
) -> tuple[Finding, ...]:
    try:
        parsed = tuple(f if isinstance(f, Finding) else Finding.model_validate(f) for f in findings)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(value)'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"a finding is not valid: {problems}") from None
    known = campaign.harm_category_ids
    unknown = sorted({f.harm_category for f in parsed} - known)
    if unknown:
        raise InvalidInput(
            f"unknown harm categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(unknown)}; the campaign's are: {', '.join(sorted(known))}"
        )
    return parsed
