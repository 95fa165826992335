"""Reports and diagrams: ``appcase report hotline``, ``appcase report summary``,
``appcase diagram``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, read_json_file
from appcase.cli.overrides import override_from_options, override_options
from appcase.errors import InvalidInput, library_call
from appcase.limits import MAX_NOTES_FILE_BYTES, read_bounded

__all__ = ["COMMANDS"]

INSTANT = InstantType()


@click.group("report")
def report_group() -> None:
    """Hotline reports (举报) in, the summary report (总结) out.

    \b
    Example:
      appcase report summary --prefecture 430100 --format docx --out 长沙市总结.docx
    """


@report_group.command("hotline")
@click.option("--case", "case_id", metavar="CASE", help="The case reported about.")
@click.option("--app", "app_name", metavar="NAME", help="Or: the app's name in the ledger.")
@click.option("--uscc", metavar="CODE", help="Or: the operator's credit code.")
@click.option("--category", required=True, help="Harm category id (see 'appcase campaign show').")
@click.option("--description", required=True, help="What the reporter saw.")
@click.option("--locator", default="", help="Where it can be found (URL, screen, version).")
@click.option("--captured-at", type=INSTANT, help="When the reporter saw it, with offset.")
@click.option("--reporter-name", default="", help="Reporter's name (confidential).")
@click.option("--reporter-contact", default="", help="Reporter's contact (confidential).")
@click.option(
    "--reporter-file",
    metavar="FILE",
    help="JSON {name, contact} of the reporter ('-' for stdin): keeps them out of the "
    "shell history.",
)
@click.option("--at", type=INSTANT, help="When the report is recorded, with offset (default: now).")
@override_options
@click.option("--idempotency-key", metavar="KEY", help="Retry-safe key.")
@pass_app
def hotline_command(
    app: App,
    /,
    case_id: str | None,
    app_name: str | None,
    uscc: str | None,
    category: str,
    description: str,
    locator: str,
    captured_at: datetime | None,
    reporter_name: str,
    reporter_contact: str,
    reporter_file: str | None,
    at: datetime | None,
    idempotency_key: str | None,
    **overriding: Any,
) -> None:
    """Record a public report (举报) about an app: it becomes hotline evidence.

    A surveyed or rectified case is flagged; a flagged case gets the evidence added to
    its open flag (add_evidence). The reporter's name and contact are stored apart and
    never printed, logged or exported.

    \b
    Examples:
      appcase --actor cs-cac report hotline --app 星学口算 --category vulgar_pornographic \\
        --description '学习社区出现低俗图片' --reporter-file reporter.json \\
        --at 2018-03-02T10:00+08:00
      appcase --actor cs-cac report hotline --case HN2018-430100-0001 \\
        --category inciting_violence --description '视频含教唆暴力内容' \\
        --at 2018-03-03T09:00+08:00
    """
    from appcase.workflow.hotline import find_case, report_hotline

    if case_id and (app_name or uscc):
        raise InvalidInput("give --case, or --app/--uscc, not both")
    engine = app.engine()
    if not case_id:
        case_id = find_case(engine, name=app_name, uscc=uscc).id
    reporter: dict[str, Any] = {"name": reporter_name, "contact": reporter_contact}
    if reporter_file:
        data = read_json_file(reporter_file)
        unknown = set(data) - {"name", "contact"}
        if unknown:
            raise InvalidInput(f"{reporter_file}: only 'name' and 'contact' are read")
        reporter |= data
    evidence: dict[str, Any] = {
        "harm_category": category,
        "description": description,
        "locator": locator,
    }
    if captured_at is not None:
        evidence["captured_at"] = captured_at.isoformat()
    if reporter["name"] or reporter["contact"]:
        evidence["reporter"] = reporter
    override = override_from_options(overriding)
    view = report_hotline(
        engine,
        case_id,
        evidence,
        actor=app.actor(),
        at=at,
        override=override,
        idempotency_key=idempotency_key,
    )
    verb = "flagged" if view.event == "flag" else "evidence added to the open flag"
    emit(
        app,
        view,
        f"{view.case_id} #{view.seq}: hotline report recorded, {verb} "
        f"({view.from_state} → {view.to_state})\n  hash {view.hash}",
    )


@report_group.command("summary")
@click.option("--prefecture", metavar="CODE", help="Report on this prefecture (GB/T 2260 code).")
@click.option("--province", is_flag=True, help="Report on the whole province.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "docx", "json"]),
    default="md",
    show_default=True,
    help="Markdown, Word (needs --out) or JSON facts.",
)
@click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output; a .docx needs a file).",
)
@click.option(
    "--notes",
    "notes_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A UTF-8 text file of the officer's own suggestions (paragraphs split by blank lines).",
)
@click.option("--at", type=INSTANT, help="The report's instant, with offset (default: now).")
@click.option(
    "--typical",
    type=click.IntRange(min=0, max=50),
    default=5,
    show_default=True,
    help="How many typical cases to show.",
)
@pass_app
def summary_command(
    app: App,
    prefecture: str | None,
    province: bool,
    fmt: str,
    lang: str,
    out: Path | None,
    notes_file: Path | None,
    at: datetime | None,
    typical: int,
) -> None:
    """The summary report (总结) of 三(三), due 2018-04-05: six parts, Chinese by default.

    基本情况, 存在问题, 典型案例, 专项整治具体做法, 主要成果, 意见建议 -- counts from the
    ledger, evidence, findings and events; typical cases chosen by rule (takedowns and
    referrals first, then by severity); every override with its reason and authoriser;
    the rectification rate (rectified / pledged); computed suggestions followed by the
    officer's own (--notes). Hotline reporters' details are never included.

    \b
    Examples:
      appcase report summary --prefecture 430100 --format docx --out 长沙市总结.docx
      appcase report summary --province --lang en --notes notes.txt > summary.md
      appcase report summary --province --format json --at 2018-04-05T18:00+08:00
    """
    from appcase.adapters.render import render
    from appcase.workflow.reports import gather_summary

    if bool(prefecture) == province:
        raise InvalidInput("give --prefecture CODE or --province")
    if fmt == "docx" and out is None:
        raise InvalidInput("a Word report needs a file: add --out report.docx")
    notes: list[str] = []
    if notes_file is not None:
        raw = read_bounded(notes_file, MAX_NOTES_FILE_BYTES, "notes file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"notes file {notes_file} is not UTF-8 text") from None
        notes = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    data = gather_summary(
        app.engine(), prefecture=prefecture, as_of=at, typical=typical, notes=notes
    )
    with library_call(f"rendering the {fmt} report"):
        body = render(
            data,
            "docx" if fmt == "docx" else "json" if fmt == "json" else "md",
            "en" if lang == "en" else "zh",
        )
    if out is None:
        click.echo(body.decode("utf-8"), nl=False)
        return
    try:
        out.write_bytes(body)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
    emit(app, {"report": str(out), "format": fmt}, f"summary written: {out}")


@click.command("diagram")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid stateDiagram (renders on GitHub and GitLab) or Graphviz dot.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@pass_app
def diagram_command(app: App, fmt: str, out: Path | None) -> None:
    """Draw the transition table: both tracks, every state and event, guards on the edges.

    Needs no database. The README's diagram is this command's Mermaid output.

    \b
    Examples:
      appcase diagram > states.mmd
      appcase diagram --format dot | dot -Tsvg > states.svg
    """
    from appcase.workflow.diagram import diagram

    text = diagram("dot" if fmt == "dot" else "mermaid")
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
        emit(app, {"diagram": str(out), "format": fmt}, f"diagram written: {out}")
        return
    if app.json:
        emit(app, {"format": fmt, "diagram": text})
    else:
        click.echo(text, nl=False)


COMMANDS: list[click.Command] = [report_group, diagram_command]
