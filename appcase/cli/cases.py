"""Reading cases: ``show``, ``list``, ``history``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, table
from appcase.states import JudicialState, State
from appcase.workflow.views import CaseView, EventView

__all__ = ["COMMANDS"]


def _local(app: App, value: datetime) -> str:
    zone = app.engine().campaign.zone
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@click.command("show")
@click.argument("case_id", metavar="CASE")
@pass_app
def show_command(app: App, case_id: str) -> None:
    """Show one case: the app, both tracks, the judgment and the pledge.

    \b
    Example:
      appcase show HN2018-430100-0001
    """
    view = app.engine().get(case_id)
    a = view.app
    lines = [
        f"{view.id}  {a.name}",
        f"  operator        {a.operator} ({a.uscc})",
        f"  ICP filing      {a.icp_filing or '-'}",
        f"  platforms       {', '.join(a.platforms) or '-'}",
        f"  target users    {a.target_users or '-'}; used by schools: {'yes' if a.used_by_schools else 'no'}",
        f"  prefecture      {view.prefecture}",
        f"  state           {view.state}",
        f"  judicial        {view.judicial_state}",
        f"  disposition     {view.disposition or '-'}",
        f"  pledge deadline {view.pledge_deadline or '-'}",
        f"  events          {view.event_count} (head {view.head_hash[:16]}…, version {view.version})",
        f"  last event at   {_local(app, view.last_occurred_at)}",
    ]
    emit(app, view, "\n".join(lines))


@click.command("list")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in State if s is not State.NEW]),
    help="Administrative state; repeat for several.",
)
@click.option(
    "--judicial",
    "judicial_states",
    multiple=True,
    type=click.Choice([s.value for s in JudicialState]),
    help="Judicial state.",
)
@click.option(
    "--prefecture",
    "prefectures",
    multiple=True,
    metavar="CODE",
    help="GB/T 2260 code; repeat for several.",
)
@click.option(
    "--overdue-at", type=InstantType(), help="Only pledged cases whose deadline had passed at TIME."
)
@click.option("--overdue", is_flag=True, help="Only pledged cases whose deadline has passed (now).")
@click.option("--referred", is_flag=True, help="Only cases referred to the judiciary.")
@click.option(
    "--phase",
    metavar="PHASE",
    help="Only cases whose last event fell in this phase's window (survey, judgment, …).",
)
@click.option("--text", help="Substring of the app's name, operator or the case id.")
@click.option(
    "--sort",
    type=click.Choice(["id", "state", "prefecture", "last-event"]),
    default="id",
    show_default=True,
    help="Order: state in workflow order; last-event oldest first; ties by id.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many cases.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as 'appcase --json').")
@pass_app
def list_command(app: App, /, overdue: bool, referred: bool, as_json: bool, **filters: Any) -> None:
    """List cases, by id (or --sort), filtered by state, prefecture, phase, overdue, text.

    \b
    Examples:
      appcase list --state pledged --prefecture 430100
      appcase list --overdue --sort last-event
      appcase list --phase survey --text 口算 --json
      appcase --json list --referred
    """
    if as_json:
        app.json = True
    if overdue and filters.get("overdue_at") is None:
        filters["overdue_at"] = app.engine().clock.now()
    if referred:
        filters["judicial_states"] = (*filters["judicial_states"], "referred_to_judiciary")
    views: list[CaseView] = app.engine().list_cases(**filters)
    rows = [
        (
            v.id,
            v.app.name,
            v.state,
            v.judicial_state.replace("_to_judiciary", ""),
            v.disposition or "-",
            v.pledge_deadline or "-",
        )
        for v in views
    ]
    text = table(["case", "app", "state", "judicial", "disposition", "deadline"], rows)
    emit(app, views, f"{text}\n({len(views)} cases)")


@click.command("history")
@click.argument("case_id", metavar="CASE")
@pass_app
def history_command(app: App, case_id: str) -> None:
    """Show a case's events in order, in the campaign's local time.

    \b
    Example:
      appcase history HN2018-430100-0001
    """
    events: list[EventView] = app.engine().history(case_id)
    lines = []
    for e in events:
        lines.append(
            f"#{e.seq} {_local(app, e.occurred_at)}  {e.event:<24} {e.from_state} → {e.to_state}"
        )
        lines.append(f"     by {e.actor} ({e.role}, {e.jurisdiction})")
        if e.reason:
            lines.append(f"     reason: {e.reason}")
        if e.override:
            lines.append(
                f"     OVERRIDE by {e.override['authorised_by']}: {e.override['reason']} "
                f"(waived {', '.join(e.override['waived'])})"
            )
        policy = e.payload.get("policy")
        if policy:
            rules = ", ".join(r["id"] for r in policy["rules"])
            lines.append(
                f"     policy {policy['version']}: minimum {policy['minimum']}; rules {rules}"
            )
        refs = [str(n) for f in e.payload.get("findings", []) for n in f.get("evidence_refs", [])]
        if refs:
            lines.append(f"     evidence cited: {', '.join(sorted(set(refs), key=int))}")
        for item in e.payload.get("evidence", []):
            lines.append(
                f"     evidence: {item['harm_category']} via {item['source']}: {item['description']}"
            )
        lines.append(f"     hash {e.hash[:16]}…")
    emit(app, events, "\n".join(lines) or "(no events)")


COMMANDS = [show_command, list_command, history_command]
