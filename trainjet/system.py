"""The composition root: each kind of trainjet process built with exactly the parts it uses.

    API process      store, commands, registry, projector (+ snapshots), orchestrator,
                     lease monitor, annotations; imports the models host runners publish
    runner process   store, commands, registry, checkpoints, models (host runners publish)
    CLI              a check or a creation of the layout; `store_settings` and `nats_access`
                     for what it reads itself

Every process gets its adapters from one `StoreConnection`: on NATS (`core/store/
nats_factory`) or in memory (`memory_api`, for fast tests). Nothing else builds these parts,
so what a process holds is read here, not pieced together from its callers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainjet.config import Settings
from trainjet.core.annotations import OperationAnnotations
from trainjet.core.leases import LeaseMonitor
from trainjet.core.orchestrator import ServiceOrchestrator
from trainjet.core.projections.projector import Projector
from trainjet.core.projections.snapshot import SnapshotStore
from trainjet.core.store.blobs import BlobStore
from trainjet.core.store.connection import StoreConnection, memory_connection
from trainjet.core.store.port import CommandQueue, EventStore, RunnerRegistry
from trainjet.core.store.settings import StoreSettings

if TYPE_CHECKING:
    from trainjet.core.store.jetstream_setup import Part, Provisioned
    from trainjet.core.store.nats_factory import NatsAccess

Closer = Callable[[], Awaitable[None]]

# What each kind of process uses (and so checks for at start-up).
API_PARTS: tuple[Part, ...] = ("events", "commands", "runners", "models", "snapshots")
RUNNER_PARTS: tuple[Part, ...] = ("events", "commands", "runners", "checkpoints", "models")


def store_settings(settings: Settings, **overrides: Any) -> StoreSettings:
    return StoreSettings(
        replicas=settings.stream_replicas,
        lease_seconds=settings.lease_seconds,
        runner_ttl_seconds=settings.runner_ttl_seconds,
        **overrides,
    )


def nats_access(settings: Settings, url: str | None = None) -> NatsAccess:
    """The configured server (or `url`) and credentials."""
    from trainjet.core.store.nats_factory import NatsAccess

    return NatsAccess(
        url=url or settings.nats_url or "",
        user=settings.nats_user,
        password=settings.nats_password,
        token=settings.nats_token,
        creds_file=settings.nats_creds,
    )


class _Connected:
    """The connection's parts, named as the routes and runners use them."""

    connection: StoreConnection

    @property
    def store(self) -> EventStore:
        return self.connection.store

    @property
    def commands(self) -> CommandQueue:
        return self.connection.commands

    @property
    def registry(self) -> RunnerRegistry:
        return self.connection.registry

    @property
    def checkpoints(self) -> BlobStore | None:
        return self.connection.checkpoints


# -- the API process ------------------------------------------------------------------------


@dataclass
class ApiSystem(_Connected):
    """What the API serves from: the write side, the read side and the lease monitor."""

    settings: Settings
    connection: StoreConnection
    projector: Projector = field(init=False)
    orchestrator: ServiceOrchestrator = field(init=False)
    leases: LeaseMonitor = field(init=False)
    annotations: OperationAnnotations = field(init=False)
    closers: list[Closer] = field(default_factory=list)

    def __post_init__(self) -> None:
        snapshots = self.connection.snapshots
        self.projector = Projector(
            self.connection.store,
            snapshots=SnapshotStore(snapshots) if snapshots is not None else None,
            snapshot_seconds=self.settings.snapshot_seconds,
        )
        self.orchestrator = ServiceOrchestrator(
            self.connection.store,
            self.connection.commands,
            self.projector,
            cancel_wait_seconds=self.settings.cancel_wait_seconds,
        )
        self.leases = LeaseMonitor(self.connection.store, self.connection.registry, self.projector)
        self.annotations = OperationAnnotations(
            self.connection.store, self.projector, self.orchestrator.get
        )

    @property
    def nats_url(self) -> str | None:
        return self.connection.url

    @property
    def describe(self) -> Callable[[], Awaitable[dict[str, Any]]] | None:
        return self.connection.describe

    @property
    def connected(self) -> Callable[[], bool] | None:
        return self.connection.connected

    async def start(self, *, lease_monitor: bool = True) -> None:
        """Fold the log, then watch leases; import the models host runners publish into
        this API's models dir (on the completion event, and a catch-up pass now)."""
        await self.projector.start()
        if lease_monitor:
            self.leases.start()
        if self.connection.models is not None:
            from trainjet.runners.artifacts import ModelImporter

            importer = ModelImporter(
                self.connection.models, self.settings.models_dir, self.projector
            )
            importer.start()
            self.closers.append(importer.close)

    async def close(self) -> None:
        await self.leases.stop()
        await self.projector.stop()
        for closer in [*reversed(self.closers), self.connection.close]:
            with contextlib.suppress(Exception):
                await closer()


async def connect_api(settings: Settings) -> ApiSystem:
    """The API on the configured NATS server (its layout checked, never created)."""
    from trainjet.core.store.nats_factory import open_store

    if not settings.nats_url:
        raise ValueError("connect_api needs settings.nats_url (serve starts an embedded server)")
    connection = await open_store(
        nats_access(settings),
        store_settings(settings),
        name="trainjet-api",
        parts=API_PARTS,
    )
    return ApiSystem(settings, connection)


def memory_api(settings: Settings | None = None) -> ApiSystem:
    """The API's parts on the in-memory adapters: for fast tests of the logic above the store."""
    settings = settings or Settings()
    connection = memory_connection(
        lease_seconds=settings.lease_seconds, runner_ttl_seconds=settings.runner_ttl_seconds
    )
    return ApiSystem(settings, connection)


# -- a runner process -----------------------------------------------------------------------


@dataclass
class RunnerSystem(_Connected):
    """What a runner works with: no projector, orchestrator or lease monitor (the API's)."""

    settings: Settings
    connection: StoreConnection

    @property
    def models(self) -> BlobStore | None:
        return self.connection.models

    async def heartbeat_registry(self, name: str) -> tuple[RunnerRegistry, Closer]:
        """A registry on a connection of its own (the heartbeat thread's: see
        `runners.heartbeat`)."""
        from trainjet.core.store.jetstream_registry import JetStreamRunnerRegistry
        from trainjet.core.store.nats_factory import connect_nats

        nc = await connect_nats(nats_access(self.settings), name=name)
        return JetStreamRunnerRegistry(nc, store_settings(self.settings)), nc.close

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.connection.close()


async def connect_runner(settings: Settings, pool: str) -> RunnerSystem:
    """A runner of `pool` on the configured server, waiting for a server still starting."""
    from trainjet.core.store.nats_factory import open_store

    connection = await open_store(
        nats_access(settings),
        store_settings(settings),
        name=f"trainjet-runner-{pool}",
        parts=RUNNER_PARTS,
        pools=[pool],
        retry_for=settings.connect_retry_seconds,
    )
    return RunnerSystem(settings, connection)


# -- the CLI --------------------------------------------------------------------------------


async def provision_nats(settings: Settings) -> list[Provisioned]:
    """Create or check the whole layout with the configured (admin) credentials."""
    from trainjet.core.store.nats_factory import provision_nats as provision

    return await provision(nats_access(settings), store_settings(settings))


async def check_layout(
    settings: Settings, parts: Iterable[Part] = API_PARTS, pools: Iterable[str] = ()
) -> None:
    """The start-up check of `trainjet api` / `runner`: waits for a server still starting."""
    from trainjet.core.store.nats_factory import check_layout as check

    await check(
        nats_access(settings),
        store_settings(settings),
        parts,
        pools,
        retry_for=settings.connect_retry_seconds,
    )


async def wait_for_nats(settings: Settings) -> None:
    """Return once the configured server answers (retrying for the configured bound)."""
    from trainjet.core.store.nats_connect import disconnect
    from trainjet.core.store.nats_factory import connect_nats

    nc = await connect_nats(
        nats_access(settings), name="trainjet-api-probe", retry_for=settings.connect_retry_seconds
    )
    await disconnect(nc)
