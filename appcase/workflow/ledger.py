"""The ledger import (管理台账): spreadsheets of apps in, surveyed cases out.

Source: 三(一) 摸排巡查 -- each prefecture lists the education apps of its territory and the
apps that cooperate with its schools, and keeps a ledger of them. Officers keep that
ledger in spreadsheets; :func:`import_ledger` reads one (CSV or XLSX), validates every row
and surveys the apps through the engine (:meth:`CaseEngine.survey_batch`: the same guards,
machine and hash chain as ``appcase survey``, in one transaction).

Rules (documented for operators in ``docs/ledger-import.md``):

* Columns are found by their header, in any order, English or Chinese
  (:data:`COLUMNS`); unknown columns (序号, 备注 …) are ignored and listed. A title row
  above the header is allowed: the header is the first of the first ten rows that names
  the app-name column.
* Row numbers are the spreadsheet's own (the header row is usually 1); blank rows are
  skipped.
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

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from appcase.clock import ensure_aware
from appcase.errors import BatchRejected, ImportRejected, InvalidInput, LedgerHeaderNotFound
from appcase.policies.campaign import Campaign
from appcase.states.identifiers import validate_icp_filing, validate_uscc
from appcase.workflow.commands import AppIdentity, Override
from appcase.workflow.engine import CaseEngine
from appcase.workflow.views import identity_of

__all__ = [
    "COLUMNS",
    "DATE_ONLY_TIME",
    "Column",
    "ImportReport",
    "LedgerProblem",
    "LedgerRow",
    "import_ledger",
    "parse_bool",
    "read_ledger",
    "validate_rows",
    "write_report",
    "write_template",
]

DATE_ONLY_TIME = time(9, 0)
"""The local time a date-only ``surveyed_at`` stands for (configurable default: 09:00,
the start of the working day, in the campaign's zone)."""

HEADER_SEARCH_ROWS = 10
"""How many rows from the top are searched for the header row."""


@dataclass(frozen=True, slots=True)
class Column:
    """A ledger column.

    Attributes:
        name: the English header, as written by the template (also the field name).
        name_zh: the Chinese header.
        aliases: other accepted headers (compared ignoring case, spaces and a trailing
            ``*``).
        required: whether a value is needed on every row.
        doc_en / doc_zh: what to write, for the template's notes and the docs.
    """

    name: str
    name_zh: str
    aliases: tuple[str, ...]
    required: bool
    doc_en: str
    doc_zh: str


COLUMNS: tuple[Column, ...] = (
    Column(
        "app_name",
        "应用名称",
        ("name", "app", "应用", "APP名称", "应用程序名称", "移动应用程序名称"),
        True,
        "The app's name.",
        "移动应用程序名称。",
    ),
    Column(
        "operator",
        "运营方",
        ("运营单位", "运营主体", "运营者", "运营企业"),
        True,
        "The operating company.",
        "运营单位全称。",
    ),
    Column(
        "uscc",
        "统一社会信用代码",
        ("credit_code", "信用代码", "社会信用代码"),
        True,
        "Unified social credit code, 18 characters (GB 32100-2015; the check character is "
        "verified). Format the column as text.",
        "18位统一社会信用代码（校验位将被核验），请将该列设为文本格式。",
    ),
    Column(
        "icp_filing",
        "ICP备案号",
        ("icp", "备案号", "ICP备案"),
        False,
        "ICP filing number, e.g. 湘ICP备18001234号-1.",
        "ICP备案号，如 湘ICP备18001234号-1。",
    ),
    Column(
        "platforms",
        "分发平台",
        ("platform", "应用商店", "上架平台", "分发渠道"),
        False,
        "Distribution platforms, separated by ; or 、.",
        "分发平台（应用商店），多个用分号或顿号分隔。",
    ),
    Column(
        "target_users",
        "目标用户",
        ("users", "用户群体", "适用对象", "服务对象"),
        False,
        "Who the app is for, e.g. 小学生.",
        "目标用户，如 小学生。",
    ),
    Column(
        "used_by_schools",
        "学校使用",
        ("schools", "是否学校使用", "与学校合作", "学校合作"),
        False,
        "Whether schools use or cooperate with the app: 是/否, yes/no, true/false, 1/0 "
        "(empty: no).",
        "是否有学校使用或合作：是/否（留空视为否）。",
    ),
    Column(
        "prefecture",
        "所属市州",
        ("行政区划代码", "市州", "所属地区", "区划代码", "prefecture_code"),
        True,
        "The prefecture: its GB/T 2260 code (430100) or its Chinese name (长沙市).",
        "所属市州：行政区划代码（如 430100）或名称（如 长沙市）。",
    ),
    Column(
        "surveyed_at",
        "摸排时间",
        ("surveyed", "摸排日期", "建档时间", "建档日期"),
        False,
        "When the app was surveyed: a date (read as 09:00 local time) or a time with an "
        "offset, e.g. 2018-02-20T10:00+08:00 (empty: the import's --at, or now).",
        "摸排时间：日期（按当地时间9:00计）或带时区的时间，如 2018-02-20T10:00+08:00；"
        "留空则取导入时指定的 --at 或当前时间。",
    ),
)
"""The ledger's columns, in template order."""

_TRUE = {"是", "yes", "y", "true", "t", "1", "√", "✓", "有", "对"}
_FALSE = {"否", "no", "n", "false", "f", "0", "×", "✗", "无", "", "-"}
_PLATFORM_SPLIT = re.compile(r"[;；、,，|/]")


def _norm(header: str) -> str:
    return re.sub(r"\s+", "", header).rstrip("*＊").casefold()


_HEADER_INDEX: dict[str, str] = {
    _norm(alias): col.name for col in COLUMNS for alias in (col.name, col.name_zh, *col.aliases)
}


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


@dataclass(frozen=True, slots=True)
class RawLedger:
    """A ledger file as read: the header mapping and the data rows with their numbers.

    Attributes:
        source: the file name.
        columns: for each recognised column, ``(canonical name, cell position)``.
        ignored: headers not recognised.
        rows: ``(row number, {canonical name: cell value})`` for every non-blank row.
    """

    source: str
    columns: tuple[tuple[str, int], ...]
    ignored: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, Any]], ...]


def _locate_header(lines: Iterable[tuple[int, Sequence[Any]]], source: str) -> Iterator[Any]:
    """Yield the header mapping first, then the data rows (lazily)."""
    it = iter(lines)
    for number, cells in it:
        names = [_HEADER_INDEX.get(_norm(str(c))) if c is not None else None for c in cells]
        if "app_name" in names:
            yield number, cells, names
            yield from it
            return
        if number >= HEADER_SEARCH_ROWS:
            break
    raise LedgerHeaderNotFound(source, HEADER_SEARCH_ROWS)


def _structure(lines: Iterable[tuple[int, Sequence[Any]]], source: str) -> RawLedger:
    found = _locate_header(lines, source)
    _number, header, names = next(found)
    columns: list[tuple[str, int]] = []
    ignored: list[str] = []
    seen: set[str] = set()
    for pos, (cell, name) in enumerate(zip(header, names, strict=True)):
        if name is None:
            if cell is not None and str(cell).strip():
                ignored.append(str(cell).strip())
            continue
        if name in seen:
            raise InvalidInput(f"{source}: two columns are headed {name!r} (or an alias of it)")
        seen.add(name)
        columns.append((name, pos))
    missing = [c.name for c in COLUMNS if c.required and c.name not in seen]
    if missing:
        raise InvalidInput(
            f"{source}: the header has no column for {', '.join(missing)}; headers may be "
            "English or Chinese, e.g. 运营方, 统一社会信用代码, 所属市州"
        )
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, cells in found:
        values = {name: (cells[pos] if pos < len(cells) else None) for name, pos in columns}
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values.values()):
            continue
        rows.append((number, values))
    return RawLedger(source, tuple(columns), tuple(ignored), tuple(rows))


def _read_csv(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # what Excel writes on Chinese Windows
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 or GB18030 text") from None


def read_ledger(path: str | Path) -> RawLedger:
    """Read a ledger file (``.csv`` or ``.xlsx``) without validating its values.

    CSV files may be UTF-8 (with or without a byte-order mark) or GB18030 (what Excel
    saves on Chinese Windows). In an XLSX file the first worksheet is read.

    Args:
        path: the file.

    Returns:
        The header mapping and the non-blank data rows with their spreadsheet row numbers.

    Raises:
        InvalidInput: the file cannot be read, has another extension, or has no
            recognisable header (missing required columns are named).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            reader = csv.reader(io.StringIO(_read_csv(p), newline=""))
            return _structure(((n, row) for n, row in enumerate(reader, 1)), str(p))
        if suffix in (".xlsx", ".xlsm"):
            return _read_xlsx(p)
    except OSError as exc:
        raise InvalidInput(f"cannot read {p}: {exc.strerror or exc}") from None
    except csv.Error as exc:
        raise InvalidInput(f"{p}: not a readable CSV file: {exc}") from None
    raise InvalidInput(f"{p}: a ledger is a .csv or .xlsx file (an old .xls: save it as .xlsx)")


def _read_xlsx(path: Path) -> RawLedger:
    from zipfile import BadZipFile

    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a readable XLSX workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        lines = ((n, row) for n, row in enumerate(sheet.iter_rows(values_only=True), 1))
        return _structure(lines, str(path))
    finally:
        book.close()


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
    raw: RawLedger,
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
    path: str | Path,
    *,
    actor: str,
    at: datetime | None = None,
    override: Override | Mapping[str, Any] | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a ledger file: validate every row, survey the new apps in one transaction.

    Args:
        engine: the campaign's engine.
        path: a ``.csv`` or ``.xlsx`` file (see the module docstring for the columns).
        actor: the importing officer (their role and jurisdiction are checked per row).
        at: the survey instant of rows without ``surveyed_at`` (aware; default: now).
        override: to survey after the survey window closed (reason, authoriser).
        skip_invalid: write the good rows and report the bad ones; by default one bad
            row means nothing is written.
        progress: called as ``progress(rows_just_written, rows_to_write)`` (for a
            progress bar).

    Returns:
        The report (``written`` tells whether anything was written).

    Raises:
        InvalidInput: unreadable file, no header, missing required columns, naive ``at``.
        UnknownActor: the actor is not registered.
        ImportRejected: without ``skip_invalid``, some rows were invalid (exit 2) or
            refused by guards (exit 1); every problem is listed; nothing was written.
    """
    if at is not None:
        ensure_aware(at, "survey time")
    raw = read_ledger(path)
    with engine.store.transaction() as repo:
        listed = {
            (a.uscc, a.name): (identity_of(a), case_id)
            for a, case_id in repo.ledger_apps(engine.campaign.id)
        }
    new, already, problems = validate_rows(raw, engine.campaign, listed)
    invalid = {p.row for p in problems}
    report = ImportReport(
        source=str(path),
        rows=len(raw.rows),
        already_listed=len(already),
        invalid_rows=len(invalid),
        problems=problems,
        ignored_columns=list(raw.ignored),
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


REPORT_HEADER = ("row", "column", "kind", "problem")
"""Columns of the problem report CSV."""


def write_report(problems: Iterable[LedgerProblem | tuple[int, str, str]], path: str | Path) -> int:
    """Write the problems of an import as CSV (UTF-8 with a byte-order mark, for Excel).

    Args:
        problems: the problems (models, or ``(row, column, problem)`` tuples of an
            :class:`~appcase.errors.ImportRejected`).
        path: the CSV file to write (replaced).

    Returns:
        The number of problems written.

    Raises:
        InvalidInput: the file cannot be written.
    """
    count = 0
    try:
        with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(REPORT_HEADER)
            for p in problems:
                if isinstance(p, LedgerProblem):
                    out.writerow((p.row, p.column, p.kind, p.problem))
                else:
                    kind = "refused" if p[2].startswith("[") else "invalid"
                    out.writerow((p[0], p[1], kind, p[2]))
                count += 1
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    return count


def write_template(path: str | Path) -> None:
    """Write an empty ledger template with the documented headers.

    ``.csv``: one header line, UTF-8 with a byte-order mark (so Excel reads Chinese
    correctly). ``.xlsx``: a ``ledger`` sheet with the headers (text-formatted, so credit
    codes keep every digit) and a ``说明 notes`` sheet describing each column.

    Args:
        path: the file to write, ending in ``.csv`` or ``.xlsx`` (replaced if it exists).

    Raises:
        InvalidInput: another extension, or the file cannot be written.
    """
    p = Path(path)
    headers = [c.name for c in COLUMNS]
    try:
        if p.suffix.lower() == ".csv":
            with p.open("w", encoding="utf-8-sig", newline="") as fh:
                csv.writer(fh).writerow(headers)
            return
        if p.suffix.lower() == ".xlsx":
            _xlsx_template(p, headers)
            return
    except OSError as exc:
        raise InvalidInput(f"cannot write {p}: {exc.strerror or exc}") from None
    raise InvalidInput(f"{p}: a template is a .csv or .xlsx file")


def _xlsx_template(path: Path, headers: list[str]) -> None:
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "ledger"
    sheet.append(headers)
    for i, col in enumerate(COLUMNS, 1):
        cell = sheet.cell(row=1, column=i)
        cell.font = Font(bold=True)
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = 24 if col.name != "surveyed_at" else 28
        sheet.column_dimensions[letter].number_format = "@"  # text: keep every digit
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("说明 notes")
    notes.append(["column", "中文表头", "required 必填", "说明", "notes"])
    for c in COLUMNS:
        notes.append([c.name, c.name_zh, "yes 是" if c.required else "", c.doc_zh, c.doc_en])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDE", (16, 16, 12, 60, 80), strict=True):
        notes.column_dimensions[letter].width = width
    book.save(path)
