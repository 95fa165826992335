"""Disposition policy: "interview and rectify some, take down some" (约谈整改一批、关停下架一批).

Input: the findings of a judgment and the circumstances of the app. Output: the minimum
disposition, whether to refer to the judiciary, and every rule that fired.

Rules, in order (thresholds from the campaign file's ``policy.disposition``; sections are
those of 湘网信办综〔2018〕1号 unless named otherwise):

* **D1** no finding → ``no_violation``.
* **D2** any finding → at least ``interview_rectify`` (二: 约谈一批传播违法违规和不良信息的
  ...运营方, 督促整改; 三(二): 约谈...指出存在的问题, 责令限期整改).
* **D3** recidivism: a prior case of the same app or operator (an earlier judgment of
  interview or takedown, in this or an earlier campaign) raises every finding's effective
  severity one step (互联网新闻信息服务单位约谈工作规定, CAC 2015: repeat offenders are treated
  more severely). Configurable: ``recidivism_aggravates``.
* **D4** school use raises every finding's effective severity one step (configurable
  default: off). Configurable: ``school_use_aggravates``.
* **D5** a finding at effective severity ``takedown_severity`` or worse → ``takedown``
  (二: 关停下架一批传播违法违规信息情况严重的). A campaign file may give instead a ladder,
  ``minimum_by_severity``: each finding calls for at least the disposition its effective
  severity maps to.
* **D6** ``takedown_serious_count`` findings at effective severity ``serious`` or worse →
  ``takedown`` (configurable default: 3).
* **D7** seriously lacking responsibility (主体责任落实严重不到位) with any finding →
  ``takedown`` (三(二)). Configurable: ``lacking_responsibility_takedown``.
* **R1** a finding of suspected illegality → refer to the judiciary (三(二): 对涉嫌违法的,
  按法律规定交由司法部门依法处置). Referral is exactly this rule (unless a campaign file
  sets ``refer_when_taken_down = false``, which skips it for takedowns).

With the default parameters every rule is monotone: more findings, a higher severity or more
prior cases never give a milder disposition. A campaign file's ladder or referral switch can
break that; ``appcase policy check`` (:mod:`appcase.testing`) finds where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from appcase.policies.campaign import DispositionParams
from appcase.states import Disposition, Severity

__all__ = [
    "PRIOR_CASE_DISPOSITIONS",
    "RULES",
    "DispositionResult",
    "Factors",
    "FindingInput",
    "RuleFired",
    "evaluate",
]

RULES: dict[str, tuple[str, str]] = {
    "D1": ("no finding: no violation", "三(二) 对取证信息组织开展研判"),
    "D2": ("a finding: interview and rectify at least", "二, 三(二) 约谈整改一批"),
    "D3": (
        "prior case of the same app or operator: severity +1",
        "互联网新闻信息服务单位约谈工作规定 (CAC 2015): repeat offenders",
    ),
    "D4": ("app used by schools: severity +1", "configurable default"),
    "D5": ("a finding at the takedown severity: takedown", "二 关停下架一批...情况严重的"),
    "D6": ("several serious findings: takedown", "configurable default"),
    "D7": ("seriously lacking responsibility: takedown", "三(二) 主体责任落实严重不到位"),
    "R1": ("suspected illegality: refer to the judiciary", "三(二) 对涉嫌违法的...交由司法部门"),
}
"""Rule id → (what it says, where it comes from)."""


@dataclass(frozen=True, slots=True)
class FindingInput:
    """One finding as the policy sees it.

    Attributes:
        harm_category: a harm category id of the campaign, e.g. ``"vulgar_pornographic"``.
        severity: ``minor``, ``serious`` or ``severe``.
        suspected_illegal: whether the finding suggests a crime (涉嫌违法).
    """

    harm_category: str
    severity: Severity
    suspected_illegal: bool = False


PRIOR_CASE_DISPOSITIONS: tuple[Disposition, ...] = (
    Disposition.INTERVIEW_RECTIFY,
    Disposition.TAKEDOWN,
)
"""Rule D3: the dispositions of an earlier judgment that make the app or operator a repeat
offender (an earlier ``no_violation`` does not count) -- CAC interview rules (2015): a
repeat offender is treated more severely."""


@dataclass(frozen=True, slots=True)
class Factors:
    """Circumstances of the app that weigh on the disposition.

    Attributes:
        prior_cases: earlier judgments of ``interview_rectify`` or ``takedown`` of the same
            app (same name or ICP filing) or the same operator (same credit code), in this or
            earlier campaigns, including an earlier round of this case (≥ 0; rule D3).
        seriously_lacking_responsibility: 主体责任落实严重不到位, as judged.
        used_by_schools: whether schools use the app (from the ledger).
    """

    prior_cases: int = 0
    seriously_lacking_responsibility: bool = False
    used_by_schools: bool = False


@dataclass(frozen=True, slots=True)
class RuleFired:
    """A rule that fired, with its provenance.

    Attributes:
        id: e.g. ``"D5"``; see :data:`RULES`.
        text: what the rule says.
        source: the section of the source document, or "configurable default".
        detail: what in the input made it fire.
    """

    id: str
    text: str
    source: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DispositionResult:
    """The policy's answer.

    Attributes:
        minimum: the mildest disposition the policy allows.
        refer: whether to refer to the judiciary.
        rules: every rule that fired, in rule order.
        policy_version: the campaign's policy version the answer was computed under.
        factors: the circumstances it was computed on (so that it can be recomputed).
    """

    minimum: Disposition
    refer: bool
    rules: tuple[RuleFired, ...] = field(default_factory=tuple)
    policy_version: str = ""
    factors: Factors = field(default_factory=Factors)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The ids of the rules that fired."""
        return tuple(r.id for r in self.rules)

    def as_record(self) -> dict[str, Any]:
        """The answer as stored in a ``judge`` event's payload under ``"policy"``.

        Returns:
            ``{"version": str, "minimum": str, "refer": bool, "rules": [{"id", "detail",
            "source"}, ...], "factors": {"prior_cases": int, "seriously_lacking_responsibility":
            bool, "used_by_schools": bool}}`` -- JSON-ready, so that an auditor can read which
            rules decided the minimum, and recompute it from the event's findings, without
            the database of that day.
        """
        return {
            "version": self.policy_version,
            "minimum": self.minimum.value,
            "refer": self.refer,
            "rules": [{"id": r.id, "detail": r.detail, "source": r.source} for r in self.rules],
            "factors": {
                "prior_cases": self.factors.prior_cases,
                "seriously_lacking_responsibility": self.factors.seriously_lacking_responsibility,
                "used_by_schools": self.factors.used_by_schools,
            },
        }


def _fire(rule_id: str, detail: str) -> RuleFired:
    text, source = RULES[rule_id]
    return RuleFired(rule_id, text, source, detail)


def evaluate(
    findings: Sequence[FindingInput],
    factors: Factors,
    params: DispositionParams,
    policy_version: str = "",
) -> DispositionResult:
    """Compute the minimum disposition and the referral for a judgment.

    Pure and total: defined for every input (harm categories are not checked here; the
    ``findings`` guard checks them against the campaign), deterministic, independent of the
    order of ``findings``, and monotone: adding a finding, raising a severity, raising
    ``prior_cases`` or setting a factor never gives a milder minimum. Referral (R1) holds
    exactly when some finding is suspected illegal.

    Args:
        findings: the judgment's findings (possibly none).
        factors: circumstances of the app.
        params: the campaign's thresholds (``Campaign.policy.disposition``).
        policy_version: recorded in the result (``Campaign.policy.version``).

    Returns:
        The :class:`DispositionResult`: minimum, referral and the rules fired in rule order.
    """
    fired: list[RuleFired] = []
    if not findings:
        fired.append(_fire("D1", "no findings"))
        return DispositionResult(
            Disposition.NO_VIOLATION, False, tuple(fired), policy_version, factors
        )

    fired.append(_fire("D2", f"{len(findings)} finding(s)"))
    bump = 0
    if params.recidivism_aggravates and factors.prior_cases > 0:
        bump += 1
        fired.append(_fire("D3", f"{factors.prior_cases} prior case(s)"))
    if params.school_use_aggravates and factors.used_by_schools:
        bump += 1
        fired.append(_fire("D4", "used by schools"))

    ranks = sorted(
        (min(f.severity.rank + bump, Severity.SEVERE.rank) for f in findings), reverse=True
    )
    minimum = Disposition.INTERVIEW_RECTIFY
    ladder = params.minimum_by_severity
    if ladder is not None:
        calls = {str(k): str(v) for k, v in ladder.items()}
        called = [r for r in dict.fromkeys(ranks) if calls.get(_name(r)) == "takedown"]
        if called:
            minimum = Disposition.TAKEDOWN
            fired.append(
                _fire(
                    "D5",
                    f"effective severity {_name(called[0])}: policy.disposition."
                    f"minimum_by_severity.{_name(called[0])} = takedown",
                )
            )
    elif ranks[0] >= Severity(params.takedown_severity).rank:
        minimum = Disposition.TAKEDOWN
        fired.append(_fire("D5", f"effective severity {_name(ranks[0])}"))
    serious = sum(1 for r in ranks if r >= Severity.SERIOUS.rank)
    if serious >= params.takedown_serious_count:
        minimum = Disposition.TAKEDOWN
        fired.append(_fire("D6", f"{serious} finding(s) serious or worse"))
    if params.lacking_responsibility_takedown and factors.seriously_lacking_responsibility:
        minimum = Disposition.TAKEDOWN
        fired.append(_fire("D7", "judged seriously lacking responsibility"))

    illegal = sorted({f.harm_category for f in findings if f.suspected_illegal})
    if minimum is Disposition.TAKEDOWN and not params.refer_when_taken_down:
        illegal = []
    if illegal:
        fired.append(_fire("R1", "suspected illegal: " + ", ".join(illegal)))
    return DispositionResult(minimum, bool(illegal), tuple(fired), policy_version, factors)


def _name(rank: int) -> str:
    return (Severity.MINOR, Severity.SERIOUS, Severity.SEVERE)[rank].value
