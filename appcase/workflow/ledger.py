"""The ledger import (管理台账): rows of a ledger file in, surveyed cases out.

Source: 三(一) 摸排巡查 -- each prefecture lists the education apps of its territory and the
apps that cooperate with its schools, and keeps a ledger of them. Officers keep that
ledger in spreadsheets, read by :func:`appcase.adapters.ledger_file.read_ledger`;
:func:`import_ledger` validates every row and surveys the apps through the engine
(:meth:`CaseEngine.survey_batch`: the same guards, machine and hash chain as
``appcase survey``, in one transaction).

Rules (documented for operators in ``docs/ledger-import.md``):

* A row is invalid when a required value is missing, a credit code fails its check
  character (GB 32100-2015), an ICP number is malformed, the prefecture is not one of the
  campaign's, a yes/no or a date cannot be read, or the same app (credit code and name)
  appears on an earlier row, or is already in the ledger with other details.
* An app already in the ledger with the same details is *already listed*: skipped and
  counted, so importing the same file twice changes nothing the second time.
* ``surveyed_at`` is the survey instant: an ISO 8601 time with an offset, or a date, read
  as 09:00 local time in the campaign's zone (the start of the working day: configurable
  default :data:`DATE_ONLY_TIME`). A spreadsheet date cell counts as a date; a spreadsheet
  date-and-time cell has no zone and is refused (write it as text with an offset).
  Empty: the import's ``at`` (default: the clock's now).
* All or nothing by default: one bad row and nothing is written; every problem is
  reported. With ``skip_invalid`` the good rows are written and the bad ones reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from appcase.clock import ensure_aware
from appcase.errors import BatchRejected, ImportRejected
from appcase.policies.campaign import Campaign
from appcase.states.identifiers import validate_icp_filing, validate_uscc
from appcase.workflow.commands import AppIdentity, Override
from appcase.workflow.engine import CaseEngine
from appcase.workflow.views import identity_of

__all__ = [
    "DATE_ONLY_TIME",
    "ImportReport",
    "LedgerFile",
    "LedgerProblem",
    "LedgerRow",
    "import_ledger",
    "parse_bool",
    "validate_rows",
]

DATE_ONLY_TIME = time(9, 0)
"""The local time a date-only ``surveyed_at`` stands for (configurable default: 09:00,
the start of the working day, in the campaign's zone)."""

_TRUE = {"是", "yes", "y", "true", "t", "1", "√", "✓", "有", "对"}
_FALSE = {"否", "no", "n", "false", "f", "0", "×", "✗", "无", "", "-"}
_PLATFORM_SPLIT = re.compile(r"[;；、,，|/]")


def parse_bool(value: object) -> bool:
    """Read a yes/no cell: 是/否, yes/no, y/n, true/false, 1/0, √/× (any case); empty is no.

    Raises:
        ValueError: for anything else.
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes or no; write 是 or 否 (or true/false)")


class LedgerRow(BaseModel):
    """One validated row of a ledger file.

    Validated with the campaign in the validation context (``{"campaign": Campaign}``):
    the prefecture may be written as its code or its Chinese name.

    Attributes:
        app_name, operator, uscc, icp_filing, platforms, target_users, used_by_schools,
            prefecture: as in :class:`~appcase.workflow.commands.AppIdentity`.
        surveyed_at: the survey instant (aware), or ``None`` for the import's default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    app_name: str = Field(min_length=1, max_length=200)
    operator: str = Field(min_length=1, max_length=200)
    uscc: str
    icp_filing: str | None = None
    platforms: tuple[str, ...] = ()
    target_users: str = Field(default="", max_length=200)
    used_by_schools: bool = False
    prefecture: str
    surveyed_at: datetime | None = None

    @field_validator("app_name", "operator", "target_users", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if value is None:
            return ""
        return str(value) if isinstance(value, int | float) else value

    @field_validator("uscc", mode="before")
    @classmethod
    def _uscc(cls, value: object) -> str:
        if value is None or value == "":
            raise ValueError("the credit code is missing")
        if isinstance(value, float):
            raise ValueError(
                "the credit code is stored as a number, which loses digits; "
                "format the column as text and type it again"
            )
        return validate_uscc(str(value))

    @field_validator("icp_filing", mode="before")
    @classmethod
    def _icp(cls, value: object) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        return validate_icp_filing(str(value))

    @field_validator("platforms", mode="before")
    @classmethod
    def _platforms(cls, value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, list | tuple):
            return tuple(str(p).strip() for p in value if str(p).strip())
        return tuple(p.strip() for p in _PLATFORM_SPLIT.split(str(value)) if p.strip())

    @field_validator("used_by_schools", mode="before")
    @classmethod
    def _bool(cls, value: object) -> bool:
        return parse_bool(value)

    @field_validator("prefecture", mode="before")
    @classmethod
    def _prefecture(cls, value: object, info: ValidationInfo) -> str:
        campaign = (info.context or {}).get("campaign")
        assert isinstance(campaign, Campaign), "validate with context={'campaign': ...}"
        if value is None or str(value).strip() == "":
            raise ValueError("the prefecture is missing")
        text = str(int(value)) if isinstance(value, int | float) else str(value).strip()
        for p in campaign.prefectures:
            if text in (p.code, p.name_zh, p.name):
                return p.code
        known = ", ".join(f"{p.code} {p.name_zh}" for p in campaign.prefectures[:3])
        raise ValueError(
            f"{text!r} is not a prefecture of {campaign.id}; "
            f"write its GB/T 2260 code or name ({known}, …)"
        )

    @field_validator("surveyed_at", mode="before")
    @classmethod
    def _surveyed_at(cls, value: object, info: ValidationInfo) -> datetime | None:
        campaign = (info.context or {}).get("campaign")
        assert isinstance(campaign, Campaign)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, datetime):  # a spreadsheet cell: no zone
            if value.tzinfo is None and value.time() != time(0):
                raise ValueError(
                    "a spreadsheet date-and-time has no time zone; write it as text with "
                    "an offset (2018-02-20T10:00+08:00), or give only the date"
                )
            if value.tzinfo is None:
                return datetime.combine(value.date(), DATE_ONLY_TIME, campaign.zone)
            return value
        if isinstance(value, date):
            return datetime.combine(value, DATE_ONLY_TIME, campaign.zone)
        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) or re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", text):
            try:
                y, m, d = (int(x) for x in re.split(r"[-/]", text))
                return datetime.combine(date(y, m, d), DATE_ONLY_TIME, campaign.zone)
            except ValueError:
                raise ValueError(f"{text!r} is not a real date") from None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a date (2018-02-20) or a time with an offset "
                "(2018-02-20T10:00+08:00)"
            ) from None
        if parsed.tzinfo is None:
            raise ValueError(
                f"{text!r} has no time zone; add the offset (2018-02-20T10:00+08:00) "
                "or give only the date"
            )
        return parsed

    def identity(self) -> AppIdentity:
        """The app's identity for the engine."""
        return AppIdentity(
            name=self.app_name,
            operator=self.operator,
            uscc=self.uscc,
            icp_filing=self.icp_filing,
            platforms=self.platforms,
            target_users=self.target_users,
            used_by_schools=self.used_by_schools,
            prefecture=self.prefecture,
        )


class LedgerProblem(BaseModel):
    """One problem of one row.

    Attributes:
        row: the spreadsheet's row number.
        column: the column's English name (``""`` for the whole row).
        problem: what is wrong and what to write instead.
        kind: ``invalid`` (the row cannot be used) or ``refused`` (a guard refused it).
    """

    row: int
    column: str
    problem: str
    kind: str = "invalid"


class ImportReport(BaseModel):
    """What an import did (or, when nothing was written, would have done).

    Attributes:
        source: the file read.
        rows: data rows read (blank rows are not counted).
        imported: apps surveyed by this import (new cases).
        already_listed: rows whose app was already in the ledger with the same details.
        invalid_rows / refused_rows: rows with problems, and rows refused by guards.
        problems: every problem, by row.
        ignored_columns: headers that are not ledger columns.
        case_ids: the new cases, in row order.
        written: whether anything was written.
    """

    source: str
    rows: int
    imported: int = 0
    already_listed: int = 0
    invalid_rows: int = 0
    refused_rows: int = 0
    problems: list[LedgerProblem] = []
    ignored_columns: list[str] = []
    case_ids: list[str] = []
    written: bool = False


class LedgerFile(Protocol):
    """A ledger file as read (:class:`appcase.adapters.ledger_file.RawLedger` is one).

    Attributes:
        source: the file name.
        ignored: headers that are not ledger columns.
        rows: ``(row number, {column name: cell value})`` for every non-blank row; column
            names are the English ones (``app_name``, ``uscc``, …).
    """

    @property
    def source(self) -> str: ...
    @property
    def ignored(self) -> Sequence[str]: ...
    @property
    def rows(self) -> Sequence[tuple[int, Mapping[str, Any]]]: ...


def _describe(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        column = str(err["loc"][0]) if err["loc"] else ""
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_too_short":
            message = "the value is missing"
        out.append((column, message))
    return out


def validate_rows(
    raw: LedgerFile,
    campaign: Campaign,
    listed: Mapping[tuple[str, str], tuple[AppIdentity, str]],
) -> tuple[list[tuple[int, LedgerRow]], list[tuple[int, str]], list[LedgerProblem]]:
    """Validate every row; sort them into new apps, already-listed apps and problems.

    Args:
        raw: the file as read.
        campaign: the campaign (prefectures, time zone).
        listed: the apps already in the ledger, by ``(uscc, name)``, with their case ids.

    Returns:
        ``(new, already, problems)``: the valid rows of apps not yet listed (row number,
        row); the rows of apps already listed with the same details (row number, case
        id); every problem found.
    """
    new: list[tuple[int, LedgerRow]] = []
    already: list[tuple[int, str]] = []
    problems: list[LedgerProblem] = []
    first_row: dict[tuple[str, str], int] = {}
    context = {"campaign": campaign}
    for number, values in raw.rows:
        try:
            row = LedgerRow.model_validate(values, context=context)
        except ValidationError as exc:
            problems.extend(
                LedgerProblem(row=number, column=c, problem=m) for c, m in _describe(exc)
            )
            continue
        key = (row.uscc, row.app_name)
        if key in first_row:
            problems.append(
                LedgerProblem(
                    row=number,
                    column="app_name",
                    problem=f"the same app (name and credit code) is already on row "
                    f"{first_row[key]}",
                )
            )
            continue
        first_row[key] = number
        if key in listed:
            ident, case_id = listed[key]
            differs = [
                field
                for field, value in row.identity().model_dump().items()
                if value != getattr(ident, field)
            ]
            if differs:
                problems.append(
                    LedgerProblem(
                        row=number,
                        column=differs[0] if differs[0] != "name" else "app_name",
                        problem=f"the app is already in the ledger as {case_id} with another "
                        f"{', '.join(differs)}; the import does not change listed apps",
                    )
                )
            else:
                already.append((number, case_id))
            continue
        new.append((number, row))
    return new, already, problems


_GUARD_COLUMNS = {
    "phase_window": "surveyed_at",
    "chronology": "surveyed_at",
    "jurisdiction": "prefecture",
    "app_identity": "prefecture",
    "not_in_ledger": "app_name",
}


def import_ledger(
    engine: CaseEngine,
    ledger: LedgerFile,
    *,
    actor: str,
    at: datetime | None = None,
    override: Override | Mapping[str, Any] | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a ledger file as read: validate every row, survey the new apps in one
    transaction.

    Args:
        engine: the campaign's engine.
        ledger: the file as read (:func:`appcase.adapters.ledger_file.read_ledger`; see
            its module for the columns).
        actor: the importing officer (their role and jurisdiction are checked per row).
        at: the survey instant of rows without ``surveyed_at`` (aware; default: now).
        override: to survey after the survey window closed: a survey grant for the
            prefecture, or a reason (see :class:`Override`).
        skip_invalid: write the good rows and report the bad ones; by default one bad
            row means nothing is written.
        progress: called as ``progress(rows_just_written, rows_to_write)`` (for a
            progress bar).

    Returns:
        The report (``written`` tells whether anything was written).

    Raises:
        NaiveDatetimeError: a naive ``at``.
        UnknownActor: the actor is not registered.
        ImportRejected: without ``skip_invalid``, some rows were invalid or refused by
            guards; every problem is listed; nothing was written.
    """
    if at is not None:
        ensure_aware(at, "survey time")
    with engine.storage.reading() as q:
        listed = {
            (a.uscc, a.name): (identity_of(a), case_id)
            for a, case_id in q.ledger_apps(engine.campaign.id)
        }
    new, already, problems = validate_rows(ledger, engine.campaign, listed)
    invalid = {p.row for p in problems}
    report = ImportReport(
        source=ledger.source,
        rows=len(ledger.rows),
        already_listed=len(already),
        invalid_rows=len(invalid),
        problems=problems,
        ignored_columns=list(ledger.ignored),
    )
    if invalid and not skip_invalid:
        raise _rejected(report)
    times = [row.surveyed_at or at for _, row in new]
    try:
        result = engine.survey_batch(
            [row.identity() for _, row in new],
            actor=actor,
            at=times,
            override=override,
            skip_refused=skip_invalid,
            progress=(lambda n: progress(n, len(new))) if progress else None,
        )
    except BatchRejected as exc:
        report.problems.extend(_refusals(new, exc.refused))
        report.refused_rows = len(exc.refused)
        report.problems.sort(key=lambda p: p.row)
        raise _rejected(report) from None
    report.problems.extend(_refusals(new, result.refused))
    report.problems.sort(key=lambda p: p.row)
    report.refused_rows = len(result.refused)
    report.case_ids = [c for c in result.case_ids if c is not None]
    report.imported = len(report.case_ids)
    report.written = report.imported > 0
    return report


def _refusals(
    new: Sequence[tuple[int, LedgerRow]], refused: Sequence[tuple[int, Sequence[Any]]]
) -> list[LedgerProblem]:
    return [
        LedgerProblem(
            row=new[i][0],
            column=_GUARD_COLUMNS.get(r.code, ""),
            problem=f"[{r.code}] {r.message}",
            kind="refused",
        )
        for i, rejections in refused
        for r in rejections
    ]


def _rejected(report: ImportReport) -> ImportRejected:
    return ImportRejected(
        report.source,
        [(p.row, p.column, p.problem) for p in report.problems],
        invalid_rows=report.invalid_rows,
        refused_rows=report.refused_rows,
    )
