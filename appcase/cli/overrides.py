"""``appcase override grant|list|revoke``: override grants, and the override options every
command that can act late shares (``--override GRANT``, ``--override-reason``).

An officer whose role may override records a grant with their own command (``--actor``
is the authoriser); the late command names the grant. See
:mod:`appcase.workflow.grants`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, table
from appcase.errors import InvalidInput

__all__ = ["COMMANDS", "override_from_options", "override_options"]

_GRANT_FLOW = (
    "naming another officer as the authoriser is no longer possible: that officer records "
    "a grant ('appcase --actor THEM override grant CASE --event EVENT --reason ...') and "
    "the command uses it with --override GRANT"
)


def override_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The override options of a command that may act after a window closed:
    ``--override GRANT``, ``--override-reason`` and the retired ``--override-by``."""
    options = [
        click.option(
            "--override",
            "override_grant",
            metavar="GRANT",
            help="Act under this override grant (from 'appcase override grant').",
        ),
        click.option(
            "--override-reason",
            help="Authorise an override yourself (your role must be allowed to), with this reason.",
        ),
        click.option("--override-by", metavar="ACTOR", hidden=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def override_from_options(kw: dict[str, Any]) -> dict[str, str] | None:
    """The engine's ``override`` from the options :func:`override_options` added (popped
    from ``kw``).

    Raises:
        InvalidInput: ``--override-by`` (retired: the grant flow replaces it), or both
            ``--override`` and ``--override-reason``.
    """
    grant, reason, by = (
        kw.pop("override_grant"),
        kw.pop("override_reason"),
        kw.pop("override_by"),
    )
    if by:
        raise InvalidInput(f"--override-by: {_GRANT_FLOW}")
    if grant and reason:
        raise InvalidInput("give --override GRANT or --override-reason, not both")
    if grant:
        return {"grant": grant}
    return {"reason": reason} if reason else None


@click.group("override")
def override_group() -> None:
    """Override grants: an authorising officer's consent that one late command may act.

    \b
    Examples:
      appcase --actor hn-cac override grant HN2018-430100-0001 --event judge \\
        --reason '逾期研判，经省网信办批准'
      appcase --actor cs-edu judge HN2018-430100-0001 ... --override og-3f2a9c0d1e4b5a69
      appcase override list HN2018-430100-0001
    """


@override_group.command("grant")
@click.argument("case_id", metavar="[CASE]", required=False)
@click.option("--event", required=True, help="The event the late command fires (judge, ...).")
@click.option("--reason", required=True, help="Why the late act is allowed.")
@click.option(
    "--prefecture",
    metavar="CODE",
    help="For a survey grant (no case yet): the prefecture of the apps to survey.",
)
@click.option(
    "--expires-at",
    type=InstantType(),
    help="When the grant stops working, with offset [default: in 7 days].",
)
@pass_app
def grant_command(
    app: App,
    case_id: str | None,
    event: str,
    reason: str,
    prefecture: str | None,
    expires_at: datetime | None,
) -> None:
    """Grant an override on CASE for one EVENT, as --actor (whose role must be allowed to
    override the case). Prints the grant's id for the late command's --override.

    \b
    Examples:
      appcase --actor hn-cac override grant HN2018-430100-0001 --event judge \\
        --reason '逾期研判，经省网信办批准'
      appcase --actor cs-cac override grant --prefecture 430100 --event survey \\
        --reason '补充摸排' --expires-at 2018-03-20T00:00+08:00
    """
    from appcase.workflow.grants import grant_override

    view = grant_override(
        app.engine(),
        by=app.actor(),
        event=event,
        reason=reason,
        case_id=case_id,
        prefecture=prefecture,
        expires_at=expires_at,
    )
    emit(
        app,
        view,
        f"{view.id}\ngrant {view.id}: {view.authorised_by} allows one late {view.event} on "
        f"{view.case_id or 'a survey in ' + view.prefecture} until "
        f"{view.expires_at.isoformat(timespec='seconds')}",
    )


@override_group.command("list")
@click.argument("case_id", metavar="[CASE]", required=False)
@pass_app
def list_command(app: App, case_id: str | None) -> None:
    """List override grants (of CASE), oldest first, with their status.

    \b
    Example:
      appcase override list HN2018-430100-0001
    """
    from appcase.workflow.grants import list_grants

    views = list_grants(app.engine(), case_id)
    rows = [
        (
            v.id,
            v.case_id or f"survey {v.prefecture}",
            v.event,
            v.authorised_by,
            v.expires_at.isoformat(timespec="seconds"),
            v.status + (f" by {v.used_by}" if v.used_by else ""),
        )
        for v in views
    ]
    emit(app, views, table(["id", "case", "event", "authoriser", "expires", "status"], rows))


@override_group.command("revoke")
@click.argument("grant_id", metavar="GRANT")
@pass_app
def revoke_command(app: App, grant_id: str) -> None:
    """Revoke an unused grant, as its authoriser (--actor).

    \b
    Example:
      appcase --actor hn-cac override revoke og-3f2a9c0d1e4b5a69
    """
    from appcase.workflow.grants import revoke_grant

    view = revoke_grant(app.engine(), grant_id, by=app.actor())
    emit(app, view, f"grant {view.id} revoked")


COMMANDS = [override_group]
