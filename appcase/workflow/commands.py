"""Typed command payloads (what an operator or a calling system sends with each event).

Payload models check *shape* (types, formats): a malformed payload is bad input
(:class:`~appcase.errors.InvalidInput`, exit 2). Whether a payload is *complete enough* for
the event -- evidence present, two officers, every commitment verified -- is decided by the
guards, so that a refusal lists every missing part together with every other failed guard.

All datetimes are timezone-aware instants (any zone); dates are local dates of the
campaign's zone.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from appcase.limits import MAX_NAME_CHARS, MAX_TEXT_CHARS
from appcase.states import Disposition, EscalationGround, Event, Severity
from appcase.states.identifiers import validate_icp_filing, validate_uscc

__all__ = [
    "PAYLOADS",
    "AppIdentity",
    "CommitmentCheck",
    "DismissPayload",
    "EscalatePayload",
    "Evidence",
    "Finding",
    "FlagPayload",
    "InterviewPayload",
    "JudgePayload",
    "Override",
    "PledgePayload",
    "RectifyPayload",
    "ReferPayload",
    "Reporter",
    "ReturnPayload",
    "SurveyPayload",
    "TakeDownPayload",
]

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


def _control_characters(value: object, path: str = "") -> str | None:
    """The path of the first string holding a control character (NUL, escapes…), if any.

    Line breaks and tabs are allowed; every other character of Unicode category Cc is not:
    such text is unprintable, breaks terminals and reports, and PostgreSQL refuses NUL.
    """
    if isinstance(value, str):
        bad = next(
            (c for c in value if unicodedata.category(c) == "Cc" and c not in "\n\r\t"), None
        )
        return None if bad is None else f"{path or 'value'} (U+{ord(bad):04X})"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _control_characters(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _control_characters(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def is_blank(text: str | None) -> bool:
    """Whether ``text`` is empty once white space and invisible format characters (zero-width
    spaces, Unicode category Cf) are removed."""
    return not text or all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _printable(cls, data: object) -> object:
        where = _control_characters(data)
        if where is not None:
            raise ValueError(f"{where} holds a control character; remove it")
        return data


class AppIdentity(_Payload):
    """An app as listed in the ledger (管理台账).

    Attributes:
        name: the app's name, e.g. ``"星火作业帮手"``.
        operator: the operating company (运营方).
        uscc: its unified social credit code (统一社会信用代码, 18 characters, GB 32100-2015;
            the check character is verified).
        icp_filing: ICP filing number (ICP备案号), e.g. ``"湘ICP备18001234号-1"``, if any.
        platforms: distribution platforms (app stores).
        target_users: who the app is for, e.g. ``"小学生"``.
        used_by_schools: whether schools cooperate with or use the app.
        prefecture: GB/T 2260 code of the prefecture whose ledger lists the app.
    """

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    operator: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    uscc: str
    icp_filing: str | None = None
    platforms: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(
        default=(), max_length=50
    )
    target_users: str = Field(default="", max_length=MAX_NAME_CHARS)
    used_by_schools: bool = False
    prefecture: Annotated[str, Field(pattern=r"^[1-9][0-9]{5}$")]

    @field_validator("name", "operator", "target_users", "icp_filing")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(c in value for c in "\n\r\t\u2028\u2029"):
            raise ValueError("must be one line: no line break or tab")
        return value

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str) -> str:
        return validate_uscc(value)

    @field_validator("icp_filing")
    @classmethod
    def _icp(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return validate_icp_filing(value)


class SurveyPayload(_Payload):
    """``survey``: put an app into the campaign's ledger (摸排建档)."""

    app: AppIdentity


class Reporter(_Payload):
    """A hotline reporter (举报人): confidential.

    Stored apart from the case in the ``reporters`` table; the event records only an opaque
    ``reporter_ref``. Never printed, logged, exported or hashed.
    """

    name: str = Field(default="", max_length=200, repr=False)
    contact: str = Field(default="", max_length=200, repr=False)


class Evidence(_Payload):
    """One item of evidence (取证).

    Attributes:
        harm_category: a harm category id of the campaign (歪曲历史 ``distorting_history`` …).
        description: what was seen.
        source: how it was found: patrol (巡查), hotline report (举报), a school, the media.
        locator: where it can be found again (URL, screen path, version).
        captured_at: when it was captured (aware), if known.
        attachment_sha256: SHA-256 (hex) of a stored screenshot or recording, if any.
        reporter: for a hotline report, the reporter's name and contact (confidential:
            kept out of the event, see :class:`Reporter`).
    """

    harm_category: str = Field(min_length=1, max_length=64)
    description: Text = Field(min_length=1)
    source: Literal["patrol", "hotline", "school", "media", "other"] = "patrol"
    locator: str = Field(default="", max_length=2000)
    captured_at: AwareDatetime | None = None
    attachment_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    reporter: Reporter | None = Field(default=None, exclude=True, repr=False)


class FlagPayload(_Payload):
    """``flag`` and ``add_evidence``: evidence of harmful content was found (at least one
    item, guarded). ``add_evidence`` joins more evidence (a later patrol, a hotline report)
    to a case's open flag."""

    evidence: tuple[Evidence, ...] = ()


class Finding(_Payload):
    """A finding of the judgment (研判).

    Attributes:
        harm_category: a harm category id of the campaign.
        severity: ``minor``, ``serious`` or ``severe``.
        evidence_refs: numbers of this case's evidence items (1, 2, … in order of flagging)
            that support the finding.
        suspected_illegal: whether the finding suggests a crime (涉嫌违法).
        note: free text.
    """

    harm_category: str = Field(min_length=1, max_length=64)
    severity: Severity
    evidence_refs: tuple[Annotated[int, Field(ge=1)], ...] = ()
    suspected_illegal: bool = False
    note: Text = ""


class JudgePayload(_Payload):
    """``judge``: findings and the chosen disposition (处置建议).

    Attributes:
        findings: the findings (guarded: at least one, unless the disposition is
            ``no_violation``).
        disposition: the disposition chosen; guarded against the policy's minimum.
        seriously_lacking_responsibility: 主体责任落实严重不到位, as judged.
    """

    findings: tuple[Finding, ...] = ()
    disposition: Disposition | None = None
    seriously_lacking_responsibility: bool = False


class DismissPayload(_Payload):
    """``dismiss``: close a judgment of no violation; the case returns to ``surveyed``."""


class InterviewPayload(_Payload):
    """``interview``: the record of an interview of the operator (约谈).

    Every field is required by the interview guard (CAC 约谈 rules, 2015).

    Attributes:
        notice_given_at: when the operator was notified of reason, time, place, participants.
        held_at: when the interview was held.
        place: where.
        officers: names of the attending officers (at least two).
        operator_representatives: who attended for the operator.
        problems: the problems pointed out (指出存在的问题).
        rectification_deadline: the deadline set (责令限期整改), a local date.
    """

    notice_given_at: AwareDatetime | None = None
    held_at: AwareDatetime | None = None
    place: str = Field(default="", max_length=500)
    officers: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = ()
    operator_representatives: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = ()
    problems: tuple[Annotated[str, Field(min_length=1, max_length=4000)], ...] = ()
    rectification_deadline: date | None = None


class PledgePayload(_Payload):
    """``pledge``: the signed rectification pledge (整改承诺书).

    Attributes:
        signed_by: who signed for the operator.
        signed_at: when.
        commitments: what the operator commits to (清理信息、完善内容审核、应急值班 …).
        deadline: the rectification deadline, a local date.
    """

    signed_by: str = Field(default="", max_length=200)
    signed_at: AwareDatetime | None = None
    commitments: tuple[Annotated[str, Field(min_length=1, max_length=2000)], ...] = ()
    deadline: date | None = None


class CommitmentCheck(_Payload):
    """Verification of one pledged commitment.

    Attributes:
        commitment: the commitment's text, exactly as pledged, or its number (1-based).
        verified: whether it was found done.
        note: how it was checked.
    """

    commitment: str = Field(min_length=1, max_length=2000)
    verified: bool
    note: Text = ""


class RectifyPayload(_Payload):
    """``rectify``: the verification of the rectification (整改到位)."""

    checks: tuple[CommitmentCheck, ...] = ()


class EscalatePayload(_Payload):
    """``escalate``: propose takedown to the province (提出下架、关停服务建议).

    Attributes:
        ground: why (guarded against the case's state and records).
    """

    ground: EscalationGround | None = None


class TakeDownPayload(_Payload):
    """``take_down``: the province's decision (下架、关停服务).

    Attributes:
        decision_no: the decision document's number.
        measure: what is ordered.
    """

    decision_no: str = Field(default="", max_length=200)
    measure: Literal["takedown", "service_shutdown", "takedown_and_shutdown"] = "takedown"


class ReturnPayload(_Payload):
    """``return_for_rectification``: the province sends a case back for another interview."""


class ReferPayload(_Payload):
    """``refer``: referral to the judiciary (交由司法部门依法处置).

    Attributes:
        authority: the receiving authority, e.g. ``"长沙市公安局"``.
    """

    authority: str = Field(default="", max_length=200)


class Override(_Payload):
    """An override: acting after a phase window closed (逾期办理), or below the policy's
    minimum, authorised and audited. Exactly one of:

    * ``grant``: the id of a grant the authorising officer recorded for this case and
      event (:func:`appcase.workflow.grants.grant_override`); the event records the grant,
      its authoriser and its reason;
    * ``reason``: the acting officer authorises it themselves; their own role must be
      allowed to override (campaign file ``may_override``) and cover the case.

    Attributes:
        reason: why the act is late (self-authorised override).
        grant: the id of the override grant to use.
        authorised_by: kept for older callers: it may only name the acting officer;
            naming another officer is refused (that officer records a grant instead).
    """

    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    grant: str | None = Field(default=None, min_length=1, max_length=32)
    authorised_by: str | None = Field(default=None, max_length=64)

    @field_validator("reason")
    @classmethod
    def _visible(cls, value: str | None) -> str | None:
        if value is not None and is_blank(value):
            raise ValueError("an override needs a reason one can read")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Override:
        if (self.reason is None) == (self.grant is None):
            raise ValueError(
                "give either a grant (the authoriser's consent, recorded with "
                "'appcase override grant') or a reason (to authorise it yourself), not both"
            )
        if self.grant is not None and self.authorised_by is not None:
            raise ValueError("a grant names its authoriser; do not give authorised_by")
        return self


PAYLOADS: dict[Event, type[BaseModel]] = {
    Event.SURVEY: SurveyPayload,
    Event.FLAG: FlagPayload,
    Event.ADD_EVIDENCE: FlagPayload,
    Event.JUDGE: JudgePayload,
    Event.DISMISS: DismissPayload,
    Event.INTERVIEW: InterviewPayload,
    Event.PLEDGE: PledgePayload,
    Event.RECTIFY: RectifyPayload,
    Event.ESCALATE: EscalatePayload,
    Event.TAKE_DOWN: TakeDownPayload,
    Event.RETURN_FOR_RECTIFICATION: ReturnPayload,
    Event.REFER: ReferPayload,
}
"""The payload model of each event."""
