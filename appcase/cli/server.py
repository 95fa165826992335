"""``appcase serve``: the HTTP API on uvicorn (the extra ``appcase[server]``)."""

from __future__ import annotations

import os

import click

from appcase.cli.app import App, configure_logging, pass_app
from appcase.errors import InvalidInput

__all__ = ["APP_FACTORY", "COMMANDS"]

APP_FACTORY = "appcase.server:from_environment"
"""What uvicorn runs: the server's application factory, by name."""


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--graceful-timeout",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM/SIGINT, wait this long for requests in flight to finish.",
)
@pass_app
def serve_command(app: App, host: str, port: int, graceful_timeout: int) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs).

    Every request needs a bearer token ('appcase actor token create'). It listens on
    127.0.0.1 by default: put a TLS reverse proxy in front of it (docs/http.md).

    \b
    Example:
      appcase --db postgresql://appcase@db/appcase serve --port 8000
    """
    try:
        import fastapi  # noqa: F401 - only to say which extra is missing
        import uvicorn
    except ImportError:
        raise InvalidInput(
            "the HTTP server needs its extra: pip install 'appcase[server]'"
        ) from None
    from appcase.bootstrap import open_engine

    verbose = int(click.get_current_context().find_root().params.get("verbose") or 0)
    level = app.settings.log_level
    # the access log is at info: on unless APPCASE_LOG_LEVEL=error (debug with -vv)
    configure_logging(
        "debug" if verbose >= 2 or level == "debug" else "error" if level == "error" else "info"
    )

    url, campaign = app.database_url, app.settings.campaign
    open_engine(url, campaign).close()  # refuse to start on a database that is not ready
    # The application is named, not imported: the command line and the server are
    # separate front ends; the factory reads the database from these variables.
    os.environ["APPCASE_DATABASE_URL"] = url
    if campaign:
        os.environ["APPCASE_CAMPAIGN"] = campaign
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        access_log=False,  # appcase.server logs each request itself, without its query
        log_level="warning",
        timeout_graceful_shutdown=graceful_timeout,
        server_header=False,
    )


COMMANDS = [serve_command]
