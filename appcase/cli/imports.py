"""Importing files: ``appcase import ledger``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app
from appcase.cli.overrides import override_from_options, override_options
from appcase.errors import ImportRejected

__all__ = ["COMMANDS"]

PROGRESS_MIN_ROWS = 1000
"""Files with at least this many rows show a progress bar (on a terminal, or --progress)."""


@click.group("import")
def import_group() -> None:
    """Import files officers keep: the ledger of apps (管理台账).

    \b
    Example:
      appcase --actor cs-cac import ledger 长沙市台账.xlsx --report problems.csv
    """


@import_group.command("ledger")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--template",
    is_flag=True,
    help="Write an empty template to FILE (.csv or .xlsx) instead of importing.",
)
@click.option(
    "--at",
    type=InstantType(),
    help="Survey time of rows without surveyed_at, with offset (default: now).",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the good rows and report the bad ones (default: all or nothing).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every problem to this CSV file (row, column, kind, problem).",
)
@override_options
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on standard error [default: on a terminal, for large files].",
)
@pass_app
def import_ledger_command(
    app: App,
    /,
    file: Path,
    template: bool,
    at: datetime | None,
    skip_invalid: bool,
    report_file: Path | None,
    progress: bool | None,
    **overriding: Any,
) -> None:
    """Import a ledger spreadsheet (.csv or .xlsx): every row validated, then surveyed.

    Columns are found by header, English or Chinese (app_name 应用名称, operator 运营方,
    uscc 统一社会信用代码, icp_filing ICP备案号, platforms 分发平台, target_users 目标用户,
    used_by_schools 学校使用, prefecture 所属市州, surveyed_at 摸排时间); see
    docs/ledger-import.md. By default any bad row means nothing is written and every
    problem is listed (exit 2; exit 1 when guards refuse rows). Apps already in the ledger
    are skipped and counted, so importing the same file again changes nothing.

    \b
    Examples:
      appcase import ledger --template 台账模板.xlsx
      appcase --actor cs-cac import ledger 长沙市台账.xlsx --at 2018-02-20T09:00+08:00
      appcase --actor cs-cac import ledger 台账.csv --skip-invalid --report problems.csv
    """
    from appcase.adapters.ledger_file import read_ledger, write_report, write_template
    from appcase.workflow.ledger import import_ledger

    if template:
        write_template(file)
        emit(app, {"template": str(file)}, f"template written: {file}")
        return
    override = override_from_options(overriding)
    engine = app.engine()
    actor = app.actor()
    ledger = read_ledger(file)
    bar = _Bar(progress)
    try:
        with bar:
            report = import_ledger(
                engine,
                ledger,
                actor=actor,
                at=at,
                override=override,
                skip_invalid=skip_invalid,
                progress=bar.advance,
            )
    except ImportRejected as exc:
        if report_file is not None:
            write_report(exc.problems, report_file)
        raise
    if report_file is not None:
        write_report(report.problems, report_file)
    lines = [
        f"{file}: {report.rows} rows; {report.imported} apps surveyed, "
        f"{report.already_listed} already listed"
        + (
            f", {report.invalid_rows} invalid and {report.refused_rows} refused rows skipped"
            if report.problems
            else ""
        )
    ]
    if report.ignored_columns:
        lines.append(f"ignored columns: {', '.join(report.ignored_columns)}")
    lines += [f"  - row {p.row}, {p.column or '(row)'}: {p.problem}" for p in report.problems]
    if report_file is not None and report.problems:
        lines.append(f"problems written to {report_file}")
    emit(app, report, "\n".join(lines))


class _Bar:
    """A progress bar on standard error, opened when the import reports its first chunk
    (the row count is known only then): on a terminal for large files, or when asked."""

    def __init__(self, wanted: bool | None) -> None:
        self.wanted = wanted
        self.bar: Any = None

    def advance(self, done: int, total: int) -> None:
        if self.bar is None:
            show = self.wanted if self.wanted is not None else sys.stderr.isatty()
            if not show or (self.wanted is None and total < PROGRESS_MIN_ROWS):
                return
            self.bar = click.progressbar(length=total, label="surveying", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


COMMANDS = [import_group]
