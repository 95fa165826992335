"""Fakes for the relay's tests: a fixed key and receiver URL, a clock the fake sleep moves,
and a receiver that records requests and answers from a script."""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from appcase.workflow.engine import CaseEngine
from appcase.workflow.relay import Relay, RelayConfig

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
URL = "http://receiver.test/hook"


class Clock:
    """A clock the fake sleep moves."""

    def __init__(self) -> None:
        self.t = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class Receiver:
    """A transport that records requests and answers from a script (then 200)."""

    def __init__(self, script: list[int | Exception] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        assert url == URL
        self.requests.append((dict(headers), body))
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, Exception):
            raise answer
        return answer

    def ids(self) -> list[str]:
        return [h["webhook-id"] for h, _ in self.requests]


def config(**overrides: Any) -> RelayConfig:
    return RelayConfig(url=URL, key=KEY, **overrides)


def relay(engine: CaseEngine, receiver: Receiver, clock: Clock, **kw: Any) -> Relay:
    cfg = kw.pop("cfg", None) or config()
    return Relay(
        engine,
        cfg,
        transport=receiver,
        now=clock.now,
        sleep=clock.sleep,
        rng=random.Random(1),
        **kw,
    )
