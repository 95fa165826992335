"""Fixtures of the HTTP API: an in-process client on a SQLite engine, and a real
``appcase serve`` process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from appcase.bootstrap import init_database
from appcase.server import create_app
from appcase.workflow.engine import CaseEngine
from appcase.workflow.tokens import issue_token
from tests.builders import ACTORS, ADMIN, register_actors


@dataclass
class Api:
    """An in-process client, the engine behind it and one bearer token per test actor."""

    client: TestClient
    engine: CaseEngine
    tokens: dict[str, str]

    def auth(self, actor: str, **extra: str) -> dict[str, str]:
        """The headers of a request made as ``actor``."""
        return {"Authorization": f"Bearer {self.tokens[actor]}", **extra}


def issue_tokens(engine: CaseEngine, actors: Iterable[str] = (*ACTORS, ADMIN)) -> dict[str, str]:
    """A bearer token for each of ``actors`` (the test actors and the administrator by
    default), issued by the administrator with the engine's clock."""
    return {a: issue_token(engine, a, by=ADMIN).token for a in actors}


@pytest.fixture
def api(sqlite_engine: CaseEngine) -> Iterator[Api]:
    """The HTTP API on a SQLite engine (fixed clock), with a token for every test actor and
    the administrator."""
    tokens = issue_tokens(sqlite_engine)
    with TestClient(create_app(sqlite_engine), raise_server_exceptions=False) as client:
        yield Api(client, sqlite_engine, tokens)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """A real ``appcase serve`` process."""

    url: str
    tokens: dict[str, str]
    database: str
    log: Path

    def auth(self, actor: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[actor]}"}


@contextmanager
def server_process(
    url: str, log: Path, *args: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``appcase --db URL serve ARGS`` on a free port of 127.0.0.1, once it answers
    ``/health``: its base URL and its process; stopped with SIGTERM afterwards (if still
    running)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPCASE_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appcase", "--db", url, "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"appcase serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def served_database(url: str) -> dict[str, str]:
    """Initialise the database at ``url`` with the test actors; a token for each (issued
    with the system clock, the server's)."""
    engine = init_database(url, "hunan-2018")
    try:
        register_actors(engine)
        return issue_tokens(engine)
    finally:
        engine.close()


@contextmanager
def running_server(directory: Path, *args: str) -> Iterator[tuple[Live, subprocess.Popen[bytes]]]:
    """``appcase serve ARGS`` over a fresh SQLite file in ``directory`` (the system clock),
    with a token for every test actor, and its process (:func:`server_process`)."""
    url = f"sqlite:///{directory / 'cases.sqlite'}"
    tokens = served_database(url)
    log = directory / "server.log"
    with server_process(url, log, *args) as (base, proc):
        yield Live(base, tokens, url, log), proc


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``appcase serve`` on a free port of 127.0.0.1 over a fresh SQLite file (the system
    clock), with a token for every test actor; stopped with SIGTERM afterwards."""
    with running_server(tmp_path_factory.mktemp("live")) as (live, _proc):
        yield live
