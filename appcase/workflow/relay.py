"""The webhook relay: the event feed pushed to an HTTP receiver, signed, at least once.

A :class:`Relay` reads the campaign's feed (:func:`appcase.workflow.feed.feed`) from the
receiver's cursor and POSTs each entry, in feed order, as one CloudEvents 1.0 JSON document
(:func:`~appcase.workflow.feed.cloudevent`), signed as the Standard Webhooks specification
says (:func:`webhook_headers`). It moves the cursor past an event only once the receiver
acknowledged it with a 2xx status, so a relay killed at any point resends at most the event
it was delivering when it died: delivery is *at least once*, and a duplicate carries the
same ``webhook-id`` (``<campaign>:<position>``) for the receiver to drop.

Leases. The cursor lives in the database with a lease (see :class:`~appcase.ports.RelayCursor`):
a relay delivers only while it holds the receiver's lease, takes it by compare-and-set when
it is free or over, renews it before it has run down to half, and sends a request only if
the lease outlasts the request's timeout and a safety margin. A relay that cannot take the
lease waits as a standby and takes over when the holder's lease ends; one that loses its
lease stops delivering at once and becomes a standby. Two relays for one receiver thus never
deliver at the same time, provided their clocks agree to within
:attr:`RelayConfig.lease_margin`.

Failures. Any status but 2xx, a timeout or a connection error is retried, for the same
event, with exponential backoff and jitter (:class:`RetryPolicy`); later events wait, so
feed order holds. Each failed attempt is logged; after :attr:`RelayConfig.alert_after`
failures in a row the relay logs ``relay_receiver_failing`` (an error, repeated every
``alert_after`` further failures) and the cursor row shows ``failing_since``,
``failures`` and ``last_error``. By default it keeps retrying (nothing is ever skipped);
with :attr:`RelayConfig.give_up_after` it stops with :attr:`RelayOutcome.RECEIVER_FAILING`
instead, the cursor still on the undelivered event.

This module knows no database: it uses the ports (:mod:`appcase.ports`) through the
engine's storage. The HTTP transport, the clock, the sleep and the random source are
injected, so tests run without a network or waiting.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import random
import secrets
import socket
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import structlog

from appcase.errors import InvalidInput
from appcase.ports import RelayCursor
from appcase.workflow.engine import CaseEngine
from appcase.workflow.feed import cloudevent, feed
from appcase.workflow.listeners import Transition

__all__ = [
    "SECRET_PREFIX",
    "HttpTransport",
    "Relay",
    "RelayConfig",
    "RelayOutcome",
    "RelayResult",
    "RetryPolicy",
    "Transport",
    "check_url",
    "parse_secret",
    "sign",
    "webhook_body",
    "webhook_headers",
    "webhook_id",
]

SECRET_PREFIX = "whsec_"
"""A Standard Webhooks secret is this prefix and the key's bytes in base64."""

MIN_SECRET_BYTES = 16
"""The shortest key accepted (the specification recommends 24 to 64 bytes)."""


def parse_secret(text: str) -> bytes:
    """The key of a ``whsec_<base64>`` secret (surrounding whitespace ignored).

    Raises:
        InvalidInput: no ``whsec_`` prefix, not base64, or fewer than
            :data:`MIN_SECRET_BYTES` bytes. The message never holds the secret.
    """
    text = text.strip()
    if not text.startswith(SECRET_PREFIX):
        raise InvalidInput(f"a webhook secret starts with {SECRET_PREFIX} (whsec_<base64>)")
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("a webhook secret is whsec_ followed by base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidInput(
            f"a webhook secret needs at least {MIN_SECRET_BYTES} bytes of key (24 to 64 "
            "recommended)"
        )
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``v1`` signature: ``v1,`` and the base64 of
    HMAC-SHA256(key, ``{msg_id}.{timestamp}.{body}``)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_id(campaign_id: str, position: int) -> str:
    """The stable ``webhook-id`` of a feed entry: every (re)delivery of it carries this."""
    return f"{campaign_id}:{position}"


def webhook_body(entry: Transition, campaign_id: str) -> bytes:
    """The request body of an entry: its CloudEvents 1.0 JSON, UTF-8."""
    event = cloudevent(entry, campaign_id)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def webhook_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one signed request (a new ``timestamp`` and signature per attempt)."""
    return {
        "content-type": "application/cloudevents+json; charset=utf-8",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
    }


# --- retries ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter between the attempts of one event.

    The n-th retry waits ``b = min(maximum, initial * multiplier ** (n - 1))`` less a random
    fraction, up to ``jitter``, of it: between ``b * (1 - jitter)`` and ``b`` seconds.

    Attributes:
        initial: the first wait (seconds).
        maximum: the longest wait.
        multiplier: the growth per attempt.
        jitter: the share of each wait that is random (0: none, 1: "full jitter").
    """

    initial: float = 0.5
    maximum: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise InvalidInput("retry waits need 0 < initial <= maximum")
        if self.multiplier < 1:
            raise InvalidInput("the retry multiplier is at least 1")
        if not 0 <= self.jitter <= 1:
            raise InvalidInput("the retry jitter is from 0 to 1")

    def delay(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1, 2, ...)."""
        exponent = min(max(retry - 1, 0), 64)  # past this the cap holds anyway
        base = min(self.maximum, self.initial * self.multiplier**exponent)
        return base - base * self.jitter * rng.random()


# --- the transport ---------------------------------------------------------------------
class Transport(Protocol):
    """Sends one POST; returns the HTTP status. Raises ``OSError`` (a timeout, a refused
    connection, ...) or ``http.client.HTTPException`` when there is no status."""

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        """POST ``body`` with ``headers`` to ``url``; the response's status."""


def check_url(url: str) -> None:
    """Check a receiver's URL before anything is sent or stored.

    Raises:
        InvalidInput: not ``http(s)://host[:port]/...``, a port outside 1-65535, a host
            name that cannot be encoded, or control characters.
    """
    wrong = InvalidInput(
        f"the receiver's URL {url[:200]!r} is not http://host[:port]/... or https://..."
    )
    if len(url) > 2000 or not url.isprintable() or any(c.isspace() for c in url):
        raise wrong
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        host = parts.hostname
        if host:
            host.encode("idna")
    except (ValueError, UnicodeError):
        raise wrong from None
    if parts.scheme not in ("http", "https") or not host or (port is not None and port < 1):
        raise wrong


class HttpTransport:
    """The standard library's HTTP client, keeping one connection open between requests
    (a failed request closes it; the next one reconnects). ``http`` and ``https`` URLs.

    A request has one deadline, ``timeout`` seconds in all, however slowly the receiver
    answers: past it the connection is shut and the request fails as a timeout. A request
    on a kept connection that the receiver had closed meanwhile is sent once more on a
    fresh connection, not counted as a failure."""

    def __init__(self) -> None:
        self._conn: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str, int | None] | None = None

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        parts = urllib.parse.urlsplit(url)
        origin = (parts.scheme, parts.hostname or "", parts.port)
        if self._conn is None or origin != self._origin:
            self.close()
            cls = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(origin[1], origin[2], timeout=timeout)
            self._origin = origin
        conn = self._conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        reused = conn.sock is not None
        try:
            return self._post(conn, path, body, headers, timeout)
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            if not reused:
                raise
        # the receiver closed the kept connection while it was idle: once more, afresh
        self._conn = None
        return self(url, body, headers, timeout)

    def _post(
        self,
        conn: http.client.HTTPConnection,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
    ) -> int:
        expired = threading.Event()

        def cut() -> None:  # the whole request's deadline: shut the socket under it
            expired.set()
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(timeout, cut)
        timer.daemon = True
        timer.start()
        try:
            conn.request("POST", path, body=body, headers=dict(headers))
            response = conn.getresponse()
            response.read(65536)
            if not response.isclosed():
                response.close()
                self.close()  # a long answer is not read to the end: start afresh
        except BaseException as exc:
            self.close()
            if expired.is_set():
                raise TimeoutError(f"no whole answer within {timeout:g} s") from exc
            raise
        finally:
            timer.cancel()
        if expired.is_set():
            self.close()
            raise TimeoutError(f"no whole answer within {timeout:g} s")
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        """Close the connection, if one is open."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _describe(exc: BaseException) -> str:
    """A failed attempt in a few words: the exception's type and, for OS errors, the
    reason (never a URL's query or a header)."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


# --- the relay -------------------------------------------------------------------------
class RelayOutcome(StrEnum):
    """Why :meth:`Relay.run` returned."""

    STOPPED = "stopped"
    """Asked to stop (``stop()`` returned true: Ctrl-C, SIGTERM)."""
    CAUGHT_UP = "caught_up"
    """``once``: every event in the feed was delivered."""
    RECEIVER_FAILING = "receiver_failing"
    """:attr:`RelayConfig.give_up_after` failures in a row; the event stays undelivered."""
    STANDBY = "standby"
    """``once``: another relay holds the receiver's lease."""


@dataclass(frozen=True, slots=True)
class RelayResult:
    """What a run did: why it ended, events acknowledged, the cursor's position."""

    outcome: RelayOutcome
    delivered: int
    position: int


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """How a relay delivers.

    Attributes:
        url: the receiver's URL (``http`` or ``https``).
        key: the signing key (:func:`parse_secret` of the ``whsec_`` secret).
        receiver: the receiver's name: its cursor and lease in the database.
        batch: feed entries read at a time.
        poll_interval: seconds between reads of the feed when it has nothing new (and
            between tries of a standby to take the lease).
        lease_seconds: how long a taken or renewed lease lasts.
        lease_margin: a request is sent only if the lease outlasts its timeout by this
            much (the clock skew between relays that is tolerated).
        request_timeout: seconds to wait for the receiver (connect, send, each read).
        retry: the backoff between attempts.
        alert_after: failures in a row before ``relay_receiver_failing`` is logged.
        give_up_after: stop after this many failures in a row (``None``: keep retrying).
    """

    url: str
    key: bytes = field(repr=False)
    receiver: str = "default"
    batch: int = 100
    poll_interval: float = 1.0
    lease_seconds: float = 30.0
    lease_margin: float = 2.0
    request_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    alert_after: int = 5
    give_up_after: int | None = None

    def __post_init__(self) -> None:
        check_url(self.url)
        if not 1 <= len(self.receiver) <= 64 or not self.receiver.isprintable():
            raise InvalidInput("a receiver's name is 1 to 64 printable characters")
        if self.lease_seconds < 2 * (self.request_timeout + self.lease_margin):
            raise InvalidInput(
                "the lease must last at least twice the request timeout plus the margin"
            )
        if self.batch < 1 or self.poll_interval <= 0 or self.alert_after < 1:
            raise InvalidInput("batch, poll interval and alert-after are positive")
        if self.give_up_after is not None and self.give_up_after < 1:
            raise InvalidInput("give-up-after is a positive number of failures")


class _LeaseLost(Exception):
    """The relay no longer holds the receiver's lease."""


class _Stop(Exception):
    """Asked to stop, or gave up on a failing receiver."""

    def __init__(self, outcome: RelayOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class _Log:
    """structlog once the application configured it (the CLI does), else the standard
    library's logging: a library never configures logging itself."""

    def __init__(self, **context: Any) -> None:
        self.context = context

    def __call__(self, level: str, event: str, **fields: Any) -> None:
        fields = {**self.context, **fields}
        if structlog.is_configured():
            getattr(structlog.get_logger("appcase.relay"), level)(event, **fields)
        else:
            getattr(logging.getLogger("appcase.relay"), level)("%s %s", event, fields)


class Relay:
    """Delivers one campaign's feed to one receiver (see the module's notes).

    Args:
        engine: the campaign's engine (its storage holds the cursor and the lease).
        config: the receiver and the policies.
        transport: sends a request (default: :class:`HttpTransport`).
        now: the current instant, aware (default: the engine's clock).
        sleep: waits a number of seconds (default: ``time.sleep``); the CLI passes a wait
            that a signal cuts short.
        stop: true once the relay should stop (checked between steps).
        rng: the jitter's random source.
        owner: this relay's name in the lease (default: host, process and a random tag).
    """

    def __init__(
        self,
        engine: CaseEngine,
        config: RelayConfig,
        *,
        transport: Transport | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], object] | None = None,
        stop: Callable[[], bool] | None = None,
        rng: random.Random | None = None,
        owner: str | None = None,
    ) -> None:
        import os
        import time

        self.engine = engine
        self.config = config
        self.campaign_id = engine.campaign.id
        self.transport: Transport = transport if transport is not None else HttpTransport()
        self.now = now if now is not None else engine.clock.now
        self.sleep = sleep if sleep is not None else time.sleep
        self.stop = stop if stop is not None else (lambda: False)
        self.rng = rng if rng is not None else random.Random()
        self.owner = owner or f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.cursor: RelayCursor | None = None
        """The cursor as last read or written (``None`` until the lease is first held)."""
        self.delivered = 0
        self._lease_until: datetime | None = None
        self._failures = 0
        self._failing_since: datetime | None = None
        self._standby_logged = False
        self.log = _Log(receiver=config.receiver, owner=self.owner)

    # --- the lease -------------------------------------------------------------------
    def claim_lease(self) -> bool:
        """Take or renew the receiver's lease; true if this relay holds it now."""
        now = self.now()
        until = now + timedelta(seconds=self.config.lease_seconds)
        with self.engine.storage.transaction() as store:
            cursor = store.claim_relay_lease(
                self.campaign_id, self.config.receiver, self.owner, now, until
            )
            if cursor is None:
                self.cursor = store.relay_cursor(self.campaign_id, self.config.receiver)
        held = cursor is not None
        if cursor is not None:
            if self._lease_until is None:
                self.log("info", "relay_lease_taken", position=cursor.position, until=str(until))
                self._standby_logged = False
            self.cursor = cursor
            self._lease_until = until
        elif self._lease_until is not None:
            self._lease_until = None
            self.log("warning", "relay_lease_lost", holder=self._holder())
        return held

    def _holder(self) -> str | None:
        return self.cursor.lease_owner if self.cursor is not None else None

    def _ensure_lease(self, need: float) -> None:
        """Renew the lease if it runs out within ``need`` seconds or half its length.

        Raises:
            _LeaseLost: another relay holds it now.
        """
        left = self.lease_left()
        if left >= max(need, self.config.lease_seconds / 2):
            return
        before = self.cursor.position if self.cursor is not None else None
        if not self.claim_lease():
            raise _LeaseLost()
        if self.cursor is not None and self.cursor.position != before:
            # the lease had lapsed and another relay moved the cursor meanwhile: the
            # batch in hand is stale, start again from the stored cursor
            self.log("warning", "relay_cursor_moved", position=self.cursor.position)
            raise _LeaseLost()

    def lease_left(self) -> float:
        """Seconds until the lease as last taken or renewed runs out (0 if not held)."""
        if self._lease_until is None:
            return 0.0
        return (self._lease_until - self.now()).total_seconds()

    def release_lease(self) -> None:
        """Give the lease up, if held (another relay may take it at once)."""
        if self._lease_until is None:
            return
        self._lease_until = None
        with self.engine.storage.transaction() as store:
            store.release_relay_lease(self.campaign_id, self.config.receiver, self.owner)
        self.log("info", "relay_lease_released")

    def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, in steps that keep the lease (if held) renewed.

        Raises:
            _Stop: asked to stop meanwhile.
            _LeaseLost: the lease was lost meanwhile.
        """
        step = self.config.lease_seconds / 4
        remaining = seconds
        while remaining > 0:
            if self.stop():
                raise _Stop(RelayOutcome.STOPPED)
            chunk = min(step, remaining)
            self.sleep(chunk)
            remaining -= chunk
            if self._lease_until is not None:
                self._ensure_lease(0)
        if self.stop():
            raise _Stop(RelayOutcome.STOPPED)

    # --- delivery --------------------------------------------------------------------
    def _deliver(self, entry: Transition) -> None:
        """Send ``entry`` until the receiver acknowledges it, then move the cursor.

        Raises:
            _LeaseLost / _Stop: as :meth:`_pause`; also :attr:`RelayOutcome.RECEIVER_FAILING`.
        """
        cfg = self.config
        msg_id = webhook_id(self.campaign_id, entry.position)
        body = webhook_body(entry, self.campaign_id)
        attempt = 0
        while True:
            attempt += 1
            self._ensure_lease(cfg.request_timeout + cfg.lease_margin)
            sent_at = self.now()
            headers = webhook_headers(cfg.key, msg_id, int(sent_at.timestamp()), body)
            try:
                status = self.transport(cfg.url, body, headers, cfg.request_timeout)
                error = None if 200 <= status < 300 else f"HTTP {status}"
            except (OSError, http.client.HTTPException) as exc:
                error = _describe(exc)
            if error is None:
                self._acknowledged(entry, msg_id, attempt)
                return
            self._failed(entry, msg_id, attempt, error, sent_at)
            self._pause(cfg.retry.delay(attempt, self.rng))

    def _acknowledged(self, entry: Transition, msg_id: str, attempt: int) -> None:
        now = self.now()
        with self.engine.storage.transaction() as store:
            moved = store.advance_relay_cursor(
                self.campaign_id, self.config.receiver, self.owner, entry.position, now
            )
        if not moved:
            # the receiver has it; the cursor belongs to another relay now, which resends
            # from its own cursor (at least once)
            self._lease_until = None
            self.log("warning", "relay_lease_lost", position=entry.position)
            raise _LeaseLost()
        self.delivered += 1
        if self._failing_since is not None:
            self.log(
                "info",
                "relay_receiver_recovered",
                failing_since=str(self._failing_since),
                failures=self._failures,
            )
        self._failures = 0
        self._failing_since = None
        self.log(
            "debug",
            "relay_delivered",
            webhook_id=msg_id,
            position=entry.position,
            attempts=attempt,
        )

    def _failed(
        self, entry: Transition, msg_id: str, attempt: int, error: str, at: datetime
    ) -> None:
        cfg = self.config
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = at
        with self.engine.storage.transaction() as store:
            store.note_relay_failure(
                self.campaign_id, cfg.receiver, self.owner, self._failing_since, error, self.now()
            )
        self.log(
            "warning",
            "relay_attempt_failed",
            webhook_id=msg_id,
            position=entry.position,
            attempt=attempt,
            error=error,
        )
        if self._failures % cfg.alert_after == 0:
            self.log(
                "error",
                "relay_receiver_failing",
                failing_since=str(self._failing_since),
                failures=self._failures,
                position=entry.position,
                last_error=error,
            )
        if cfg.give_up_after is not None and self._failures >= cfg.give_up_after:
            self.log(
                "error",
                "relay_gave_up",
                failing_since=str(self._failing_since),
                failures=self._failures,
                undelivered_position=entry.position,
            )
            raise _Stop(RelayOutcome.RECEIVER_FAILING)

    def step(self) -> int:
        """Deliver one batch from the cursor (the lease held); how many were delivered.

        Raises:
            _LeaseLost / _Stop: as :meth:`_deliver`.
        """
        assert self.cursor is not None
        entries = feed(self.engine, self.cursor.position, self.config.batch)
        for entry in entries:
            if self.stop():
                raise _Stop(RelayOutcome.STOPPED)
            self._deliver(entry)
            self.cursor = _moved(self.cursor, entry.position)
        if entries:
            self.log(
                "info", "relay_progress", position=self.cursor.position, delivered=self.delivered
            )
        return len(entries)

    def run(self, *, once: bool = False) -> RelayResult:
        """Deliver until asked to stop (``once``: until the feed is exhausted or another
        relay holds the lease). Gives the lease up on the way out.

        Returns:
            The outcome, the events this run delivered and the cursor's position.
        """
        self.log("info", "relay_started", campaign=self.campaign_id)
        outcome = RelayOutcome.STOPPED
        try:
            while True:
                if self.stop():
                    break
                try:
                    if self._lease_until is None and not self.claim_lease():
                        if once:
                            outcome = RelayOutcome.STANDBY
                            break
                        if not self._standby_logged:
                            self.log("info", "relay_standby", holder=self._holder())
                            self._standby_logged = True
                        self._pause(self.config.poll_interval)
                        continue
                    if self.step() == 0:
                        if once:
                            outcome = RelayOutcome.CAUGHT_UP
                            break
                        self._pause(self.config.poll_interval)
                except _LeaseLost:
                    self._lease_until = None
                    self._failures = 0
                    self._failing_since = None
        except _Stop as stop:
            outcome = stop.outcome
        finally:
            self._release_quietly()
        position = self.cursor.position if self.cursor is not None else 0
        self.log(
            "info", "relay_stopped", outcome=outcome.value, delivered=self.delivered,
            position=position,
        )  # fmt: skip
        return RelayResult(outcome, self.delivered, position)

    def _release_quietly(self) -> None:
        try:
            self.release_lease()
        except Exception as exc:  # the lease runs out by itself anyway
            self.log("warning", "relay_release_failed", error=type(exc).__name__)
        close = getattr(self.transport, "close", None)
        if callable(close):
            close()


def _moved(cursor: RelayCursor, position: int) -> RelayCursor:
    from dataclasses import replace

    return replace(
        cursor,
        position=position,
        delivered=cursor.delivered + 1,
        failing_since=None,
        failures=0,
        last_error=None,
    )
