"""``appcase feed`` and ``appcase relay``: the event feed as JSON lines, and pushed to a
webhook receiver (the logic is :mod:`appcase.workflow.feed` and
:mod:`appcase.workflow.relay`; these commands parse, wire and print).

Both stop cleanly, with exit status 0, on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click

from appcase.cli.app import App, pass_app
from appcase.errors import InvalidInput

__all__ = ["COMMANDS", "RECEIVER_FAILING"]

RECEIVER_FAILING = 4
"""``appcase relay --give-up-after N`` exits with this after N failed attempts in a row."""

_MAX_LIMIT = 10_000


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (the previous handlers are
    put back afterwards); outside the main thread, signals are left alone."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command("feed")
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="P",
    help="Print the events after position P (the last position you saw; 0: from the start).",
)
@click.option("--follow", is_flag=True, help="Keep printing new events as they commit.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop after N events (default: at the end of the feed, or never with --follow).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05, max=3600),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="With --follow: how often to look for new events.",
)
@pass_app
def feed_command(app: App, after: int, follow: bool, limit: int | None, interval: float) -> None:
    """Print the campaign's committed events after a position, as JSON lines.

    One line per event, in the CloudEvents 1.0 JSON format: "id" is the event's position
    in the feed, "subject" the case, "type" org.appcase.case.<event>, "data" the
    transition (never a reporter's details). Positions only grow in commit order: to
    resume, pass the last "id" you read as --after. --follow polls for new events until
    Ctrl-C or SIGTERM (exit 0).

    \b
    Examples:
      appcase feed --after 0 --limit 10
      appcase feed --after 1234 --follow --interval 0.5 | my-consumer
    """
    from appcase.workflow.feed import cloudevent, feed

    engine = app.engine()
    campaign_id = engine.campaign.id
    printed = 0
    with _stop_on_signals() as stop:
        while not stop.is_set():
            want = _MAX_LIMIT if limit is None else min(_MAX_LIMIT, limit - printed)
            entries = feed(engine, after, want)
            for entry in entries:
                line = json.dumps(cloudevent(entry, campaign_id), ensure_ascii=False)
                click.echo(line)
                after = entry.position
                printed += 1
            if limit is not None and printed >= limit:
                return
            if not entries:
                if not follow:
                    return
                stop.wait(interval)


@click.command("relay")
@click.option("--url", metavar="URL", help="The receiver's URL (http or https).")
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A file holding the signing secret, whsec_<base64> (shared with the receiver).",
)
@click.option(
    "--receiver",
    default="default",
    show_default=True,
    metavar="NAME",
    help="The receiver's name: its cursor and lease in the database.",
)
@click.option("--batch", type=click.IntRange(1, 1000), default=100, show_default=True,
              metavar="N", help="Feed entries read at a time.")  # fmt: skip
@click.option("--interval", type=click.FloatRange(min=0.05, max=3600), default=1.0,
              show_default=True, metavar="SECONDS",
              help="How often to look for new events (and, as a standby, for the lease).")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), default=10.0,
              show_default=True, metavar="SECONDS", help="Wait this long for the receiver.")  # fmt: skip
@click.option("--lease", type=click.FloatRange(min=1, max=3600), default=30.0,
              show_default=True, metavar="SECONDS",
              help="How long a taken lease lasts (at least 2 x (timeout + margin)).")  # fmt: skip
@click.option("--lease-margin", type=click.FloatRange(min=0, max=60), default=2.0,
              show_default=True, metavar="SECONDS",
              help="Send only while the lease outlasts the timeout by this much (clock skew).")  # fmt: skip
@click.option("--retry-initial", type=click.FloatRange(min=0.01), default=0.5,
              show_default=True, metavar="SECONDS", help="The first wait after a failure.")  # fmt: skip
@click.option("--retry-max", type=click.FloatRange(min=0.01), default=60.0,
              show_default=True, metavar="SECONDS", help="The longest wait between attempts.")  # fmt: skip
@click.option("--alert-after", type=click.IntRange(min=1), default=5, show_default=True,
              metavar="N", help="Log 'relay_receiver_failing' after N failures in a row.")  # fmt: skip
@click.option("--give-up-after", type=click.IntRange(min=1), metavar="N",
              help=f"Exit {RECEIVER_FAILING} after N failures in a row "
              "(default: keep retrying).")  # fmt: skip
@click.option("--once", is_flag=True, help="Deliver what the feed holds now, then exit.")
@click.option("--status", is_flag=True,
              help="Print the receiver's cursor, lease and failure state; deliver nothing.")  # fmt: skip
@pass_app
def relay_command(
    app: App,
    url: str | None,
    secret_file: Path | None,
    receiver: str,
    batch: int,
    interval: float,
    timeout: float,
    lease: float,
    lease_margin: float,
    retry_initial: float,
    retry_max: float,
    alert_after: int,
    give_up_after: int | None,
    once: bool,
    status: bool,
) -> None:
    """Deliver the campaign's event feed to an HTTP receiver, signed, at least once.

    Each event is POSTed, in feed order, as CloudEvents JSON with the Standard Webhooks
    headers webhook-id (<campaign>:<position>, the same on a resend), webhook-timestamp
    and webhook-signature. The receiver's cursor moves past an event only on a 2xx answer;
    anything else is retried with exponential backoff and jitter, and later events wait.
    The cursor and a lease are kept in the database: a restarted relay resumes where it
    stopped, and a second relay for the same receiver waits as a standby. Progress and
    failures are logged to standard error (-v for progress). Ctrl-C or SIGTERM stops it
    (exit 0); see docs/relay.md.

    \b
    Examples:
      appcase relay --url https://hotline.example/appcase --secret-file /etc/appcase/whsec
      appcase relay --url http://127.0.0.1:9000/hook --secret-file whsec.txt \\
          --receiver hotline --give-up-after 50
      appcase relay --receiver hotline --status
    """
    from appcase.workflow.relay import Relay, RelayConfig, RelayOutcome, RetryPolicy, parse_secret

    if status:
        _print_status(app, app.engine(), receiver)
        return
    if url is None or secret_file is None:
        raise InvalidInput("give the receiver: --url URL --secret-file FILE")
    from appcase.limits import MAX_KEY_FILE_BYTES, read_bounded

    raw = read_bounded(secret_file, MAX_KEY_FILE_BYTES, "secret file")
    try:
        key = parse_secret(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"the secret file {secret_file} is not UTF-8 text") from None
    config = RelayConfig(
        url=url,
        key=key,
        receiver=receiver,
        batch=batch,
        poll_interval=interval,
        lease_seconds=lease,
        lease_margin=lease_margin,
        request_timeout=timeout,
        retry=RetryPolicy(initial=retry_initial, maximum=max(retry_max, retry_initial)),
        alert_after=alert_after,
        give_up_after=give_up_after,
    )
    engine = app.engine()
    with _stop_on_signals() as stop:
        relay = Relay(engine, config, sleep=stop.wait, stop=stop.is_set)
        result = relay.run(once=once)
    if app.json:
        click.echo(json.dumps({"outcome": result.outcome.value, "delivered": result.delivered,
                               "position": result.position}))  # fmt: skip
    else:
        click.echo(
            f"delivered {result.delivered} event(s) to {receiver!r}; "
            f"its cursor is at position {result.position}"
        )
    if result.outcome is RelayOutcome.RECEIVER_FAILING:
        click.secho(
            f"error: the receiver {receiver!r} kept failing; the event after position "
            f"{result.position} is not delivered (the next relay resends it)",
            fg="red",
            err=True,
        )
        click.get_current_context().exit(RECEIVER_FAILING)


def _print_status(app: App, engine: Any, receiver: str) -> None:
    with engine.storage.reading() as store:
        cursor = store.relay_cursor(engine.campaign.id, receiver)
    if cursor is None:  # a monitor may ask before the first run: zero, and said so
        if app.json:
            click.echo(json.dumps({"receiver": receiver, "position": 0, "delivered": 0}))
            return
        click.echo(f"receiver: {receiver}\nposition: 0\ndelivered: 0")
        click.echo(f"no relay has run for receiver {receiver!r} in this campaign yet", err=True)
        return
    data = {
        "receiver": receiver,
        "position": cursor.position,
        "delivered": cursor.delivered,
        "lease_owner": cursor.lease_owner,
        "lease_until": cursor.lease_until.isoformat() if cursor.lease_until else None,
        "failing_since": cursor.failing_since.isoformat() if cursor.failing_since else None,
        "failures": cursor.failures,
        "last_error": cursor.last_error,
    }
    if app.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for name, value in data.items():
        click.echo(f"{name}: {'' if value is None else value}")
    if data.get("failing_since"):
        click.secho(f"receiver failing since {data['failing_since']}", fg="red")


COMMANDS = [feed_command, relay_command]
