"""Hostile input found after the first rounds of hardening: values in stored rows that no view
can show, a damaged stored campaign, numbers too big for a database, the relay's receiver URL
and secret file, and receivers that answer too slowly or drop a kept connection. Each ends in
the documented exit code and a clear message, never a traceback (``run_cli`` fails a test on
one), a hang or a write."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appcase.workflow.engine import CaseEngine
from appcase.workflow.relay import HttpTransport
from tests.builders import drive, run_cli

CASE_DAMAGE = {
    "an unknown state": "UPDATE cases SET state = 'bogus'",
    "an event to an unknown state": "UPDATE events SET to_state = 'bogus' WHERE seq = 3",
    "a payload that is not an object": "UPDATE events SET payload = 'null' WHERE seq = 3",
    "an unknown event": "UPDATE events SET event = 'bogus' WHERE seq = 3",
}


def _sql(url: str, statement: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        for name in ("events_no_update", "events_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(statement)


@pytest.fixture
def pledged(sqlite_engine: CaseEngine, sqlite_url: str) -> str:
    case = drive(sqlite_engine, "pledged").id
    sqlite_engine.close()
    return case


@pytest.mark.parametrize("damage", sorted(CASE_DAMAGE))
def test_a_value_no_view_can_show_is_a_damaged_case(
    pledged: str, sqlite_url: str, damage: str
) -> None:
    _sql(sqlite_url, CASE_DAMAGE[damage])
    for args in (
        ("show", pledged),
        ("history", pledged),
        ("feed",),
        ("report", "summary", "--province", "--at", "2018-04-05T18:00+08:00", "--format", "json"),
        ("rectify", pledged, "--verified", "1", "--at", "2018-03-20T10:00+08:00"),
    ):
        result = run_cli(sqlite_url, *args, actor="cs-cac")
        assert result.exit_code in (0, 1, 2), (args, result.output)
        if result.exit_code and args[0] != "rectify":  # a command may also be refused
            assert "damaged" in result.output or "cannot be read" in result.output, result.output


def test_a_damaged_stored_campaign_says_so(pledged: str, sqlite_url: str) -> None:
    _sql(sqlite_url, "UPDATE campaigns SET definition = '{not json'")
    result = run_cli(sqlite_url, "list")
    assert result.exit_code == 2
    assert "stored in the database is damaged" in result.output
    assert "restore the database from a backup" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("feed", "--after", str(2**63)),
        ("list", "--limit", "99999999999999999999"),
    ],
)
def test_numbers_too_big_for_a_database_are_bad_input(
    pledged: str, sqlite_url: str, args: tuple[str, ...]
) -> None:
    result = run_cli(sqlite_url, *args)
    assert result.exit_code == 2, result.output


def _cursors(url: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return int(conn.execute("SELECT count(*) FROM relay_cursors").fetchone()[0])


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://127.0.0.1:99999/x", "http://127.0.0.1:abc/", "http://a..b/"]
)
def test_a_malformed_receiver_url_is_bad_input_and_writes_nothing(
    pledged: str, sqlite_url: str, tmp_path: Path, url: str
) -> None:
    secret = tmp_path / "whsec.txt"
    secret.write_text("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", encoding="utf-8")
    result = run_cli(sqlite_url, "relay", "--url", url, "--secret-file", str(secret), "--once")
    assert result.exit_code == 2, result.output
    assert _cursors(sqlite_url) == 0


@pytest.mark.parametrize("kind", ["pipe", "endless"])
def test_a_secret_file_that_is_no_file_is_refused_at_once(
    pledged: str, sqlite_url: str, tmp_path: Path, kind: str
) -> None:
    if kind == "pipe":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    start = time.monotonic()
    result = run_cli(
        sqlite_url, "relay", "--url", "http://127.0.0.1:9/h", "--secret-file", str(path)
    )
    assert result.exit_code == 2, result.output
    assert time.monotonic() - start < 10


@pytest.fixture
def dripping() -> Iterator[int]:
    """A receiver that answers one header line every 0.3 s, for ever (until closed)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    while not stop.is_set():
                        conn.sendall(b"X-Drip: 1\r\n")
                        time.sleep(0.3)
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_receiver_that_drips_its_answer_meets_one_deadline(dripping: int) -> None:
    transport = HttpTransport()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        transport(f"http://127.0.0.1:{dripping}/h", b"{}", {}, 1.0)
    assert time.monotonic() - start < 3
    transport.close()


def test_a_kept_connection_the_receiver_closed_is_sent_again_afresh() -> None:
    """A keep-alive receiver that closes idle connections: the next request goes out once
    more on a new connection instead of failing."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = int(server.getsockname()[1])
    answered: list[int] = []

    def serve() -> None:
        for n in range(2):
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                answered.append(n)
                # keep-alive promised, then the connection is closed while idle

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    transport = HttpTransport()
    try:
        assert transport(f"http://127.0.0.1:{port}/h", b"{}", {}, 2.0) == 204
        time.sleep(0.2)
        assert transport(f"http://127.0.0.1:{port}/h", b"{}", {}, 2.0) == 204
    finally:
        transport.close()
        thread.join(5)
        server.close()
    assert answered == [0, 1]


@pytest.mark.postgres
def test_inits_at_once_on_postgres_migrate_one_after_the_other(postgres_url: str) -> None:
    from appcase.bootstrap import init_database

    errors: list[BaseException] = []

    def init() -> None:
        try:
            init_database(postgres_url, "hunan-2018", None).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=init) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []


def test_a_sweep_with_a_failed_case_exits_1_for_the_scheduler(
    sqlite_engine: CaseEngine, sqlite_url: str
) -> None:
    damaged = drive(sqlite_engine, "pledged", n=1).id
    fine = drive(sqlite_engine, "pledged", n=2).id
    sqlite_engine.close()
    _sql(sqlite_url, f"DELETE FROM events WHERE case_id = '{damaged}' AND seq = 5")
    result = run_cli(sqlite_url, "sweep", "--at", "2018-04-01T00:00+08:00")
    assert result.exit_code == 1, result.output
    assert f"{damaged}  failed" in result.output
    assert f"{fine}  escalated" in result.output


@pytest.mark.parametrize("given", [None, "sqlite:///cases.sqlite", 42])
def test_attach_takes_a_connection_or_a_session_and_says_so(given: object) -> None:
    from appcase.bootstrap import attach
    from appcase.errors import InvalidInput

    with pytest.raises(InvalidInput, match="Connection or ORM Session"):
        attach(given)  # type: ignore[arg-type]


def test_a_reader_that_goes_away_ends_the_command_quietly(
    pledged: str, sqlite_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    script = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'appcase', '--db', {sqlite_url!r}, "
        "'feed'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "p.stdout.readline(); p.stdout.close()\n"
        "err = p.stderr.read().decode(); code = p.wait()\n"
        "print(code, 'Traceback' in err, 'internal error' in err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    code, traceback, internal = done.stdout.split()
    # click ends a command whose reader went away with exit 1 (or SIGPIPE ends it first)
    assert code in ("0", "1", "-13"), done.stdout
    assert traceback == "False"
    assert internal == "False"


def test_a_full_disk_is_bad_input_not_an_internal_error(pledged: str, sqlite_url: str) -> None:
    import subprocess
    import sys

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "appcase", "--db", sqlite_url, "list"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert "cannot write the output" in done.stderr


@pytest.mark.parametrize("kind", ["endless", "pipe"])
def test_the_offline_verifier_refuses_a_key_that_is_no_file(tmp_path: Path, kind: str) -> None:
    import subprocess
    import sys

    if kind == "pipe":
        key = tmp_path / "fifo"
        os.mkfifo(key)
    else:
        key = Path("/dev/zero")
    done = subprocess.run(
        [sys.executable, "-m", "appcase.audit.bundle", str(tmp_path), "--public-key", str(key)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
