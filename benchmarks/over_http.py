"""Item 1h: what one transition costs over HTTP, against the library call, in the same run.

``POST /cases/{id}/events/escalate`` to a real ``appcase serve`` process on 127.0.0.1
(one kept-alive httpx connection), and through the application in this process (FastAPI's
``TestClient``: routing, validation, the token, JSON, no socket), each against
``engine.fire(escalate)`` on the same SQLite file, in alternating rounds. Needs the
``server`` extra (FastAPI, uvicorn) and httpx; skipped, with the reason, without them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import lifecycle, seed
from benchmarks.report import Row

TITLE = "one transition over HTTP, SQLite"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(url: str, work: Path) -> Iterator[str]:
    """``appcase serve`` on a free port of 127.0.0.1; its base URL. Stopped with SIGTERM."""
    import httpx

    port = _free_port()
    log = work / "http-server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPCASE_")}
    env["APPCASE_LOG_LEVEL"] = "error"  # no access log line per request
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appcase", "--db", url, "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"appcase serve did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_http(work: Path, size: Any) -> list[Row]:
    """Rows 1h (a real server process) and 1a (the application in process), each against
    ``engine.fire(escalate)`` in the same rounds."""
    missing = [m for m in ("fastapi", "uvicorn", "httpx") if importlib.util.find_spec(m) is None]
    if missing:
        return [Row("1h", TITLE, note=f"skipped: {', '.join(missing)} not installed")]
    import httpx
    import structlog
    from fastapi.testclient import TestClient

    from appcase.bootstrap import open_engine
    from appcase.server import create_app
    from appcase.workflow.tokens import issue_token

    url = seed.sqlite_url(work / "http.sqlite")
    per = size.fire_rounds * size.fire_ops + size.fire_warmup
    variants = ("engine", "server", "asgi")
    s = lifecycle.ESCALATE
    # the cases are seeded with the benchmark's fixed clock (2018); the token is issued
    # with the system clock, the server's, so that it has not expired there
    with contextlib.closing(seed.new_engine(url)) as engine:
        ids = {
            v: seed.seed(engine, lifecycle.TO_JUDGED_TAKEDOWN, per, first_app=(i + 1) * 1_000_000)
            for i, v in enumerate(variants)
        }
    with contextlib.closing(open_engine(url)) as system_clock:  # the server's clock
        token = issue_token(system_clock, s.actor, by="admin").token
    engine = seed.reopen(url)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"payload": s.payload, "at": s.at.isoformat(), "reason": s.reason}

    logging, configured = structlog.get_config(), structlog.is_configured()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    with (
        _server(url, work) as base,
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
        TestClient(create_app(engine), headers=headers) as asgi,
    ):

        def over(c: Any) -> Callable[[str], Any]:
            def post(cid: str) -> Any:
                r = c.post(f"/cases/{cid}/events/escalate", json=body)
                if r.status_code != 201:
                    raise RuntimeError(f"escalate over HTTP answered {r.status_code}: {r.text}")

            return post

        ops: dict[str, Callable[[str], Any]] = {
            "engine": lambda cid: engine.fire(
                cid, s.event, actor=s.actor, payload=s.payload, at=s.at, reason=s.reason
            ),
            "server": over(client),
            "asgi": over(asgi),
        }
        queues = {v: iter(ids[v]) for v in variants}

        def run(v: str, count: int) -> tuple[float, float]:
            batch = [next(queues[v]) for _ in range(count)]
            f = ops[v]
            wall, cpu = time.perf_counter(), time.process_time()
            for c in batch:
                f(c)
            return time.perf_counter() - wall, time.process_time() - cpu

        for v in variants:
            run(v, size.fire_warmup)
        ms: dict[str, list[float]] = {v: [] for v in variants}
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        for r in range(size.fire_rounds):
            order = variants if r % 2 == 0 else tuple(reversed(variants))
            for v in order:
                wall, used = run(v, size.fire_ops)
                ms[v].append(wall / size.fire_ops * 1000)
                cpu[v].append(used / size.fire_ops * 1000)
    structlog.reset_defaults()
    if configured:  # left configured with the defaults, audit lines would print on stdout
        structlog.configure(**logging)
    for v in variants:
        seed.check_sample(engine, ids[v])
    engine.close()
    ratio = [a / b for a, b in zip(ms["server"], ms["engine"], strict=True)]
    asgi_ratio = [a / b for a, b in zip(ms["asgi"], ms["engine"], strict=True)]
    asgi_cpu = [a / b for a, b in zip(cpu["asgi"], cpu["engine"], strict=True)]
    rounds = f"{size.fire_rounds} runs × {size.fire_ops} transitions (after {size.fire_warmup} "
    return [
        Row(
            "1h",
            "experiment: POST /cases/{id}/events/escalate to `appcase serve` on 127.0.0.1",
            "ms/op",
            ms["server"],
            "engine.fire",
            ratio,
            note=rounds + "warm-up ones), each on its own seeded judged case of one SQLite "
            "file, against engine.fire(escalate) on the same file in the same rounds "
            "(benchmarks/over_http.py). One kept-alive httpx connection, a bearer token, the "
            "access log off; wall time only (the server is another process).",
        ),
        Row(
            "1a",
            "experiment: the same request through the application in process (TestClient)",
            "ms/op",
            ms["asgi"],
            "engine.fire",
            asgi_ratio,
            cpu_ratios=asgi_cpu,
            note="FastAPI's TestClient on create_app(engine), the same engine as the baseline: "
            "routing, the token's lookup, the body's validation and the JSON answer, "
            "without a socket or another process.",
        ),
        Row("1h", "baseline: engine.fire(escalate) on the same file", "ms/op", ms["engine"]),
    ]
