"""What an attempt gets from the runner process: explicit dependencies, built once.

Kept apart from `attempt.py` so the attempt never reaches into the runner (and the runner
module imports the attempt, never the other way round).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainjet.core.errors import StoreError
from trainjet.core.events import Event
from trainjet.core.store.blobs import BlobStore
from trainjet.core.store.port import EventStore, Record, RunnerRegistry
from trainjet.runners.context import OperationContext
from trainjet.runners.control import ControlWatcher
from trainjet.runners.leases import LeaseKeeper
from trainjet.runners.outbox import EventOutbox

log = logging.getLogger(__name__)

Executor = Callable[[OperationContext], Awaitable[dict[str, Any]]]

# How long a fate-deciding append is retried through a NATS outage or a leader election
# before the attempt gives up (the lease monitor then decides); same event id, so JetStream
# stores it once.
APPEND_DEADLINE = 30.0


@dataclass
class RunnerStats:
    completed: int = 0
    resumed: int = 0
    fenced: int = 0
    handed_over: int = 0


@dataclass
class AttemptDeps:
    """What an attempt needs from the runner process, and nothing else."""

    store: EventStore
    outbox: EventOutbox
    registry: RunnerRegistry
    control: ControlWatcher
    executors: Mapping[str, Executor]
    runner_id: str
    pool: str
    host: str
    device: str
    lease_seconds: float
    checkpoints: BlobStore | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    stats: RunnerStats = field(default_factory=RunnerStats)
    # The one task renewing every held command's lease (see `leases`).
    leases: LeaseKeeper = field(init=False)
    # History reads in flight at once, for all this runner's attempts (see `Retrying`).
    reads: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_READS))
    latest_reads: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_LATEST_READS)
    )

    def __post_init__(self) -> None:
        self.leases = LeaseKeeper(self.lease_seconds)


# Each history read costs the server's JetStream API a request or more (the stream's last
# sequence, then batched direct gets; a consumer where the stream has no direct gets): a
# runner taking thousands of commands at once must not ask for thousands together, or the
# server times them all out and every retry adds to the pile (measured: 10,000 dummy starts
# on 4 runners, with a consumer per read). Reads beyond this wait their turn; running
# operations are not held.
MAX_READS = 16
# A read of the latest event of each type is one cheap request (the server finds each from
# its subject index): gated only so that a burst of thousands of ends is not thousands of
# requests at once. Gated with the whole reads, a runner's ends queued behind each other for
# seconds.
MAX_LATEST_READS = 128


class Retrying:
    """The store as `decide` sees it: transient failures retried up to a deadline, and
    history reads gated by the runner's `reads` and `latest_reads` semaphores."""

    def __init__(
        self,
        store: EventStore,
        reads: asyncio.Semaphore | None = None,
        latest_reads: asyncio.Semaphore | None = None,
    ) -> None:
        self.store = store
        self.reads = reads or asyncio.Semaphore(MAX_READS)
        self.latest_reads = latest_reads or asyncio.Semaphore(MAX_LATEST_READS)

    async def _retry(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + APPEND_DEADLINE
        while True:
            try:
                return await call()
            except StoreError as exc:
                if not exc.retryable or time.monotonic() > deadline:
                    raise
                log.warning("%s failed (%s); retrying", what, exc)
                await asyncio.sleep(0.5)

    async def append(self, event: Event, *, expected_last_seq: int | None = None) -> int:
        seq: int = await self._retry(
            f"appending {type(event).__name__}",
            lambda: self.store.append(event, expected_last_seq=expected_last_seq),
        )
        return seq

    async def read_operation(self, operation_id: str) -> list[Record]:
        return await self._read(
            f"reading {operation_id}", self.reads, lambda: self.store.read_operation(operation_id)
        )

    async def read_latest(self, operation_id: str) -> list[Record]:
        return await self._read(
            f"reading the latest of {operation_id}",
            self.latest_reads,
            lambda: self.store.read_latest(operation_id),
        )

    async def _read(
        self, what: str, gate: asyncio.Semaphore, read: Callable[[], Awaitable[list[Record]]]
    ) -> list[Record]:
        """A history read behind its gate, retried (each try waits for the gate anew)."""

        async def gated() -> list[Record]:
            async with gate:
                return await read()

        records: list[Record] = await self._retry(what, gated)
        return records
