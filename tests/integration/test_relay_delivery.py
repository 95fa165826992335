"""The relay end to end: the real ``appcase relay`` console script, SIGKILLed at random
points and restarted, delivers a PostgreSQL campaign's feed to a real HTTP receiver on
127.0.0.1 that fails a third of the requests and is restarted once, while writers commit
events. Afterwards the receiver holds every event, every signature verifies with the
secret, duplicates only share a webhook-id, and per-case order holds; no request carries a
hotline reporter's details. A second test runs two relays for one receiver at once: never
two requests in flight, and the standby takes over when the holder stops.

``APPCASE_RELAY_KILLS`` sets the number of kills (default 5).
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from appcase.workflow.engine import CaseEngine
from appcase.workflow.feed import feed
from tests.builders import drive, local, unique_app
from tests.integration.test_confidentiality import MARKER, MARKER2, hotline_item

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

KILLS = int(os.environ.get("APPCASE_RELAY_KILLS", "5"))
KEY = os.urandom(32)
SECRET = "whsec_" + base64.b64encode(KEY).decode()


@dataclass
class Inbox:
    """What the receiver saw: every request (headers, body, whether it was refused)."""

    fail_rate: float = 0.0
    delay: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0
    down: bool = False

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b, refused in self.requests if not refused]

    def held_ids(self) -> set[str]:
        return {h["webhook-id"] for h, _ in self.accepted()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the relay's client uses it
    server: Any

    def do_POST(self) -> None:
        inbox: Inbox = self.server.inbox
        body = self.rfile.read(int(self.headers["content-length"]))
        if inbox.down or self.server.closed:  # a stopped server: drop the connection
            self.close_connection = True
            return
        with inbox.lock:
            inbox.inflight += 1
            inbox.max_inflight = max(inbox.max_inflight, inbox.inflight)
        time.sleep(inbox.delay)
        with inbox.lock:
            refused = inbox.rng.random() < inbox.fail_rate
            inbox.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, refused))
            inbox.inflight -= 1
        self.send_response(503 if refused else 204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 that can be stopped and started on its port."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.inbox = self.inbox  # type: ignore[attr-defined]
        server.closed = False  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server

    def stop(self) -> None:
        assert self.server is not None
        self.server.closed = True  # type: ignore[attr-defined]
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def relay_command(url: str, secret: Path, receiver: Receiver, *extra: str) -> list[str]:
    script = shutil.which("appcase", path=str(Path(sys.executable).parent))
    assert script is not None, "the appcase console script is not installed"
    return [
        script, "--db", url, "-v", "relay", "--url", receiver.url, "--secret-file", str(secret),
        "--receiver", "hook", "--interval", "0.05", "--timeout", "1", "--lease", "3",
        "--lease-margin", "0.2", "--retry-initial", "0.02", "--retry-max", "0.3", *extra,
    ]  # fmt: skip


def start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPCASE_")}
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=out, env=env)


@contextmanager
def writing(engine: CaseEngine, cases: int, pause: float) -> Iterator[threading.Thread]:
    """Commit cases and their events from a thread while the block runs."""

    def work() -> None:
        for n in range(cases):
            drive(engine, "rectified" if n % 2 else "judged", n=100 + n)
            time.sleep(pause)

    writer = threading.Thread(target=work)
    writer.start()
    try:
        yield writer
    finally:
        writer.join()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def plant_reporter(engine: CaseEngine) -> None:
    view = engine.survey(unique_app(900), actor="cs-cac", at=local(2, 20, 9))
    engine.fire(
        view.id, "flag", actor="cs-cac", payload={"evidence": [hotline_item()]}, at=local(3, 1)
    )


def check_requests(inbox: Inbox, expected: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The done-when checks; returns the counts for the report."""
    verifier = Webhook(SECRET)
    bodies: dict[str, bytes] = {}
    for headers, body, _refused in inbox.requests:
        verifier.verify(body, headers)  # raises if the signature does not verify
        assert MARKER.encode() not in body
        assert MARKER2.encode() not in body
        assert b"MARKER" not in body
        assert "MARKER" not in json.dumps(headers)
        msg_id = headers["webhook-id"]
        assert bodies.setdefault(msg_id, body) == body  # a duplicate is the same event
        event = json.loads(body)
        assert msg_id == f"hunan-2018:{event['id']}"
        assert event == expected[msg_id]
    accepted = inbox.accepted()
    held = [h["webhook-id"] for h, _ in accepted]
    assert set(held) == set(expected), set(expected) - set(held)
    # feed order, hence per-case order: first receipts in increasing positions and seqs
    first: list[dict[str, Any]] = []
    seen: set[str] = set()
    for msg_id in held:
        if msg_id not in seen:
            seen.add(msg_id)
            first.append(expected[msg_id])
    positions = [e["data"]["position"] for e in first]
    assert positions == sorted(positions)
    by_case: dict[str, list[int]] = {}
    for e in first:
        by_case.setdefault(e["subject"], []).append(e["data"]["seq"])
    for seqs in by_case.values():
        assert seqs == sorted(seqs)
        assert seqs == list(range(1, len(seqs) + 1))  # and none missing
    return {
        "events": len(expected),
        "cases": len(by_case),
        "requests": len(inbox.requests),
        "refused": len(inbox.requests) - len(accepted),
        "duplicates": len(held) - len(set(held)),
    }


def expected_events(engine: CaseEngine) -> dict[str, dict[str, Any]]:
    from appcase.workflow.feed import cloudevent

    return {
        f"hunan-2018:{e.position}": json.loads(json.dumps(cloudevent(e, "hunan-2018")))
        for e in feed(engine, 0, 10_000)
    }


def test_relay_survives_kills_and_a_flaky_receiver(
    make_engine: Callable[[str], CaseEngine], postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url)
    plant_reporter(engine)
    secret = tmp_path / "whsec"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    inbox = Inbox(fail_rate=1 / 3)
    receiver = Receiver(inbox)
    log = tmp_path / "relay.log"
    cmd = relay_command(postgres_url, secret, receiver)
    rng = random.Random(2026)
    kills = 0
    restarted_receiver = False
    began = time.monotonic()
    with writing(engine, cases=16, pause=0.15):
        for i in range(KILLS):
            proc = start(cmd, log)
            time.sleep(rng.uniform(0.3, 2.0))
            if i == KILLS // 2 and not restarted_receiver:
                receiver.stop()
                time.sleep(0.5)  # the relay meets refused connections meanwhile
                receiver.start()
                restarted_receiver = True
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL, log.read_text()
            kills += 1
    expected = expected_events(engine)
    leases_before = log.read_text().count("relay_lease_taken")
    proc = start(cmd, log)
    # the events may all be delivered already: SIGTERM the last relay once it holds the
    # lease (a signal before its handlers are set ends a process the default way, status
    # -15, and one before it took the lease leaves the killed relay's lease to expire)
    wait_for(lambda: log.read_text().count("relay_lease_taken") > leases_before, 30, "the lease")
    wait_for(lambda: inbox.held_ids() >= set(expected), 90, "every event to be delivered")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, log.read_text()
    elapsed = time.monotonic() - began
    receiver.stop()
    counts = check_requests(inbox, expected)
    text = log.read_text()
    assert "relay_attempt_failed" in text
    assert "relay_progress" in text
    assert SECRET[6:] not in text
    assert "MARKER" not in text
    with engine.storage.reading() as store:
        cursor = store.relay_cursor("hunan-2018", "hook")
    assert cursor is not None
    assert cursor.position == max(int(k.split(":")[1]) for k in expected)
    assert cursor.lease_owner is None  # released by the clean stop
    counts |= {"kills": kills, "relay_restarts": kills, "receiver_restarts": 1}
    print(f"\nrelay under kills: {counts}, {elapsed:.1f} s")


def test_two_relays_never_deliver_at_once(
    make_engine: Callable[[str], CaseEngine], postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url)
    secret = tmp_path / "whsec"
    secret.write_text(SECRET, encoding="utf-8")
    inbox = Inbox(delay=0.005)
    receiver = Receiver(inbox)
    cmd = relay_command(postgres_url, secret, receiver)
    relays = [start(cmd, tmp_path / f"relay{n}.log") for n in range(2)]
    try:
        with writing(engine, cases=6, pause=0.05):
            pass
        expected = expected_events(engine)
        wait_for(lambda: inbox.held_ids() >= set(expected), 60, "the first events")
        with engine.storage.reading() as store:
            cursor = store.relay_cursor("hunan-2018", "hook")
        assert cursor is not None
        assert cursor.lease_owner is not None
        holder_pid = int(cursor.lease_owner.split(":")[1])
        holder = next(p for p in relays if p.pid == holder_pid)
        standby = next(p for p in relays if p.pid != holder_pid)
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(20) == 0
        drive(engine, "rectified", n=300)
        expected = expected_events(engine)
        wait_for(lambda: inbox.held_ids() >= set(expected), 60, "the standby to take over")
        with engine.storage.reading() as store:
            cursor = store.relay_cursor("hunan-2018", "hook")
        assert cursor is not None
        assert cursor.lease_owner is not None
        assert int(cursor.lease_owner.split(":")[1]) == standby.pid
    finally:
        for proc in relays:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(20) == 0
    receiver.stop()
    assert inbox.max_inflight == 1
    counts = check_requests(inbox, expected)
    assert counts["duplicates"] == 0  # a clean hand-over resends nothing
