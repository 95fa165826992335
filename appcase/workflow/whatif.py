"""What an amended policy would have said of the judgments already recorded.

Every ``judge`` event keeps, in its payload, the findings, the disposition chosen and the
policy's answer of that day (``payload["policy"]``: version, minimum, referral, the rules
that fired and the circumstances -- prior cases, school use, lacking responsibility -- they
fired on). :func:`what_if` re-evaluates each of those under an amended campaign's
``policy.disposition``, through the engine's public reads, and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from appcase.errors import InvalidInput
from appcase.policies.campaign import Campaign
from appcase.policies.disposition import Factors, FindingInput, evaluate
from appcase.states import Disposition, Severity

if TYPE_CHECKING:
    from appcase.workflow.engine import CaseEngine

__all__ = ["CampaignMismatch", "JudgmentWhatIf", "WhatIfReport", "campaign_differences", "what_if"]

_RANK = {Disposition.NO_VIOLATION: 0, Disposition.INTERVIEW_RECTIFY: 1, Disposition.TAKEDOWN: 2}


class CampaignMismatch(InvalidInput):
    """The amended campaign file describes another campaign than the database's.

    Attributes:
        differences: one ``"field: stored … / amended …"`` line per top-level field that
            differs (the ``policy`` aside, which is what may change).
    """

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        lines = "\n".join(f"  - {d}" for d in differences)
        super().__init__(
            "the amended file describes another campaign; only its policy may differ:\n" + lines,
            "amend a copy of the campaign file the database was made with -- for a built-in "
            "campaign, the file in the package's appcase/data folder -- changing [policy] alone",
        )


def campaign_differences(stored: Campaign, amended: Campaign) -> list[str]:
    """The top-level fields, other than ``policy``, in which two campaigns differ.

    Args:
        stored: the campaign the database holds.
        amended: the amended file.

    Returns:
        One line per differing field (empty: the same campaign).
    """
    a = stored.model_dump(mode="json")
    b = amended.model_dump(mode="json")
    out = []
    for name in a:
        if name == "policy" or a[name] == b[name]:
            continue
        left, right = _short(a[name]), _short(b[name])
        out.append(f"{name}: stored {left} / amended {right}")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(frozen=True, slots=True)
class JudgmentWhatIf:
    """One recorded judgment, re-evaluated.

    Attributes:
        case_id / prefecture / seq: the case, its GB/T 2260 prefecture code, and the event
            number of the judgment in the case's chain.
        recorded: the disposition chosen then.
        old_minimum / old_rules: the minimum and rule ids recorded with the judgment.
        new_minimum / new_rules: the amended policy's minimum and rule ids.
        old_refer / new_refer: the referral then and under the amended policy.
        waived: whether an override waived the minimum then.
        refused: why the amended policy's judge guard would refuse the recorded
            disposition (``None``: it would not).
    """

    case_id: str
    prefecture: str
    seq: int
    recorded: str
    old_minimum: str
    new_minimum: str
    old_rules: tuple[str, ...]
    new_rules: tuple[str, ...]
    old_refer: bool
    new_refer: bool
    waived: bool
    refused: str | None

    @property
    def changed(self) -> bool:
        """Whether the minimum differs under the amended policy."""
        return self.old_minimum != self.new_minimum

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, every attribute plus ``changed``."""
        return {
            "case_id": self.case_id,
            "prefecture": self.prefecture,
            "seq": self.seq,
            "recorded": self.recorded,
            "old_minimum": self.old_minimum,
            "new_minimum": self.new_minimum,
            "old_rules": list(self.old_rules),
            "new_rules": list(self.new_rules),
            "old_refer": self.old_refer,
            "new_refer": self.new_refer,
            "waived": self.waived,
            "changed": self.changed,
            "refused": self.refused,
        }


@dataclass(frozen=True, slots=True)
class WhatIfReport:
    """Every recorded judgment under the amended policy.

    Attributes:
        campaign_id: the campaign.
        old_version / new_version: the stored and the amended ``policy.version``.
        judgments: one entry per ``judge`` event, by case id and event number.
        counts: per prefecture code, per disposition: ``{"recorded", "old_minimum",
            "new_minimum"}`` counts of judgments.
    """

    campaign_id: str
    old_version: str
    new_version: str
    judgments: tuple[JudgmentWhatIf, ...]
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    @property
    def changed(self) -> tuple[JudgmentWhatIf, ...]:
        """The judgments whose minimum differs."""
        return tuple(j for j in self.judgments if j.changed)

    @property
    def refused(self) -> tuple[JudgmentWhatIf, ...]:
        """The judgments whose recorded disposition the amended policy would refuse."""
        return tuple(j for j in self.judgments if j.refused)


def what_if(
    engine: CaseEngine, amended: Campaign, *, prefectures: tuple[str, ...] = ()
) -> WhatIfReport:
    """Re-evaluate every recorded judgment under an amended campaign's policy; write nothing.

    Args:
        engine: an engine on the database (read through ``list_cases`` and ``history``).
        amended: the amended campaign: the same campaign as the engine's, its policy changed.
        prefectures: only cases of these GB/T 2260 codes (default: all).

    Returns:
        The :class:`WhatIfReport`.

    Raises:
        CampaignMismatch: ``amended`` differs from the stored campaign beyond its policy.
        InvalidInput: an unknown prefecture code.
    """
    differences = campaign_differences(engine.campaign, amended)
    if differences:
        raise CampaignMismatch(differences)
    params = amended.policy.disposition
    out: list[JudgmentWhatIf] = []
    counts: dict[str, dict[str, Counter[str]]] = {}
    for case in engine.list_cases(prefectures=prefectures):
        for ev in engine.history(case.id):
            if ev.event != "judge":
                continue
            payload = ev.payload
            policy = payload.get("policy", {})
            factors = Factors(**policy.get("factors", {}))
            findings = [
                FindingInput(
                    f["harm_category"], Severity(f["severity"]), bool(f.get("suspected_illegal"))
                )
                for f in payload.get("findings", [])
            ]
            new = evaluate(findings, factors, params, amended.policy.version)
            recorded = Disposition(payload["disposition"])
            waived = bool(ev.override and "disposition_minimum" in ev.override.get("waived", []))
            refused = None
            if _RANK[recorded] < _RANK[new.minimum] and not waived:
                refused = f"{recorded.value} is milder than the minimum {new.minimum.value}"
            elif _RANK[recorded] > _RANK[new.minimum] and not (ev.reason or "").strip():
                refused = f"{recorded.value} is stricter than {new.minimum.value} with no reason"
            item = JudgmentWhatIf(
                case_id=case.id,
                prefecture=case.prefecture,
                seq=ev.seq,
                recorded=recorded.value,
                old_minimum=policy.get("minimum", ""),
                new_minimum=new.minimum.value,
                old_rules=tuple(r["id"] for r in policy.get("rules", [])),
                new_rules=new.rule_ids,
                old_refer=bool(policy.get("refer")),
                new_refer=new.refer,
                waived=waived,
                refused=refused,
            )
            out.append(item)
            per = counts.setdefault(case.prefecture, {})
            for key, value in (
                ("recorded", item.recorded),
                ("old_minimum", item.old_minimum),
                ("new_minimum", item.new_minimum),
            ):
                per.setdefault(value, Counter())[key] += 1
    table = {
        code: {
            d: {k: per[d][k] for k in ("recorded", "old_minimum", "new_minimum")}
            for d in sorted(per, key=lambda d: _RANK.get(Disposition(d), 9))
        }
        for code, per in sorted(counts.items())
    }
    return WhatIfReport(
        engine.campaign.id,
        engine.campaign.policy.version,
        amended.policy.version,
        tuple(out),
        table,
    )
