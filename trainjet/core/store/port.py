"""The storage ports: small Protocols the rest of trainjet is written against.

Adapters: `memory` (fast unit tests, one process) and `jetstream` (the real thing). Both pass the
same contract tests in `tests/contract/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from trainjet.core.events import AnyEvent, Event


class StoredEvent(msgspec.Struct, frozen=True):
    """An event as read back from the log, with its position in the stream."""

    seq: int
    subject: str
    event: AnyEvent


class RejectedMessage(msgspec.Struct, frozen=True):
    """A message on an event subject that is not a decodable event. Recorded and skipped."""

    seq: int
    subject: str
    data: bytes
    error: str


Record = StoredEvent | RejectedMessage


def last_of_each_subject(records: Iterable[Record]) -> list[Record]:
    """The last record of each subject among `records` (given in stream order), in stream
    order: what `EventStore.read_latest` answers, from a whole history where a store cannot
    ask for it directly."""
    last: dict[str, Record] = {}
    for record in records:
        last[record.subject] = record
    return sorted(last.values(), key=lambda record: record.seq)


class StartCommand(msgspec.Struct, frozen=True, kw_only=True):
    """Asks a pool to run an operation. The inputs live in the operation's `operation_created`."""

    operation_id: str
    operation_type: str
    pool: str = "local"


class RunnerInfo(msgspec.Struct, kw_only=True):
    """A live runner's heartbeat: who it is, what it can do, what it is doing."""

    runner_id: str
    pool: str
    host: str
    pid: int
    device: str = "cpu"
    gpu: dict[str, Any] | None = None
    concurrency: int = 1
    current_operations: list[str] = msgspec.field(default_factory=list)
    started_at: str = ""
    last_seen: str = ""
    version: str = ""
    # the runner's outbox as of this heartbeat (the API's /metrics reads them from here)
    outbox_depth: int = 0
    outbox_dropped: int = 0
    # "running", or "stopping" once it has stopped pulling work (SIGTERM): a stopping runner
    # takes nothing over, so its pool's other runners do not count it as a place to hand to.
    state: str = "running"


@runtime_checkable
class EventStore(Protocol):
    """Append-only log of operation events."""

    async def append(self, event: Event, *, expected_last_seq: int | None = None) -> int:
        """Store one event; return its stream sequence. Re-appending the same `event_id`
        within the duplicate window stores nothing and returns the original sequence.

        With `expected_last_seq` the append is conditional: it stores the event only if the
        last record of the event's operation (any subject under `trainjet.ops.<id>.`) still
        has that sequence (0: the operation has no record), and raises `ConcurrencyConflict`
        otherwise. Appends that decide an operation's fate use it, so two writers that read
        the same history cannot both end (or hand over) the operation."""
        ...

    async def append_many(
        self, events: Sequence[Event], *, encoded: Sequence[bytes] | None = None
    ) -> list[int]:
        """Store several events, pipelined; sequences in the given order. `encoded`, when
        given, holds each event's bytes already encoded (the runner's outbox encodes to
        validate; encoding again would double its per-event cost)."""
        ...

    async def read_operation(self, operation_id: str) -> list[Record]:
        """Every record of one operation, in stream order."""
        ...

    async def read_latest(self, operation_id: str) -> list[Record]:
        """The last record of each subject of one operation (one per event type), in stream
        order. Its last record is the operation's last, so it carries the precondition of a
        decision; a decision that needs only the newest event of each kind (the newest
        start, hand-over, terminal) takes it on this. On JetStream it costs the same however
        long the log, where `read_operation` scans every message stored since the
        operation's first."""
        ...

    async def last_sequence(self) -> int:
        """The stream's last sequence (0 when empty)."""
        ...

    def read_all(self, from_seq: int = 1) -> AsyncIterator[Record]:
        """Every record from `from_seq` up to the end as of the call, then stop (replay)."""
        ...

    def read_all_batches(self, from_seq: int = 1) -> AsyncIterator[Iterable[Record]]:
        """`read_all` in non-empty batches, in order: a replay takes one step per batch rather
        than one per record (the projector's start-up folds the whole log this way). Iterate
        each batch once, before the next step (it may decode as it goes)."""
        ...

    def subscribe(
        self, subject_filter: str | Sequence[str], from_seq: int = 1
    ) -> AsyncIterator[Record]:
        """Records matching the filter (or any of several) from `from_seq`, then live ones
        for ever (tail). Several filters share one server-side consumer."""
        ...


@runtime_checkable
class Claim(Protocol):
    """A start command held by one runner under a lease."""

    command: StartCommand
    delivery_count: int

    async def extend(self) -> None:
        """Renew the lease (the runner is alive and working)."""
        ...

    async def complete(self) -> None:
        """The operation reached a terminal state: remove the command."""
        ...

    async def release(self) -> None:
        """Give the command back for another runner to take at once."""
        ...


@runtime_checkable
class CommandQueue(Protocol):
    """Work-queue of start commands, one consumer group per pool."""

    lease_seconds: float

    async def submit(self, command: StartCommand) -> None: ...

    async def next_claim(self, pool: str, timeout: float) -> Claim | None:
        """Take the next command of `pool` under a lease, or None after `timeout` seconds."""
        ...

    async def next_claims(self, pool: str, max_count: int, timeout: float) -> Sequence[Claim]:
        """Take up to `max_count` commands of `pool` under a lease, in order, as soon as one is
        there (those waiting with it come in the same round trip); empty after `timeout`."""
        ...

    async def pending(self, pool: str) -> int:
        """Commands waiting (not yet claimed) in `pool`."""
        ...


@runtime_checkable
class RunnerRegistry(Protocol):
    """Live runners by heartbeat; an entry not renewed within `ttl_seconds` disappears."""

    ttl_seconds: float

    async def heartbeat(self, info: RunnerInfo) -> None: ...

    async def remove(self, runner_id: str) -> None: ...

    async def list(self) -> list[RunnerInfo]: ...
