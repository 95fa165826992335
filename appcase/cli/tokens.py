"""``appcase actor token create|list|revoke``: the HTTP server's bearer tokens.

Issuing and revoking a token are an administrator's acts (``--actor`` must be an actor of
the ``administrator`` role), each recorded in the administrators' log (``appcase actor
log``). Over HTTP the same acts need an administrator's token (docs/http.md).
"""

from __future__ import annotations

import click

from appcase.cli.app import App, emit, pass_app, table

__all__ = ["token_group"]


@click.group("token")
def token_group() -> None:
    """Bearer tokens for 'appcase serve', each bound to one actor; issued and revoked by
    an administrator (--actor).

    \b
    Examples:
      appcase --actor admin actor token create cs-cac --expires-in 30
      appcase actor token list
      appcase --actor admin actor token revoke 3f2a9c0d1e4b5a69
    """


@token_group.command("create")
@click.argument("actor_id", metavar="ACTOR")
@click.option(
    "--expires-in",
    "days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    metavar="DAYS",
    help="Days until the token stops working.",
)
@pass_app
def token_create(app: App, actor_id: str, days: int) -> None:
    """Issue a token acting as ACTOR, as the administrator --actor. It is shown this once;
    only its hash is stored.

    \b
    Example:
      appcase --actor admin actor token create cs-cac --expires-in 30
    """
    from appcase.workflow.tokens import issue_token

    issued = issue_token(app.engine(), actor_id, by=app.actor(), expires_in_days=days)
    v = issued.view
    emit(
        app,
        v.model_dump(mode="json") | {"token": issued.token},
        f"{issued.token}\n"
        f"token {v.id} acts as {v.actor} until {v.expires_at.isoformat()}; "
        "it is shown only now: keep it in a secret store",
    )


@token_group.command("list")
@click.option("--actor", "actor_id", metavar="ACTOR", help="Only this actor's tokens.")
@pass_app
def token_list(app: App, actor_id: str | None) -> None:
    """List tokens (ids, actors, expiry; never the tokens themselves).

    \b
    Example:
      appcase actor token list --actor cs-cac
    """
    from appcase.workflow.tokens import list_tokens

    views = list_tokens(app.engine(), actor_id)
    rows = [
        (
            v.id,
            v.actor,
            v.created_at.isoformat(timespec="seconds"),
            v.expires_at.isoformat(timespec="seconds"),
            "active" if v.active else ("revoked" if v.revoked_at else "expired"),
        )
        for v in views
    ]
    emit(app, views, table(["id", "actor", "created", "expires", "status"], rows))


@token_group.command("revoke")
@click.argument("token_id", metavar="ID")
@pass_app
def token_revoke(app: App, token_id: str) -> None:
    """Revoke a token by its id (from 'appcase actor token list'), as the administrator
    --actor.

    \b
    Example:
      appcase --actor admin actor token revoke 3f2a9c0d1e4b5a69
    """
    from appcase.workflow.tokens import revoke_token

    view = revoke_token(app.engine(), token_id, by=app.actor())
    emit(app, view, f"token {view.id} of {view.actor} revoked")
