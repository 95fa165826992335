"""The ``appcase`` command line (click). ``main`` is the console script's entry point.

Commands are loaded lazily (:class:`~appcase.cli.app.LazyGroup`): :data:`COMMANDS` names
each top-level command's module and short help, so that ``appcase --help`` imports no
command module and ``appcase CMD --help`` imports only CMD's. To add a command: write it in
a module of this package, put it in that module's ``COMMANDS`` list, and add a row here
with its help's first sentence (``tests/cli/test_lazy_help.py`` checks both).
"""

from __future__ import annotations

import click

from appcase.cli.app import App, AppcaseGroup

__all__ = ["COMMANDS", "cli", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module whose COMMANDS list holds it, short help: its help's first sentence)
    "actor": ("appcase.cli.admin", "Officers who act: an id with a role and a jurisdiction."),
    "add-evidence": (
        "appcase.cli.events",
        "Join more evidence to the case's open flag (补充取证).",
    ),
    "audit": (
        "appcase.cli.audit",
        "Verify case histories, take checkpoints, export a bundle for auditors.",
    ),
    "campaign": ("appcase.cli.admin", "The campaign loaded in the database."),
    "db": ("appcase.cli.admin", "Database schema (Alembic migrations)."),
    "demo": (
        "appcase.cli.admin",
        "Play the whole Hunan 2018 campaign on a simulated clock into a fresh SQLite file.",
    ),
    "diagram": (
        "appcase.cli.reports",
        "Draw the transition table: both tracks, every state and event, guards on the edges.",
    ),
    "dismiss": ("appcase.cli.events", "Close a judgment of no violation."),
    "escalate": ("appcase.cli.events", "Propose takedown to the province (提出下架、关停建议)."),
    "feed": (
        "appcase.cli.feed",
        "Print the campaign's committed events after a position, as JSON lines.",
    ),
    "flag": ("appcase.cli.events", "Record evidence of harmful content (取证)."),
    "history": (
        "appcase.cli.cases",
        "Show a case's timeline in the campaign's local time: who (actor, role), what (event, "
        "from → to), why (reason), overrides, the policy rules that fired and the evidence.",
    ),
    "import": ("appcase.cli.imports", "Import files officers keep: the ledger of apps (管理台账)."),
    "init": ("appcase.cli.admin", "Create or upgrade the database and load a campaign into it."),
    "interview": (
        "appcase.cli.events",
        "Interview the operator and set a deadline (约谈、限期整改).",
    ),
    "judge": ("appcase.cli.events", "Judge the evidence and choose a disposition (研判)."),
    "list": (
        "appcase.cli.cases",
        "List cases, by id (or --sort), filtered by state, prefecture, phase, overdue, text.",
    ),
    "pledge": ("appcase.cli.events", "Record the signed rectification pledge (整改承诺书)."),
    "override": (
        "appcase.cli.overrides",
        "Override grants: an authorising officer's consent that one late command may act.",
    ),
    "policy": ("appcase.cli.policy", "The campaign's policies as code: ask what they say."),
    "rectify": ("appcase.cli.events", "Verify every commitment by the deadline (整改到位)."),
    "refer": ("appcase.cli.events", "Refer a suspected crime to the judiciary (交由司法部门)."),
    "relay": (
        "appcase.cli.feed",
        "Deliver the campaign's event feed to an HTTP receiver, signed, at least once.",
    ),
    "report": ("appcase.cli.reports", "Hotline reports (举报) in, the summary report (总结) out."),
    "return": ("appcase.cli.events", "Send the case back for rectification (退回整改)."),
    "serve": (
        "appcase.cli.server",
        "Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs).",
    ),
    "show": (
        "appcase.cli.cases",
        "Show one case: the app, both tracks, the judgment and the pledge -- now, or as it was "
        "at a past instant (--as-of).",
    ),
    "survey": (
        "appcase.cli.events",
        "List an app in the campaign's ledger (摸排建档): a new case.",
    ),
    "sweep": (
        "appcase.cli.admin",
        "Escalate every pledged case whose deadline passed before TIME; report flagged cases "
        "not judged by the judgment deadline.",
    ),
    "take-down": ("appcase.cli.events", "Take the app down or shut its service (下架、关停服务)."),
}
"""Every top-level command: ``name -> (module, short help)``, the one table the root group
loads commands from (subgroups keep their own, e.g. ``actor token``)."""


@click.group(
    cls=AppcaseGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db",
    "database_url",
    metavar="URL",
    envvar="APPCASE_DATABASE_URL",
    help="Database URL or SQLite file path [env APPCASE_DATABASE_URL; default: a SQLite "
    "file in your user data directory].",
)
@click.option(
    "--actor", metavar="ID", envvar="APPCASE_ACTOR", help="Acting officer [env APPCASE_ACTOR]."
)
@click.option(
    "--campaign",
    metavar="ID",
    envvar="APPCASE_CAMPAIGN",
    help="Campaign id, when the database holds several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs instead of text.")
@click.option(
    "-v", "--verbose", count=True, help="Log more to standard error (-v info, -vv debug)."
)
@click.version_option(package_name="appcase")
@click.pass_context
def cli(
    ctx: click.Context,
    database_url: str | None,
    actor: str | None,
    campaign: str | None,
    as_json: bool,
    verbose: int,
) -> None:
    """appcase: run a campaign against harmful mobile apps, one case per app.

    \b
    Examples (start here):
      appcase demo                  play the Hunan 2018 campaign into a fresh database
      appcase init                  create the database and load the campaign
      appcase --actor cs-cac flag HN2018-430100-0001 --category vulgar_pornographic \\
          --description "..." --at 2018-03-01T10:00+08:00

    Exit codes: 0 done, 1 refused by a guard (every reason printed), an audit failure or
    a damaged case, 2 bad usage or input, 3 nothing was written, retry (the case changed
    meanwhile, the database was busy or went away), 4 the relay gave up on a failing
    receiver, 70 an internal error (one line says where the report was written).
    """
    ctx.obj = App(
        flags={"database_url": database_url, "actor": actor, "campaign": campaign},
        json=as_json,
        verbose=verbose,
    )


def main() -> None:
    """Run the command line."""
    cli(prog_name="appcase")
