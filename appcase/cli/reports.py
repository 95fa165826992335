"""Reports and diagrams: ``appcase report hotline``, ``appcase report summary``,
``appcase diagram``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, read_json_file
from appcase.errors import InvalidInput

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
@click.option("--override-reason", help="Record an override (patrol window closed).")
@click.option("--override-by", metavar="ACTOR", help="Officer authorising the override.")
@click.option("--idempotency-key", metavar="KEY", help="Retry-safe key.")
@pass_app
def hotline_command(
    app: App,
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
    override_reason: str | None,
    override_by: str | None,
    idempotency_key: str | None,
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
        --category inciting_violence --description '视频含教唆暴力内容'
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
    if override_by and not override_reason:
        raise InvalidInput("--override-by needs --override-reason")
    override = (
        {"reason": override_reason, "authorised_by": override_by} if override_reason else None
    )
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
