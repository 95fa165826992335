"""schemathesis against the OpenAPI document of a real ``appcase serve`` process: over
every operation, a bounded number of generated requests, no 5xx answer, no answer that
breaks its documented schema, status code or media type."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from typing import Any  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server.conftest import Live  # noqa: E402

pytestmark = [pytest.mark.slow]  # a real server process; left out of the fast run

EXAMPLES = 8
"""Generated requests per operation (a bounded run; raise it for a longer search)."""


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def test_no_server_error_and_no_schema_breaking_answer(live_server: Live) -> None:
    api = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def exchange(case: Any) -> None:
            if case.path == "/events" and case.query:
                case.query["wait"] = 0  # a long poll only slows the search
            case.call_and_validate(headers=live_server.auth("prov"), checks=CHECKS, timeout=30)

        exchange()
