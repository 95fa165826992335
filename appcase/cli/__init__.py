"""The ``appcase`` command line (click). ``main`` is the console script's entry point."""

from __future__ import annotations

import click

from appcase.cli.app import App, AppcaseGroup

__all__ = ["cli", "main"]


@click.group(cls=AppcaseGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def _register() -> None:
    from appcase.cli import (
        admin,
        audit,
        cases,
        events,
        imports,
        overrides,
        policy,
        reports,
        server,
        tokens,
    )
    from appcase.cli import feed as feed_cli

    modules = (admin, audit, cases, events, policy, imports, reports, overrides, feed_cli, server)
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)
    admin.actor_group.add_command(tokens.token_group)


_register()


def main() -> None:
    """Run the command line."""
    cli(prog_name="appcase")
