"""Each port's suite runs once per adapter: `memory` and `jetstream` (the real server).

Leases and TTLs are short here (1 s) so the expiry tests stay fast; both adapters get the
same values, so any difference in behaviour is the adapter's, not the test's.
"""

from __future__ import annotations

import uuid

import pytest

from trainjet.core.store import (
    CommandQueue,
    EventStore,
    MemoryCommandQueue,
    MemoryEventStore,
    MemoryRunnerRegistry,
    RunnerRegistry,
    StoreSettings,
)

LEASE_SECONDS = 1.0
TTL_SECONDS = 1.0

ADAPTERS = ["memory", "jetstream"]


@pytest.fixture
def store_settings() -> StoreSettings:
    return StoreSettings(
        namespace=f"c{uuid.uuid4().hex[:12]}",
        lease_seconds=LEASE_SECONDS,
        runner_ttl_seconds=TTL_SECONDS,
    )


@pytest.fixture(params=ADAPTERS)
def any_event_store(request: pytest.FixtureRequest, store_settings: StoreSettings) -> EventStore:
    if request.param == "memory":
        return MemoryEventStore(duplicate_window=store_settings.duplicate_window)
    store: EventStore = request.getfixturevalue("js_store")
    return store


@pytest.fixture(params=ADAPTERS)
def any_command_queue(
    request: pytest.FixtureRequest, store_settings: StoreSettings
) -> CommandQueue:
    if request.param == "memory":
        return MemoryCommandQueue(lease_seconds=store_settings.lease_seconds)
    queue: CommandQueue = request.getfixturevalue("command_queue")
    return queue


@pytest.fixture(params=ADAPTERS)
def any_registry(request: pytest.FixtureRequest, store_settings: StoreSettings) -> RunnerRegistry:
    if request.param == "memory":
        return MemoryRunnerRegistry(ttl_seconds=store_settings.runner_ttl_seconds)
    registry: RunnerRegistry = request.getfixturevalue("registry")
    return registry
