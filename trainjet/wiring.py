"""Wiring, kept apart from running: build the parts of trainjet around one set of adapters.

`Backend` bundles the store, the command queue, the runner registry, the projector, the
orchestrator and the lease monitor. The API, the runners and the CLI take a Backend; tests
build one on the in-memory adapters or on a real nats-server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from trainjet.config import Settings
from trainjet.core.annotations import OperationAnnotations
from trainjet.core.leases import LeaseMonitor
from trainjet.core.orchestrator import ServiceOrchestrator
from trainjet.core.projections.projector import Projector
from trainjet.core.projections.snapshot import SnapshotStore
from trainjet.core.store.blobs import BlobStore
from trainjet.core.store.port import CommandQueue, EventStore, RunnerRegistry

Closer = Callable[[], Awaitable[None]]


@dataclass
class Backend:
    store: EventStore
    commands: CommandQueue
    registry: RunnerRegistry
    settings: Settings
    nats_url: str | None = None  # redacted: never credentials
    describe: Callable[[], Awaitable[dict[str, Any]]] | None = None
    # where the projector keeps its snapshots (None: every start folds the whole log)
    snapshots: SnapshotStore | None = None
    # whether the store's connection is up right now (None: always, e.g. in memory), so the
    # API can answer "unavailable" at once instead of after a request timeout
    connected: Callable[[], bool] | None = None
    closers: list[Closer] = field(default_factory=list)
    # Epoch checkpoints (NATS deployments keep them in an object store; None: not kept).
    checkpoints: BlobStore | None = None
    projector: Projector = field(init=False)
    orchestrator: ServiceOrchestrator = field(init=False)
    leases: LeaseMonitor = field(init=False)
    annotations: OperationAnnotations = field(init=False)

    def __post_init__(self) -> None:
        self.projector = Projector(
            self.store,
            snapshots=self.snapshots,
            snapshot_seconds=self.settings.snapshot_seconds,
        )
        self.orchestrator = ServiceOrchestrator(
            self.store,
            self.commands,
            self.projector,
            cancel_wait_seconds=self.settings.cancel_wait_seconds,
        )
        self.leases = LeaseMonitor(self.store, self.registry, self.projector)
        self.annotations = OperationAnnotations(self.store, self.projector, self.orchestrator.get)

    async def start_read_side(self, *, lease_monitor: bool = True) -> None:
        await self.projector.start()
        if lease_monitor:
            self.leases.start()

    async def close(self) -> None:
        await self.leases.stop()
        await self.projector.stop()
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):
                await closer()


def memory_backend(settings: Settings | None = None) -> Backend:
    """Everything in one process, no NATS: for fast tests of the logic above the store."""
    from trainjet.core.store.memory import (
        MemoryCommandQueue,
        MemoryEventStore,
        MemoryRunnerRegistry,
    )

    settings = settings or Settings()
    return Backend(
        store=MemoryEventStore(),
        commands=MemoryCommandQueue(lease_seconds=settings.lease_seconds),
        registry=MemoryRunnerRegistry(ttl_seconds=settings.runner_ttl_seconds),
        settings=settings,
    )
