"""Setting up and running a campaign: ``init``, ``db``, ``actor``, ``campaign``, ``sweep``
and ``demo`` (``audit`` is in :mod:`appcase.cli.audit`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from appcase.cli.app import App, InstantType, emit, pass_app, table
from appcase.cli.exits import REFUSED
from appcase.errors import InvalidInput

if TYPE_CHECKING:
    from appcase.demo import DemoResult

__all__ = ["COMMANDS", "render_demo"]


@click.command("init")
@click.option(
    "--campaign-file",
    "campaign",
    default="hunan-2018",
    show_default=True,
    metavar="FILE|ID",
    help="Campaign file (TOML) or built-in id.",
)
@pass_app
def init_command(app: App, campaign: str) -> None:
    """Create or upgrade the database and load a campaign into it.

    Safe to run again: an up-to-date database with the same campaign is left as it is.

    \b
    Examples:
      appcase init
      appcase --db cases.sqlite init --campaign-file my-campaign.toml
    """
    from appcase.bootstrap import init_database

    engine = init_database(app.database_url, campaign)
    c = engine.campaign
    emit(
        app,
        {"database": app.database_url, "campaign": c.id},
        f"database {app.database_url} is ready; campaign {c.id}: {c.title_zh} ({c.document_number})",
    )


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations).

    \b
    Example:
      appcase db upgrade
    """


@db_group.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Migrate the database to the newest schema.

    \b
    Example:
      appcase --db postgresql://appcase@db/appcase db upgrade
    """
    from appcase.bootstrap import upgrade_database

    rev = upgrade_database(app.database_url)
    emit(app, {"revision": rev}, f"database at revision {rev}")


@db_group.command("current")
@pass_app
def db_current(app: App) -> None:
    """Print the database's schema revision and the newest one.

    \b
    Example:
      appcase db current
    """
    from appcase.bootstrap import schema_revision

    rev, head = schema_revision(app.database_url)
    emit(app, {"revision": rev, "head": head}, f"at {rev or '(empty)'}; newest {head}")


@click.group("actor")
def actor_group() -> None:
    """Officers who act: an id with a role and a jurisdiction. Registering them is an
    administrator's act (--actor), logged ('appcase actor log'); the first administrator
    registers itself while there is none.

    \b
    Examples:
      appcase actor add admin --role administrator
      appcase --actor admin actor add cs-cac --role cac_prefecture --jurisdiction 430100
    """


@actor_group.command("add")
@click.argument("actor_id", metavar="ID")
@click.option(
    "--role",
    required=True,
    help="cac_prefecture, edu_prefecture, cac_province, or administrator.",
)
@click.option(
    "--jurisdiction",
    metavar="CODE",
    help="GB/T 2260 code [default for a province role and an administrator: the province].",
)
@click.option("--name", default="", help="Display name.")
@pass_app
def actor_add(app: App, actor_id: str, role: str, jurisdiction: str | None, name: str) -> None:
    """Register an officer, as the administrator --actor. Without --actor, only the first
    administrator may be registered, while the database holds none.

    \b
    Examples:
      appcase actor add admin --role administrator
      appcase --actor admin actor add cs-cac --role cac_prefecture --jurisdiction 430100 \
        --name 长沙市网信办
    """
    view = app.engine().add_actor(
        actor_id, role=role, jurisdiction=jurisdiction, name=name, by=app.settings.actor or None
    )
    emit(app, view, f"actor {view.id}: {view.role} in {view.jurisdiction}")


@actor_group.command("list")
@pass_app
def actor_list(app: App) -> None:
    """List registered officers.

    \b
    Example:
      appcase actor list
    """
    views = app.engine().actors()
    emit(
        app,
        views,
        table(
            ["id", "role", "jurisdiction", "name"],
            [(v.id, v.role, v.jurisdiction, v.name) for v in views],
        ),
    )


@actor_group.command("log")
@pass_app
def actor_log(app: App) -> None:
    """Show the administrators' log (actors registered, tokens issued and revoked: who,
    what, when) and check its hash chain; exits 1 if the chain is broken.

    \b
    Example:
      appcase actor log
    """
    log = app.engine().admin_log()
    rows = [
        (
            e.seq,
            e.recorded_at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            e.subject,
            " ".join(f"{k}={v}" for k, v in e.detail.items()),
        )
        for e in log.entries
    ]
    verdict = (
        f"chain intact: {len(log.entries)} entries"
        if log.ok
        else "CHAIN BROKEN:\n" + "\n".join(f"  - {p}" for p in log.problems)
    )
    emit(app, log, table(["seq", "at", "by", "action", "subject", "detail"], rows) + "\n" + verdict)
    if not log.ok:
        click.get_current_context().exit(REFUSED)


@click.group("campaign")
def campaign_group() -> None:
    """The campaign loaded in the database.

    \b
    Example:
      appcase campaign show
    """


@campaign_group.command("show")
@pass_app
def campaign_show(app: App) -> None:
    """Show the campaign: phases, windows, roles, jurisdictions, harm categories.

    \b
    Example:
      appcase campaign show
    """
    c = app.engine().campaign
    lines = [
        f"{c.id}: {c.title_zh}",
        f"  {c.document_number}, issued {c.issued_on} by {'、'.join(c.issuers)}",
        f"  time zone {c.timezone}; policy version {c.policy.version}",
        "",
        "phases:",
        table(
            ["id", "name", "start", "deadline"],
            [(p.id, p.name_zh, p.start, p.deadline) for p in c.phases],
        ),
        "",
        "event windows:",
        table(["event", "phases"], [(e.value, ", ".join(ps)) for e, ps in c.windows.items()]),
        "",
        "roles:",
        table(
            ["role", "scope", "events", "override"],
            [
                (
                    r.id,
                    r.scope,
                    ", ".join(e.value for e in r.events),
                    "yes" if r.may_override else "",
                )
                for r in c.roles
            ],
        ),
        "",
        "harm categories: " + ", ".join(f"{h.id} ({h.name_zh})" for h in c.harm_categories),
        "",
        "prefectures: " + ", ".join(f"{j.code} {j.name_zh}" for j in c.prefectures),
    ]
    emit(app, c, "\n".join(lines))


@click.command("sweep")
@click.option("--at", type=InstantType(), required=True, help="The sweep's instant, with offset.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=500, show_default=True)
@pass_app
def sweep_command(app: App, at: datetime, batch_size: int) -> None:
    """Escalate every pledged case whose deadline passed before TIME; report flagged cases
    not judged by the judgment deadline. Idempotent. Exits 1 when a case failed (a damaged
    case, say: 'appcase audit verify' names it), so that a scheduler notices; the others
    were swept.

    \b
    Example:
      appcase sweep --at 2018-04-01T00:00+08:00
    """
    from appcase.workflow.sweep import summarise, sweep
    from appcase.workflow.views import SweepOutcome

    outcomes = sweep(app.engine(), at, batch_size=batch_size)
    if app.json:
        done = list(outcomes)
        summary = summarise(at, done)
        emit(app, {"report": summary, "outcomes": done})
        if summary.failed:
            click.get_current_context().exit(REFUSED)
        return

    def echoed() -> Iterator[SweepOutcome]:
        for o in outcomes:  # printed as they come: the sweep runs in batches
            click.echo(f"{o.case_id}  {o.status}" + (f"  {o.detail}" if o.detail else ""))
            yield o

    report = summarise(at, echoed())
    click.echo(
        f"sweep at {at.astimezone(app.engine().campaign.zone).isoformat()}: "
        f"{report.escalated} escalated, {report.refused} refused, "
        f"{report.conflict} conflicts, {report.failed} failed, "
        f"{report.unjudged} flagged but not judged"
    )
    if report.failed:
        click.get_current_context().exit(REFUSED)


@click.command("demo")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file to write (replaced if it exists) [default: demo.sqlite in your user data directory].",
)
@click.option(
    "--seed", type=int, default=2018, show_default=True, help="Random seed of the simulation."
)
@pass_app
def demo_command(app: App, out: Path | None, seed: int) -> None:
    """Play the whole Hunan 2018 campaign on a simulated clock into a fresh SQLite file.

    About 300 fictional education apps over the 14 prefectures go through survey, patrol
    and hotline evidence, judgment, interviews, pledges, rectification, sweeps of missed
    deadlines, provincial takedowns and returns, and judicial referrals -- all through the
    same engine and guards an operator uses. Ends with counts per prefecture and the audit.

    \b
    Example:
      appcase demo
      appcase demo --out demo.sqlite
      appcase --db demo.sqlite history HN2018-430100-0009
    """
    from appcase.demo import default_demo_path, run_demo

    ctx = click.get_current_context()
    given = ctx.parent.get_parameter_source("database_url") if ctx.parent else None
    if out is None and given is ParameterSource.COMMANDLINE:
        raise InvalidInput(
            "the demo writes a fresh file of its own and never touches --db; "
            "choose that file with 'appcase demo --out FILE'"
        )
    path = out or default_demo_path()
    result = run_demo(path, seed=seed)
    emit(app, result, render_demo(result))


def render_demo(result: DemoResult) -> str:
    """The demo's closing report for a terminal.

    Args:
        result: what :func:`appcase.demo.run_demo` returned.

    Returns:
        Counts per prefecture as a table, the states reached, the refused commands, the
        audit's verdict and commands to look around the database, as lines of text.
    """
    short = {
        "surveyed": "surv",
        "flagged": "flag",
        "judged": "judg",
        "interviewed": "intv",
        "pledged": "pldg",
        "rectified": "rect",
        "escalated_for_takedown": "escl",
        "taken_down": "down",
    }
    headers = ["code", "prefecture", "cases", *short.values(), "referred", "swept", "override"]
    rows = [
        [c.code, c.name, c.cases, *(c.states[s] for s in short), c.referred, c.overdue, c.overrides]
        for c in [*result.prefectures, result.province]
    ]
    legend = ", ".join(f"{v}={k}" for k, v in short.items())
    lines = [
        "Hunan 2018 campaign (湘网信办综〔2018〕1号), simulated 2018-02-13 .. 2018-04-05",
        "",
        table(headers, rows),
        "",
        f"states: {legend}; swept = escalated by the sweep for a missed rectification deadline",
        "cases that ever reached each state: "
        + ", ".join(f"{k} {v}" for k, v in result.reached.items()),
        f"commands refused by guards (nothing written): {len(result.refused)}",
        *(f"  - {r}" for r in result.refused),
        f"audit verify: {'ok' if result.audit_ok else 'FAILED'} ({result.events} events, "
        f"{result.province.cases} cases)",
        "",
        f"database: {result.database}",
        "look around:",
        f"  appcase --db {result.database} list --judicial referred_to_judiciary --state taken_down",
        f"  appcase --db {result.database} history {result.example_case or 'CASE'}",
    ]
    return "\n".join(lines)


COMMANDS = [
    init_command,
    db_group,
    actor_group,
    campaign_group,
    sweep_command,
    demo_command,
]
