"""State, event and scale definitions (see the README's glossary for the Chinese terms)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Disposition",
    "EscalationGround",
    "Event",
    "JudicialState",
    "Severity",
    "State",
    "Track",
]


class Track(StrEnum):
    """The two independent tracks of a case, each a column of its own."""

    ADMINISTRATIVE = "administrative"
    JUDICIAL = "judicial"


class State(StrEnum):
    """States of the administrative track (``case.state``).

    ``new`` is the state of a case before its first event; no stored case is ever ``new``.
    """

    NEW = "new"
    SURVEYED = "surveyed"  # 摸排建档
    FLAGGED = "flagged"  # 发现取证
    JUDGED = "judged"  # 研判
    INTERVIEWED = "interviewed"  # 约谈
    PLEDGED = "pledged"  # 签订整改承诺书
    RECTIFIED = "rectified"  # 整改到位
    ESCALATED_FOR_TAKEDOWN = "escalated_for_takedown"  # 提出下架、关停建议
    TAKEN_DOWN = "taken_down"  # 下架、关停服务


class JudicialState(StrEnum):
    """States of the judicial track (``case.judicial_state``)."""

    NOT_REFERRED = "not_referred"
    REFERRED_TO_JUDICIARY = "referred_to_judiciary"  # 交由司法部门依法处置


class Event(StrEnum):
    """Events (triggers) of both tracks. The CLI spells them with dashes (``take-down``)."""

    SURVEY = "survey"
    FLAG = "flag"
    ADD_EVIDENCE = "add_evidence"
    JUDGE = "judge"
    DISMISS = "dismiss"
    INTERVIEW = "interview"
    PLEDGE = "pledge"
    RECTIFY = "rectify"
    ESCALATE = "escalate"
    TAKE_DOWN = "take_down"
    RETURN_FOR_RECTIFICATION = "return_for_rectification"
    REFER = "refer"


class Severity(StrEnum):
    """Severity of a finding, ordered ``minor < serious < severe``."""

    MINOR = "minor"
    SERIOUS = "serious"
    SEVERE = "severe"

    @property
    def rank(self) -> int:
        """0, 1 or 2, in the order of the scale."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = (Severity.MINOR, Severity.SERIOUS, Severity.SEVERE)


class Disposition(StrEnum):
    """Outcome of a judgment, ordered ``no_violation < interview_rectify < takedown``.

    Source: 三(二) 研判整治, "约谈整改一批、关停下架一批".
    """

    NO_VIOLATION = "no_violation"
    INTERVIEW_RECTIFY = "interview_rectify"  # 约谈整改
    TAKEDOWN = "takedown"  # 关停下架

    @property
    def rank(self) -> int:
        """0, 1 or 2, in the order of the scale."""
        return _DISPOSITION_ORDER.index(self)


_DISPOSITION_ORDER = (Disposition.NO_VIOLATION, Disposition.INTERVIEW_RECTIFY, Disposition.TAKEDOWN)


class EscalationGround(StrEnum):
    """Why a case is escalated for takedown (source: 三(二))."""

    TAKEDOWN_DISPOSITION = "takedown_disposition"  # judged: takedown
    PLEDGE_REFUSED = "pledge_refused"  # interviewed, operator would not sign
    RECTIFICATION_FAILED = "rectification_failed"  # 整改不到位
    RECTIFICATION_OVERDUE = "rectification_overdue"  # deadline passed (the sweep)
