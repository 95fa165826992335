"""The webhook relay's delivery, cursor and lease logic, on a real SQLite file with an
injected transport, clock and sleep (no network, no waiting)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from appcase.workflow.engine import CaseEngine
from appcase.workflow.feed import feed
from appcase.workflow.relay import (
    Relay,
    RelayOutcome,
    RetryPolicy,
)
from tests.builders import drive
from tests.relay_fakes import SECRET, Clock, Receiver, config, relay


# --- delivery, cursor, failures ------------------------------------------------------------
@pytest.fixture
def events(sqlite_engine: CaseEngine) -> list[int]:
    drive(sqlite_engine, "rectified", n=0)
    drive(sqlite_engine, "judged", n=1)
    return [e.position for e in feed(sqlite_engine, 0, 1000)]


def cursor(engine: CaseEngine, receiver: str = "default") -> Any:
    with engine.storage.reading() as store:
        return store.relay_cursor(engine.campaign.id, receiver)


def test_every_event_is_delivered_once_in_feed_order(
    sqlite_engine: CaseEngine, events: list[int]
) -> None:
    receiver, clock = Receiver(), Clock()
    result = relay(sqlite_engine, receiver, clock, cfg=config(batch=3)).run(once=True)
    assert result.outcome is RelayOutcome.CAUGHT_UP
    assert receiver.ids() == [f"hunan-2018:{p}" for p in events]
    bodies = [json.loads(b) for _, b in receiver.requests]
    assert [b["id"] for b in bodies] == [str(p) for p in events]
    assert bodies[0]["specversion"] == "1.0"
    assert bodies[0]["type"] == "org.appcase.case.survey"
    stored = cursor(sqlite_engine)
    assert (stored.position, stored.delivered, stored.lease_owner) == (
        events[-1],
        len(events),
        None,
    )
    # a restart resumes after the cursor: nothing is sent again
    again = Receiver()
    assert relay(sqlite_engine, again, clock).run(once=True).delivered == 0
    assert again.requests == []


def test_failures_are_retried_with_backoff_and_the_cursor_waits(
    sqlite_engine: CaseEngine, events: list[int]
) -> None:
    receiver = Receiver([500, ConnectionRefusedError(111, "refused"), TimeoutError(), 302, 204])
    clock = Clock()
    start = clock.t
    result = relay(sqlite_engine, receiver, clock).run(once=True)
    assert result.delivered == len(events)
    ids = receiver.ids()
    assert ids[:5] == [f"hunan-2018:{events[0]}"] * 5  # the same event until acknowledged
    assert ids[5:] == [f"hunan-2018:{p}" for p in events[1:]]
    waited = (clock.t - start).total_seconds()
    assert 0.25 + 0.5 + 1 + 2 <= waited <= 0.5 + 1 + 2 + 4
    # each attempt carries its own timestamp and signature, all valid
    for headers, body in receiver.requests:
        Webhook(SECRET).sign(headers["webhook-id"], _at(headers), body.decode())
        assert headers["webhook-signature"] == Webhook(SECRET).sign(
            headers["webhook-id"], _at(headers), body.decode()
        )
    stored = cursor(sqlite_engine)
    assert stored.failing_since is None
    assert stored.failures == 0


def _at(headers: Mapping[str, str]) -> datetime:
    return datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)


def test_a_failing_receiver_is_reported_and_nothing_is_skipped(
    sqlite_engine: CaseEngine, events: list[int]
) -> None:
    from structlog.testing import capture_logs

    receiver, clock = Receiver([503] * 100), Clock()
    cfg = config(alert_after=3, give_up_after=7)
    with capture_logs() as logs:
        result = relay(sqlite_engine, receiver, clock, cfg=cfg).run()
    assert result.outcome is RelayOutcome.RECEIVER_FAILING
    assert (result.delivered, result.position) == (0, 0)
    assert set(receiver.ids()) == {f"hunan-2018:{events[0]}"}
    assert len(receiver.requests) == 7
    stored = cursor(sqlite_engine)
    assert stored.position == 0
    assert stored.failures == 7
    assert stored.last_error == "HTTP 503"
    assert stored.failing_since is not None
    text = repr(logs)
    assert [e["failures"] for e in logs if e["event"] == "relay_receiver_failing"] == [3, 6]
    assert "relay_gave_up" in text
    assert "whsec" not in text
    assert SECRET[6:] not in text
    # the next run starts from the same event
    later = Receiver()
    relay(sqlite_engine, later, clock).run(once=True)
    assert later.ids()[0] == f"hunan-2018:{events[0]}"


# --- the lease --------------------------------------------------------------------------
def test_a_second_relay_waits_while_the_first_holds_the_lease(
    sqlite_engine: CaseEngine, events: list[int]
) -> None:
    clock = Clock()
    first = relay(sqlite_engine, Receiver(), clock, owner="first")
    assert first.claim_lease()
    second_rx = Receiver()
    second = relay(sqlite_engine, second_rx, clock, owner="second")
    assert second.run(once=True).outcome is RelayOutcome.STANDBY
    assert second_rx.requests == []
    # the first relay's lease runs out unrenewed: the second takes over from the cursor
    clock.sleep(config().lease_seconds)
    result = second.run(once=True)
    assert result.outcome is RelayOutcome.CAUGHT_UP
    assert len(second_rx.requests) == len(events)
    # while the second holds it, the first neither delivers nor moves the cursor
    first_rx = Receiver()
    first.transport = first_rx
    drive(sqlite_engine, "flagged", n=2)
    assert second.claim_lease()
    assert first.run(once=True).outcome is RelayOutcome.STANDBY
    assert first_rx.requests == []
    assert cursor(sqlite_engine).position == events[-1]
    # once it is released, the first resumes from the stored cursor, not its own stale one
    second.release_lease()
    assert first.run(once=True).delivered == 2
    assert first_rx.ids() == [f"hunan-2018:{p}" for p in (events[-1] + 1, events[-1] + 2)]


def test_a_lease_held_by_another_is_never_taken_before_it_ends(sqlite_engine: CaseEngine) -> None:
    t = datetime(2026, 12, 1, tzinfo=UTC)
    campaign = sqlite_engine.campaign.id
    with sqlite_engine.storage.transaction() as store:
        assert store.claim_relay_lease(campaign, "r", "a", t, t + timedelta(seconds=30))
        assert store.claim_relay_lease(campaign, "r", "b", t + timedelta(seconds=29), t) is None
        assert store.claim_relay_lease(campaign, "r", "a", t, t + timedelta(seconds=60))
        assert store.claim_relay_lease(campaign, "r", "b", t + timedelta(seconds=59), t) is None
        assert not store.advance_relay_cursor(campaign, "r", "b", 5, t)
        assert store.advance_relay_cursor(campaign, "r", "a", 5, t)
        assert not store.advance_relay_cursor(campaign, "r", "a", 5, t)  # only forward
        taken = store.claim_relay_lease(
            campaign, "r", "b", t + timedelta(seconds=60), t + timedelta(seconds=90)
        )
        assert taken is not None
        assert taken.lease_owner == "b"
        assert taken.position == 5
        assert not store.advance_relay_cursor(campaign, "r", "a", 6, t)
        store.release_relay_lease(campaign, "r", "a")  # not a's: nothing happens
        assert store.relay_cursor(campaign, "r").lease_owner == "b"  # type: ignore[union-attr]
        store.release_relay_lease(campaign, "r", "b")
        assert store.claim_relay_lease(campaign, "r", "a", t, t + timedelta(seconds=1))


def test_the_lease_is_renewed_while_waiting_between_attempts(
    sqlite_engine: CaseEngine, events: list[int]
) -> None:
    clock = Clock()
    cfg = config(retry=RetryPolicy(initial=50, maximum=200, jitter=0))
    campaign = sqlite_engine.campaign.id
    rival_claims: list[bool] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        with sqlite_engine.storage.transaction() as store:  # a rival tries at every step
            rival_claims.append(
                store.claim_relay_lease(campaign, "default", "rival", clock.t, clock.t) is not None
            )

    receiver = Receiver([500, 500, 500])
    rel = Relay(sqlite_engine, cfg, transport=receiver, now=clock.now, sleep=sleep, owner="a")
    rel.run(once=True)
    assert clock.t - Clock().t >= timedelta(seconds=350)  # far longer than one lease
    assert rival_claims
    assert not any(rival_claims)
    assert receiver.ids().count(f"hunan-2018:{events[0]}") == 4
    assert rel.delivered == len(events)


def test_a_request_is_sent_only_with_lease_to_spare(
    sqlite_engine: CaseEngine, events: list[int]
) -> None:
    clock = Clock()
    seen: list[float] = []
    rel: Relay

    def transport(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        seen.append(rel.lease_left())
        clock.sleep(7)  # slow receiver: the lease must be renewed between requests
        return 200

    rel = Relay(sqlite_engine, config(), transport=transport, now=clock.now, sleep=clock.sleep)
    rel.run(once=True)
    cfg = config()
    assert len(seen) == len(events)
    assert min(seen) >= cfg.request_timeout + cfg.lease_margin
