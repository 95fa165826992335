"""The campaign file: everything campaign-specific, as validated data.

A campaign (专项整治) is described by a TOML file: its identity, time zone, phases (阶段)
with start and deadline dates, which phase windows each event may happen in, roles and
what they may do, jurisdictions (GB/T 2260 codes), harm categories and policy parameters.
Hunan 2018 (湘网信办综〔2018〕1号) is built in; another province or year is another file.

The format is documented field by field in ``docs/campaign-file.md`` and by the models
below. :func:`load_campaign` validates a file and refuses it with every problem named by
its field path.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appcase.errors import CampaignFileError, InvalidInput
from appcase.limits import (
    LIMITS,
    MAX_CAMPAIGN_FILE_BYTES,
    MAX_DAY_COUNT,
    UnreadableFile,
    check_structure,
    read_bounded,
    shown_text,
)
from appcase.states import Event

__all__ = [
    "BUILTIN_CAMPAIGNS",
    "Campaign",
    "DeadlineParams",
    "DispositionParams",
    "HarmCategory",
    "InterviewParams",
    "Jurisdiction",
    "Phase",
    "PolicyParams",
    "RoleSpec",
    "builtin_campaign",
    "load_campaign",
    "parse_campaign",
]

BUILTIN_CAMPAIGNS: dict[str, str] = {"hunan-2018": "hunan-2018.toml"}
"""Built-in campaign ids and their files under ``appcase/data``."""

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
RoleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Phase(_Strict):
    """A phase (阶段) of the campaign, inclusive of both dates, in the campaign's time zone.

    Attributes:
        id: short name used by ``windows``, e.g. ``"survey"``.
        name / name_zh: English and Chinese names.
        start: first day of the phase.
        deadline: last day of the phase ("完成" by that date); the whole day is inside.
        source: the section of the source document the dates come from.
    """

    id: Slug
    name: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    start: date
    deadline: date
    source: str = ""


class Jurisdiction(_Strict):
    """An administrative division by its GB/T 2260 code.

    Attributes:
        code: six digits, e.g. ``"430100"`` (长沙市).
        name_zh / name: Chinese and English names.
    """

    code: Annotated[str, Field(pattern=r"^[1-9][0-9]{5}$")]
    name_zh: str = Field(min_length=1)
    name: str = Field(min_length=1)


class RoleSpec(_Strict):
    """A role an actor can hold, and what it may do.

    Attributes:
        id: e.g. ``"cac_prefecture"`` (市州网信办).
        scope: ``"prefecture"`` -- acts only on cases of its own jurisdiction;
            ``"province"`` -- acts on every case of the campaign.
        events: the events this role may fire.
        may_override: whether this role may record an override to act after a window closed.
    """

    id: RoleId
    name_zh: str = Field(min_length=1)
    name: str = Field(min_length=1)
    scope: Literal["prefecture", "province"]
    events: tuple[Event, ...]
    may_override: bool = False


class HarmCategory(_Strict):
    """A category of harmful content (evidence and findings name one by ``id``)."""

    id: Slug
    name_zh: str = Field(min_length=1)
    name: str = Field(min_length=1)


class DispositionParams(_Strict):
    """Thresholds of the disposition policy (约谈整改一批、关停下架一批).

    All values are configurable defaults except where a field says otherwise; see
    :mod:`appcase.policies.disposition` for how each is used.

    Attributes:
        takedown_severity: a finding at or above this effective severity means takedown
            (source 二: "关停下架一批...情况严重的").
        takedown_serious_count: this many findings at effective severity ``serious`` or worse
            also mean takedown (configurable default: 3).
        recidivism_aggravates: a prior case of the same app or operator raises every
            finding's effective severity by one step (CAC 约谈 rules, 2015: repeat offenders
            are treated more severely).
        school_use_aggravates: use by schools raises effective severity by one step
            (configurable default: off).
        lacking_responsibility_takedown: seriously lacking responsibility (主体责任落实严重
            不到位) with any finding means takedown (source 三(二)).
        minimum_by_severity: optional ladder, effective severity → the mildest disposition a
            single finding of that severity calls for (``minor``, ``serious``, ``severe`` →
            ``interview_rectify`` or ``takedown``); when given it replaces
            ``takedown_severity`` in rule D5. A ladder that is not ordered (a worse severity
            mapped to a milder disposition) is accepted here and caught by the
            ``disposition_monotone`` property of ``appcase policy check``.
        refer_when_taken_down: rule R1 refers a suspected crime whatever the disposition
            (source 三(二), the default); ``false`` drops the referral when the minimum is
            takedown -- a drafting error that the ``referral_exact`` property catches.
    """

    takedown_severity: Literal["serious", "severe"] = "severe"
    takedown_serious_count: int = Field(default=3, ge=1, le=10_000)
    recidivism_aggravates: bool = True
    school_use_aggravates: bool = False
    lacking_responsibility_takedown: bool = True
    minimum_by_severity: (
        dict[Literal["minor", "serious", "severe"], Literal["interview_rectify", "takedown"]] | None
    ) = None
    refer_when_taken_down: bool = True


class DeadlineParams(_Strict):
    """Deadlines of interviews and pledges (configurable defaults; the source is silent).

    Attributes:
        pledge_default_days: a rectification deadline suggested this many days after the
            interview.
        pledge_cap_phase: no rectification deadline may fall after this phase's deadline.
        working_days: count ``pledge_default_days`` in official working days (China's
            holiday calendar) instead of calendar days.
        min_notice_hours: an interview must be notified at least this long before it is held
            (约谈 rules: notified in advance).
    """

    pledge_default_days: int = Field(default=10, ge=1, le=MAX_DAY_COUNT)
    pledge_cap_phase: Slug = "judgment"
    working_days: bool = False
    min_notice_hours: int = Field(default=24, ge=0, le=MAX_DAY_COUNT * 24)


class InterviewParams(_Strict):
    """Interview record requirements (CAC 约谈 rules, 2015: at least two officers)."""

    min_officers: int = Field(default=2, ge=1, le=1000)


class PolicyParams(_Strict):
    """All policy parameters of a campaign."""

    version: str = Field(default="1", min_length=1)
    disposition: DispositionParams = DispositionParams()
    deadlines: DeadlineParams = DeadlineParams()
    interview: InterviewParams = InterviewParams()


class Campaign(_Strict):
    """A validated campaign.

    Attributes:
        id: stable slug, e.g. ``"hunan-2018"``.
        case_prefix: prefix of case ids, e.g. ``"HN2018"`` gives ``HN2018-430100-0001``.
        title / title_zh: names of the campaign.
        issuers: issuing offices, in the document's order.
        document_number: e.g. ``"湘网信办综〔2018〕1号"``.
        issued_on: the document's date.
        timezone: IANA zone in which every date of the campaign is read.
        province: the issuing province.
        prefectures: the jurisdictions cases belong to.
        phases: the phases, in order.
        windows: for every event, the phases in whose window it may happen.
        roles: roles and their permissions; ``system`` (acts only through the sweep) and
            ``administrator`` (registers actors, issues tokens) are built in.
        harm_categories: the categories evidence and findings may name.
        policy: policy parameters.
    """

    id: Slug
    case_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,11}$")]
    title: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    issuers: tuple[str, ...] = Field(min_length=1)
    document_number: str = Field(min_length=1)
    issued_on: date
    timezone: str
    province: Jurisdiction
    prefectures: tuple[Jurisdiction, ...] = Field(min_length=1)
    phases: tuple[Phase, ...] = Field(min_length=1)
    windows: dict[Event, tuple[Slug, ...]]
    roles: tuple[RoleSpec, ...] = Field(min_length=1)
    harm_categories: tuple[HarmCategory, ...] = Field(min_length=1)
    policy: PolicyParams = PolicyParams()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}, e.g. 'Asia/Shanghai'") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        phase_ids = [p.id for p in self.phases]
        _unique("phases", phase_ids, problems)
        for i, p in enumerate(self.phases):
            for name, day in (("start", p.start), ("deadline", p.deadline)):
                if not 1900 <= day.year <= 2999:
                    problems.append(f"phases.{i}.{name}: {day} is outside the years 1900–2999")
            if p.deadline < p.start:
                problems.append(
                    f"phases.{i}.deadline: deadline {p.deadline} is before start {p.start}"
                )
        _unique("prefectures", [j.code for j in self.prefectures], problems)
        _unique("roles", [r.id for r in self.roles], problems)
        _unique("harm_categories", [h.id for h in self.harm_categories], problems)
        for earlier, later in zip(self.phases, self.phases[1:], strict=False):
            if later.start < earlier.start:
                problems.append(f"phases: {later.id!r} starts before {earlier.id!r}")
        prefix = self.province.code[:2]
        for j in self.prefectures:
            if not j.code.startswith(prefix) or j.code.endswith("0000"):
                problems.append(
                    f"prefectures: {j.code} is not a prefecture of province {self.province.code}"
                )
        for event in Event:
            if event not in self.windows:
                problems.append(f"windows: no window for event {event.value!r}")
        for event, ids in self.windows.items():
            if not ids:
                problems.append(f"windows.{event.value}: name at least one phase")
            for pid in ids:
                if pid not in phase_ids:
                    problems.append(f"windows.{event.value}: unknown phase {pid!r}")
        if self.policy.deadlines.pledge_cap_phase not in phase_ids:
            problems.append(
                "policy.deadlines.pledge_cap_phase: unknown phase "
                f"{self.policy.deadlines.pledge_cap_phase!r}"
            )
        for built_in in ("system", "administrator"):
            if built_in in {r.id for r in self.roles}:
                problems.append(f"roles: {built_in!r} is built in and cannot be declared")
        if "other" not in {h.id for h in self.harm_categories}:
            problems.append("harm_categories: an 'other' category is required")
        if problems:
            raise _Inconsistent(problems)
        return self

    # --- derived views -------------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        """The campaign's time zone."""
        return ZoneInfo(self.timezone)

    def phase(self, phase_id: str) -> Phase:
        """Return the phase with this id. Raises ``KeyError`` if there is none."""
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def role(self, role_id: str) -> RoleSpec | None:
        """Return the declared role with this id, or ``None``."""
        return next((r for r in self.roles if r.id == role_id), None)

    def jurisdiction(self, code: str) -> Jurisdiction | None:
        """Return the province or prefecture with this GB/T 2260 code, or ``None``."""
        if code == self.province.code:
            return self.province
        return next((j for j in self.prefectures if j.code == code), None)

    @property
    def harm_category_ids(self) -> frozenset[str]:
        """The ids of the harm categories."""
        return frozenset(h.id for h in self.harm_categories)

    def canonical_json(self) -> str:
        """The campaign as canonical JSON (sorted keys, no spaces); stored and hashed.

        Policy fields added after a campaign may have been stored
        (:data:`_LATER_DISPOSITION_FIELDS`) are left out while they hold their defaults, so
        that a stored campaign keeps its digest.
        """
        data = self.model_dump(mode="json")
        disposition = data["policy"]["disposition"]
        for name, default in _LATER_DISPOSITION_FIELDS.items():
            if disposition.get(name) == default:
                del disposition[name]
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`; identifies this exact campaign file."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


_LATER_DISPOSITION_FIELDS: dict[str, object] = {
    "minimum_by_severity": None,
    "refer_when_taken_down": True,
}
"""Fields of ``policy.disposition`` newer than the first stored campaigns, with defaults."""


class _Inconsistent(ValueError):
    """Problems across fields of a campaign, each a ``"field.path: problem"`` string."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _unique(field: str, values: list[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            problems.append(f"{field}: {v!r} appears twice")
        seen.add(v)


def parse_campaign(data: object, source: str = "<data>") -> Campaign:
    """Validate already-parsed campaign data.

    Args:
        data: a mapping as read from TOML or JSON.
        source: a name for the data in error messages (usually the file path).

    Returns:
        The validated :class:`Campaign`.

    Raises:
        CampaignFileError: listing every problem, each as ``"field.path: problem"``.
    """
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, _Inconsistent):
                errors.extend(cause.problems)
                continue
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            errors.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}")
        raise CampaignFileError(source, errors) from None


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign TOML file (or a built-in campaign id).

    Args:
        path: a file path, or the id of a built-in campaign such as ``"hunan-2018"``.

    Returns:
        The validated :class:`Campaign`.

    Raises:
        CampaignFileError: the file is missing, not TOML, or invalid (every problem named).
    """
    if isinstance(path, str) and path in BUILTIN_CAMPAIGNS:
        return builtin_campaign(path)
    source = shown_text(str(path))
    try:
        raw = read_bounded(path, MAX_CAMPAIGN_FILE_BYTES, "campaign file")
    except UnreadableFile as exc:
        raise CampaignFileError(source, [f"(file): cannot read it: {exc.reason}"]) from None
    except InvalidInput as exc:
        raise CampaignFileError(source, [f"(file): {exc.message}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CampaignFileError(source, ["(file): not UTF-8 text"]) from None
    try:
        data = tomllib.loads(text, parse_float=_finite_float)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignFileError(source, [f"(file): not valid TOML: {exc}"]) from None
    except RecursionError:
        raise CampaignFileError(
            source, [f"(file): nested too deeply; the limit is {_quote('MAX_NESTING_DEPTH')}"]
        ) from None
    except ValueError as exc:  # an integer beyond Python's int-string limit, inf or nan
        raise CampaignFileError(source, [f"(file): {_number_problem(exc)}"]) from None
    try:
        check_structure(data, "the campaign file")
    except InvalidInput as exc:
        raise CampaignFileError(source, [f"(file): {exc.message}"]) from None
    return parse_campaign(data, source)


def _quote(name: str) -> str:
    return next(limit for limit in LIMITS if limit.name == name).quote()


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _number_problem(exc: ValueError) -> str:
    if "integer string conversion" in str(exc):
        return f"an integer is too long; the limit is {_quote('MAX_INTEGER_DIGITS')}"
    return str(exc)


def builtin_campaign(campaign_id: str = "hunan-2018") -> Campaign:
    """Return a built-in campaign by id (default: Hunan 2018, 湘网信办综〔2018〕1号).

    Raises:
        CampaignFileError: if there is no built-in campaign with this id.
    """
    name = BUILTIN_CAMPAIGNS.get(campaign_id)
    if name is None:
        known = ", ".join(sorted(BUILTIN_CAMPAIGNS))
        raise CampaignFileError(campaign_id, [f"(id): no built-in campaign; known: {known}"])
    text = resources.files("appcase.data").joinpath(name).read_text(encoding="utf-8")
    return parse_campaign(tomllib.loads(text), f"builtin:{campaign_id}")
