"""The webhook relay without a network or waiting: signatures (checked with the
``standardwebhooks`` reference package), backoff bounds, cursor and lease logic.

The relay's delivery and lease logic with a database is tests/integration/test_relay_logic.py.
"""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from appcase.errors import InvalidInput
from appcase.workflow.relay import (
    RelayConfig,
    RetryPolicy,
    parse_secret,
    sign,
    webhook_headers,
)
from tests.relay_fakes import KEY, SECRET, config


# --- signing ----------------------------------------------------------------------------
def test_a_signature_verifies_with_the_reference_implementation() -> None:
    body = json.dumps({"id": "7", "data": {"to": "judged"}}).encode()
    timestamp = int(datetime.now(UTC).timestamp())
    headers = webhook_headers(KEY, "hunan-2018:7", timestamp, body)
    assert Webhook(SECRET).verify(body, headers) == {"id": "7", "data": {"to": "judged"}}
    assert headers["webhook-signature"] == Webhook(SECRET).sign(
        "hunan-2018:7", datetime.fromtimestamp(timestamp, UTC), body.decode()
    )


def test_a_signature_is_the_documented_hmac() -> None:
    import hashlib
    import hmac

    mac = hmac.new(KEY, b"m1.1700000000.{}", hashlib.sha256).digest()
    assert sign(KEY, "m1", 1_700_000_000, b"{}") == "v1," + base64.b64encode(mac).decode()


def test_a_changed_body_or_id_does_not_verify() -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    timestamp = int(datetime.now(UTC).timestamp())
    headers = webhook_headers(KEY, "c:1", timestamp, b'{"a":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"a":1}', headers | {"webhook-id": "c:2"})


@pytest.mark.parametrize(
    "text", ["", "secret", "whsec_", "whsec_***", "whsec_" + base64.b64encode(b"short").decode()]
)
def test_bad_secrets_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_secret(text)
    if len(text) > 6:
        assert text[6:] not in caught.value.message


def test_a_secret_file_may_end_with_a_newline() -> None:
    assert parse_secret(SECRET + "\n") == KEY


# --- backoff ----------------------------------------------------------------------------
@given(
    retry=st.integers(1, 10_000),
    seed=st.integers(0, 2**32),
    initial=st.floats(0.01, 5),
    maximum=st.floats(5, 600),
    jitter=st.floats(0, 1),
)
def test_backoff_stays_within_its_bounds(
    retry: int, seed: int, initial: float, maximum: float, jitter: float
) -> None:
    policy = RetryPolicy(initial=initial, maximum=maximum, jitter=jitter)
    base = min(maximum, initial * 2.0 ** min(retry - 1, 64))
    delay = policy.delay(retry, random.Random(seed))
    assert base * (1 - jitter) - 1e-9 <= delay <= base <= maximum


def test_backoff_grows_then_caps_and_is_jittered() -> None:
    policy = RetryPolicy(initial=0.5, maximum=8, jitter=0.5)
    rng = random.Random(3)
    delays = [policy.delay(n, rng) for n in range(1, 12)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(4 <= d <= 8 for d in delays[5:])
    assert len({round(d, 6) for d in delays[5:]}) > 1  # jitter: not all the same


def test_bad_policies_are_refused() -> None:
    with pytest.raises(InvalidInput):
        RetryPolicy(initial=0)
    with pytest.raises(InvalidInput):
        RetryPolicy(initial=10, maximum=1)
    with pytest.raises(InvalidInput):
        RetryPolicy(jitter=2)
    with pytest.raises(InvalidInput):
        config(lease_seconds=5, request_timeout=10)
    with pytest.raises(InvalidInput):
        RelayConfig(url="ftp://x/", key=KEY)
