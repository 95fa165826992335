"""Reading cases: ``show``, ``list``, ``history``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, table
from appcase.cli.exits import REFUSED
from appcase.errors import InvalidInput, RowsUnreadable
from appcase.states import JudicialState, State

if TYPE_CHECKING:
    from appcase.workflow.views import CaseView, EventView

__all__ = ["COMMANDS"]


def _local(app: App, value: datetime) -> str:
    zone = app.engine().campaign.zone
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


_AS_OF = click.option(
    "--as-of",
    "as_of",
    type=InstantType(),
    help="The state at this past instant (with offset), rebuilt from the events.",
)
_AS_RECORDED = click.option(
    "--as-recorded",
    is_flag=True,
    help="With --as-of: count the events recorded by then (what the system showed at that "
    "instant), not those that happened by then.",
)


def _as_of_line(app: App, view: CaseView) -> list[str]:
    as_of = getattr(view, "as_of", None)
    if as_of is None:
        return []
    basis = "recorded" if getattr(view, "basis", "") == "recorded" else "happened"
    return [f"  as of           {_local(app, as_of)} (events {basis} by then)"]


def _prefecture_name(app: App, code: str) -> str:
    found = app.engine().campaign.jurisdiction(code)
    return found.name_zh if found else ""


@click.command("show")
@click.argument("case_id", metavar="CASE")
@_AS_OF
@_AS_RECORDED
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as 'appcase --json').")
@pass_app
def show_command(
    app: App, case_id: str, as_of: datetime | None, as_recorded: bool, as_json: bool
) -> None:
    """Show one case: the app, both tracks, the judgment and the pledge -- now, or as it
    was at a past instant (--as-of).

    \b
    Examples:
      appcase show HN2018-430100-0001
      appcase show HN2018-430100-0001 --as-of 2018-03-01T00:00+08:00
    """
    if as_json:
        app.json = True
    if as_recorded and as_of is None:
        raise InvalidInput("--as-recorded needs --as-of TIME")
    from appcase.workflow.asof import get_as_of

    engine = app.engine()
    view: CaseView = (
        engine.get(case_id)
        if as_of is None
        else get_as_of(engine, case_id, as_of, as_recorded=as_recorded)
    )
    a = view.app
    lines = [
        f"{view.id}  {a.name}",
        *_as_of_line(app, view),
        f"  operator        {a.operator} ({a.uscc})",
        f"  ICP filing      {a.icp_filing or '-'}",
        f"  platforms       {', '.join(a.platforms) or '-'}",
        f"  target users    {a.target_users or '-'}; used by schools: {'yes' if a.used_by_schools else 'no'}",
        f"  prefecture      {view.prefecture} {_prefecture_name(app, view.prefecture)}",
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
@_AS_OF
@_AS_RECORDED
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
      appcase list --as-of 2018-03-15T00:00+08:00 --state judged
    """
    if as_json:
        app.json = True
    if overdue and filters.get("overdue_at") is None:
        filters["overdue_at"] = app.engine().clock.now()
    if referred:
        filters["judicial_states"] = (*filters["judicial_states"], "referred_to_judiciary")
    as_of, as_recorded = filters.pop("as_of"), filters.pop("as_recorded")
    if as_recorded and as_of is None:
        raise InvalidInput("--as-recorded needs --as-of TIME")
    views: list[CaseView]
    unreadable: list[str] = []
    if as_of is not None:
        views = _list_as_of(app, as_of, as_recorded, overdue, filters)
    else:
        try:
            views = app.engine().list_cases(**filters)
        except RowsUnreadable as exc:  # show what can be read, then say what could not
            views, unreadable = exc.readable, [c for c, _, _ in exc.unreadable]
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
    emit(app, views, f"{text}\n({len(views)} case{'' if len(views) == 1 else 's'})")
    if unreadable:
        _unreadable(app, unreadable)


def _unreadable(app: App, ids: list[str]) -> None:
    """Say which cases' rows could not be read (standard error), and exit 1."""
    message = (
        f"{len(ids)} case(s) could not be read and are not listed (damaged rows): "
        f"{', '.join(ids)}; 'appcase audit verify' names the damage"
    )
    if app.json:
        body = {"type": RowsUnreadable.__name__, "message": message, "unreadable": ids}
        click.echo(json.dumps({"error": body}, ensure_ascii=False), err=True)
    else:
        click.secho(f"damaged: {message}", fg="red", err=True)
    click.get_current_context().exit(REFUSED)


def _list_as_of(
    app: App, as_of: datetime, as_recorded: bool, overdue: bool, filters: dict[str, Any]
) -> list[CaseView]:
    """``list --as-of``: the filters that apply to a past state; the others are refused."""
    supported = ("states", "judicial_states", "prefectures", "text", "limit")
    unset: tuple[Any, ...] = (None, (), False, "id")
    others = [k for k, v in filters.items() if k not in supported and v not in unset]
    if overdue:  # --overdue set overdue_at to now
        others = ["overdue", *(k for k in others if k != "overdue_at")]
    if others:
        names = ", ".join("--" + k.replace("_", "-") for k in others)
        raise InvalidInput(f"{names} cannot be combined with --as-of")
    kept = {k: filters[k] for k in supported if k in filters}
    from appcase.workflow.asof import list_as_of

    return list(list_as_of(app.engine(), as_of, as_recorded=as_recorded, **kept))


def _timeline(app: App, events: list[EventView]) -> list[dict[str, Any]]:
    """Each event with what a reader needs beside it: local times, the numbers given to
    its evidence items (1, 2, ... per case, in the order flagged), the evidence a judgment
    cites, the policy rules that fired."""
    zone = app.engine().campaign.zone
    names = {a.id: a.name for a in app.engine().actors()}
    number = 0
    out = []
    for e in events:
        items = e.payload.get("evidence", []) if e.event in ("flag", "add_evidence") else []
        numbers = list(range(number + 1, number + 1 + len(items)))
        number += len(items)
        cited = sorted(
            {int(n) for f in e.payload.get("findings", []) for n in f.get("evidence_refs", [])}
        )
        policy = e.payload.get("policy") or {}
        out.append(
            e.model_dump(mode="json")
            | {
                "actor_name": names.get(e.actor, ""),
                "occurred_local": e.occurred_at.astimezone(zone).isoformat(),
                "recorded_local": e.recorded_at.astimezone(zone).isoformat(),
                "evidence_numbers": numbers,
                "evidence_cited": cited,
                "policy_rules": [r["id"] for r in policy.get("rules", [])],
            }
        )
    return out


def _details(e: dict[str, Any]) -> list[str]:
    """The lines of one event's payload worth reading (never a reporter's details)."""
    p: dict[str, Any] = e["payload"]
    lines = []
    for n, item in zip(e["evidence_numbers"], p.get("evidence", []), strict=False):
        notes = [f"#{n}"]
        if item.get("locator"):
            notes.append(f"at {item['locator']}")
        if item.get("reporter_ref"):
            notes.append("reporter on file")
        lines.append(
            f"evidence: {item['harm_category']} via {item['source']}: {item['description']} "
            f"({', '.join(notes)})"
        )
    for f in p.get("findings", []):
        refs = ", ".join(f"#{n}" for n in f.get("evidence_refs", [])) or "none"
        illegal = "; suspected illegal" if f.get("suspected_illegal") else ""
        lines.append(f"finding: {f['harm_category']} ({f['severity']}), evidence {refs}{illegal}")
    if e["event"] == "judge" and p.get("disposition"):
        lines.append(f"disposition: {p['disposition']}")
    policy = p.get("policy")
    if policy:
        rules = ", ".join(e["policy_rules"]) or "none"
        refer = "; refer to the judiciary" if policy.get("refer") else ""
        lines.append(
            f"policy {policy['version']}: minimum {policy['minimum']}; rules {rules}{refer}"
        )
    if e["evidence_cited"]:
        lines.append("evidence cited: " + ", ".join(str(n) for n in e["evidence_cited"]))
    if e["event"] == "interview":
        lines.append(
            f"interview at {p.get('place') or '-'}; officers {', '.join(p.get('officers', []))}; "
            f"rectify by {p.get('rectification_deadline')}"
        )
        lines += [f"problem: {x}" for x in p.get("problems", [])]
    if e["event"] == "pledge":
        lines.append(
            f"pledge signed by {p.get('signed_by') or '-'}; "
            f"{len(p.get('commitments', []))} commitments; deadline {p.get('deadline')}"
        )
    if e["event"] == "rectify":
        checks = p.get("checks", [])
        done = sum(1 for c in checks if c.get("verified"))
        lines.append(f"verified {done} of {len(checks)} commitments")
    if p.get("ground"):
        lines.append(f"ground: {p['ground']}")
    if p.get("decision_no"):
        lines.append(f"decision {p['decision_no']} ({p.get('measure', 'takedown')})")
    if p.get("authority"):
        lines.append(f"referred to {p['authority']}")
    return lines


@click.command("history")
@click.argument("case_id", metavar="CASE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as 'appcase --json').")
@pass_app
def history_command(app: App, case_id: str, as_json: bool) -> None:
    """Show a case's timeline in the campaign's local time: who (actor, role), what (event,
    from → to), why (reason), overrides, the policy rules that fired and the evidence.

    Times are when each act happened; "recorded" follows when it was entered later.
    Hotline reporters' names and contacts are never shown ("reporter on file").

    \b
    Examples:
      appcase history HN2018-430100-0001
      appcase history HN2018-430100-0001 --json
    """
    if as_json:
        app.json = True
    events: list[EventView] = app.engine().history(case_id)
    entries = _timeline(app, events)
    zone = app.engine().campaign.timezone
    lines = [f"{case_id}: {len(events)} events (times in {zone})"]
    for e, view in zip(entries, events, strict=True):
        when, recorded = _local(app, view.occurred_at), _local(app, view.recorded_at)
        lines.append(f"#{e['seq']} {when}  {e['event']:<24} {e['from_state']} → {e['to_state']}")
        who = f"{e['actor']} {e['actor_name']}".rstrip()
        lines.append(f"     by {who} ({e['role']}, {e['jurisdiction']})")
        if recorded != when:
            lines.append(f"     recorded {recorded}")
        if e["reason"]:
            lines.append(f"     reason: {e['reason']}")
        if e["override"]:
            o = e["override"]
            lines.append(
                f"     OVERRIDE by {o['authorised_by']}: {o['reason']} "
                f"(waived {', '.join(o['waived'])}"
                + (f"; grant {o['grant']})" if o.get("grant") else ")")
            )
        lines += [f"     {line}" for line in _details(e)]
        lines.append(f"     hash {e['hash'][:16]}…")
    emit(app, entries, "\n".join(lines))


COMMANDS = [show_command, list_command, history_command]
