"""Ledger files (管理台账) in and out: reading CSV and XLSX spreadsheets, writing the template
and the problem report.

Reading finds the columns and the data rows; it does not judge the values (that is the import
use case, :mod:`appcase.workflow.ledger`). Rules (documented for operators in
``docs/ledger-import.md``):

* Columns are found by their header, in any order, English or Chinese
  (:data:`COLUMNS`); unknown columns (序号, 备注 …) are ignored and listed. A title row
  above the header is allowed: the header is the first of the first ten rows that names
  the app-name column.
* Row numbers are the spreadsheet's own (the header row is usually 1); blank rows are
  skipped.
* CSV files may be UTF-8 (with or without a byte-order mark) or GB18030; in an XLSX file
  the first worksheet is read.
"""

from __future__ import annotations

import csv
import io
import math
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from appcase.errors import InvalidInput, LedgerHeaderNotFound, library_call
from appcase.limits import (
    LIMITS,
    MAX_CELL_CHARS,
    MAX_LEDGER_FILE_BYTES,
    MAX_LEDGER_ROWS,
    MAX_XLSX_UNPACKED_BYTES,
    check_path,
    read_bounded,
    shown_text,
)

__all__ = [
    "COLUMNS",
    "HEADER_SEARCH_ROWS",
    "REPORT_HEADER",
    "Column",
    "Problem",
    "RawLedger",
    "read_ledger",
    "write_report",
    "write_template",
]

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


def _norm(header: str) -> str:
    return re.sub(r"\s+", "", header).rstrip("*＊").casefold()


_HEADER_INDEX: dict[str, str] = {
    _norm(alias): col.name for col in COLUMNS for alias in (col.name, col.name_zh, *col.aliases)
}


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


def _bounded(lines: Iterable[tuple[int, Sequence[Any]]], source: str) -> Iterator[Any]:
    """The lines within :data:`~appcase.limits.MAX_LEDGER_ROWS` and
    :data:`~appcase.limits.MAX_CELL_CHARS`; a float that is not finite becomes its text."""
    for number, cells in lines:
        if number > MAX_LEDGER_ROWS:
            raise InvalidInput(
                f"{source}: more than {MAX_LEDGER_ROWS:,} rows; the limit is "
                f"{_quote('MAX_LEDGER_ROWS')}; split the ledger"
            )
        out = []
        for pos, cell in enumerate(cells):
            if isinstance(cell, float) and not math.isfinite(cell):
                cell = str(cell)
            elif isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
                raise InvalidInput(
                    f"{source}: row {number}, column {pos + 1}: a cell of {len(cell):,} "
                    f"characters; the limit is {_quote('MAX_CELL_CHARS')}"
                )
            out.append(cell)
        yield number, out


def _quote(name: str) -> str:
    return next(limit for limit in LIMITS if limit.name == name).quote()


def _structure(lines: Iterable[tuple[int, Sequence[Any]]], source: str) -> RawLedger:
    found = _locate_header(_bounded(lines, source), source)
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
    data = read_bounded(path, MAX_LEDGER_FILE_BYTES, "ledger file")
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
    p = check_path(path, "ledger file")
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


def _check_xlsx(path: Path) -> None:
    """Refuse before openpyxl opens it: a special file, a file larger than
    :data:`~appcase.limits.MAX_LEDGER_FILE_BYTES`, a zip that is not one or that unpacks to
    more than :data:`~appcase.limits.MAX_XLSX_UNPACKED_BYTES`."""
    import zipfile

    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{shown_text(str(path))}: a ledger must be a regular file")
    if info.st_size > MAX_LEDGER_FILE_BYTES:
        raise InvalidInput(
            f"{shown_text(str(path))} is larger than the limit of {_quote('MAX_LEDGER_FILE_BYTES')}"
        )
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise InvalidInput(
            f"{shown_text(str(path))}: not a readable XLSX workbook ({exc})"
        ) from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise InvalidInput(
            f"{shown_text(str(path))} unpacks to {unpacked:,} bytes; the limit is "
            f"{_quote('MAX_XLSX_UNPACKED_BYTES')}"
        )


def _read_xlsx(path: Path) -> RawLedger:
    import openpyxl

    _check_xlsx(path)
    book = None
    # opened here and closed below: openpyxl leaves its own file open when it fails
    fh = path.open("rb")
    try:
        book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        # read-only mode trusts the sheet's stated dimension, which some writers leave
        # stale: rows and columns beyond it would be dropped without a word
        sheet.reset_dimensions()
        lines = ((n, row) for n, row in enumerate(sheet.iter_rows(values_only=True), 1))
        return _structure(lines, str(path))
    except (InvalidInput, OSError):
        raise
    except Exception as exc:  # openpyxl, zipfile, XML: a damaged or hostile workbook
        root: BaseException = exc
        while root.__cause__ is not None or root.__context__ is not None:
            root = root.__cause__ or root.__context__  # type: ignore[assignment]
        detail = shown_text(f"{type(root).__name__}: {root}", 200)
        raise InvalidInput(
            f"{shown_text(str(path))}: not a readable XLSX workbook ({detail})"
        ) from None
    finally:
        if book is not None:
            book.close()
        fh.close()


class Problem(Protocol):
    """One problem of one row, as the problem report writes it (the import's
    :class:`~appcase.workflow.ledger.LedgerProblem` is one).

    Attributes:
        row: the spreadsheet's row number.
        column: the column's English name (``""`` for the whole row).
        kind: ``invalid`` or ``refused``.
        problem: what is wrong.
    """

    @property
    def row(self) -> int: ...
    @property
    def column(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def problem(self) -> str: ...


REPORT_HEADER = ("row", "column", "kind", "problem")
"""Columns of the problem report CSV."""


def write_report(problems: Iterable[Problem | tuple[int, str, str]], path: str | Path) -> int:
    """Write the problems of an import as CSV (UTF-8 with a byte-order mark, for Excel).

    Args:
        problems: the problems (with ``row``, ``column``, ``kind`` and ``problem``, or
            ``(row, column, problem)`` tuples of an :class:`~appcase.errors.ImportRejected`).
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
                if isinstance(p, tuple):
                    kind = "refused" if p[2].startswith("[") else "invalid"
                    out.writerow((p[0], p[1], kind, p[2]))
                else:
                    out.writerow((p.row, p.column, p.kind, p.problem))
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
            with library_call(f"writing the template {shown_text(str(p))}"):
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
