"""Property-based fuzzing of every operation in the API's own OpenAPI document.

Schemathesis turns each operation's schema into Hypothesis strategies, valid inputs and
invalid ones (wrong types, out-of-range numbers, missing fields, odd text), and each case goes
over real HTTP to a real uvicorn. The property: no answer is a 5xx, and every 4xx carries the
JSON error body clients read (`detail` and `error.code`). Bounded in examples (and
derandomized, so a CI failure reproduces) to stay well under a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.hostile.conftest import LiveServer, build_app, make_settings

EXAMPLES_PER_OPERATION = 10

SCHEMA = schemathesis.openapi.from_dict(build_app(make_settings(Path("/nonexistent"))).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = build_app(make_settings(tmp_path_factory.mktemp("fuzz")))
    with LiveServer(app) as server:
        yield server.url


def test_the_schema_documents_every_route() -> None:
    labels = {f"{op.method.upper()} {op.path}" for op in OPERATIONS}
    assert "POST /api/v1/dummy/start" in labels and "GET /api/v1/operations" in labels
    assert len(OPERATIONS) >= 20


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_client_input_gets_a_5xx(operation: schemathesis.APIOperation, live_api: str) -> None:
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=live_api, timeout=30)
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        assert response.status_code < 500, f"{where}: {response.text[:500]}"
        if response.status_code >= 400:
            body = response.json()
            assert body["success"] is False and body["detail"], where
            assert body["error"]["code"], where

    check()
