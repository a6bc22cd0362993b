"""`StoreConnection`: the adapters one connection to the event store gives a process.

A NATS deployment fills every field (`nats_factory.open_store`); the in-memory one
(`memory_connection`, for fast tests) has no blob buckets, no server to describe and is
always connected. The composition root (`trainjet.system`) builds each process from one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from trainjet.core.store.blobs import BlobStore
from trainjet.core.store.memory import (
    MemoryCommandQueue,
    MemoryEventStore,
    MemoryRunnerRegistry,
)
from trainjet.core.store.port import CommandQueue, EventStore, RunnerRegistry


async def _nothing() -> None:
    return None


@dataclass
class StoreConnection:
    store: EventStore
    commands: CommandQueue
    registry: RunnerRegistry
    # Epoch checkpoints, models host runners publish, the projector's snapshots (None: the
    # deployment keeps none, e.g. in memory).
    checkpoints: BlobStore | None = None
    models: BlobStore | None = None
    snapshots: BlobStore | None = None
    url: str | None = None  # redacted: never credentials
    # The server and streams for /health (None: nothing to describe).
    describe: Callable[[], Awaitable[dict[str, Any]]] | None = None
    # Whether the connection is up right now (None: always), so the API can answer
    # "unavailable" at once instead of after a request timeout.
    connected: Callable[[], bool] | None = None
    close: Callable[[], Awaitable[None]] = _nothing


def memory_connection(*, lease_seconds: float, runner_ttl_seconds: float) -> StoreConnection:
    """Everything in one process, no NATS: for fast tests of the logic above the store."""
    return StoreConnection(
        store=MemoryEventStore(),
        commands=MemoryCommandQueue(lease_seconds=lease_seconds),
        registry=MemoryRunnerRegistry(ttl_seconds=runner_ttl_seconds),
    )
