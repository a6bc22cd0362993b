# size: the three in-memory adapters side by side, so their semantics read against each other
"""In-process adapters of the three ports, for unit tests and single-process tools.

They keep the JetStream adapters' semantics, checked by the same contract tests: events are
encoded and decoded on the way in (so a test sees exactly what a reader of the real log would),
sequences start at 1, a re-append of an event id inside the duplicate window returns the first
sequence, start commands are leased and redelivered, and runner entries expire. Time is
`time.monotonic`, so leases and TTLs behave like the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from trainjet.core.errors import ConcurrencyConflict
from trainjet.core.events import CODEC, Event, MalformedEvent, subjects
from trainjet.core.store.port import (
    Record,
    RejectedMessage,
    RunnerInfo,
    StartCommand,
    StoredEvent,
    last_of_each_subject,
)
from trainjet.core.store.settings import (
    is_stale,
    stamp,
    validate_operation_id,
    validate_pool,
    validate_runner_id,
)

_BATCH = 1_000  # records per list of `read_all_batches` (a JetStream replay's are similar)


def subject_matches(subject_filter: str, subject: str) -> bool:
    """NATS wildcard matching: `*` is one token, a final `>` is one or more."""
    pattern, tokens = subject_filter.split("."), subject.split(".")
    for i, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (part != "*" and part != tokens[i]):
            return False
    return len(pattern) == len(tokens)


class _Dedup:
    """Message ids seen within `window` seconds, with the sequence they got."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: dict[str, tuple[int, float]] = {}

    def get(self, msg_id: str) -> int | None:
        hit = self._seen.get(msg_id)
        if hit is None or time.monotonic() - hit[1] > self.window:
            return None
        return hit[0]

    def add(self, msg_id: str, seq: int) -> None:
        self._seen[msg_id] = (seq, time.monotonic())


class MemoryEventStore:
    """The `EventStore` port in a list."""

    def __init__(self, duplicate_window: float = 120.0) -> None:
        self._records: list[Record] = []
        self._dedup = _Dedup(duplicate_window)
        self._changed = asyncio.Condition()

    def _store(self, subject: str, data: bytes) -> int:
        seq = len(self._records) + 1
        try:
            record: Record = StoredEvent(seq=seq, subject=subject, event=CODEC.decode(data))
        except MalformedEvent as exc:
            record = RejectedMessage(seq=seq, subject=subject, data=data, error=str(exc))
        self._records.append(record)
        return seq

    def _append_now(self, event: Event, data: bytes | None = None) -> int:
        validate_operation_id(event.operation_id)
        seq = self._dedup.get(event.event_id)
        if seq is None:
            seq = self._store(subjects.event_subject(event), data or CODEC.encode(event))
            self._dedup.add(event.event_id, seq)
        return seq

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _operation_last_seq(self, operation_id: str) -> int:
        wanted = subjects.operation_filter(operation_id)
        for record in reversed(self._records):
            if subject_matches(wanted, record.subject):
                return record.seq
        return 0

    async def append(self, event: Event, *, expected_last_seq: int | None = None) -> int:
        validate_operation_id(event.operation_id)
        if expected_last_seq is not None and self._dedup.get(event.event_id) is None:
            # Checked after the dedup lookup, as the server does: a retried conditional
            # append that was stored returns its sequence instead of conflicting with itself.
            actual = self._operation_last_seq(event.operation_id)
            if actual != expected_last_seq:
                raise ConcurrencyConflict(
                    f"append {type(event).__name__} to operation {event.operation_id}: its "
                    f"history moved (last sequence {actual}, expected {expected_last_seq})",
                    expected=expected_last_seq,
                    actual=actual,
                )
        seq = self._append_now(event)
        await self._notify()
        return seq

    async def append_many(
        self, events: Sequence[Event], *, encoded: Sequence[bytes] | None = None
    ) -> list[int]:
        for event in events:  # all or nothing, like a rejected publish
            validate_operation_id(event.operation_id)
        payloads = _payloads(events, encoded)
        seqs = [self._append_now(event, data) for event, data in zip(events, payloads, strict=True)]
        await self._notify()
        return seqs

    async def inject_raw(self, subject: str, data: bytes) -> int:
        """Store arbitrary bytes on a subject, as a foreign writer could (tests)."""
        seq = self._store(subject, bytes(data))
        await self._notify()
        return seq

    async def last_sequence(self) -> int:
        return len(self._records)

    async def read_operation(self, operation_id: str) -> list[Record]:
        wanted = subjects.operation_filter(validate_operation_id(operation_id))
        return [r for r in self._records if subject_matches(wanted, r.subject)]

    async def read_latest(self, operation_id: str) -> list[Record]:
        wanted = subjects.operation_filter(validate_operation_id(operation_id))
        return last_of_each_subject(r for r in self._records if subject_matches(wanted, r.subject))

    async def read_all(self, from_seq: int = 1) -> AsyncIterator[Record]:
        end = len(self._records)
        for index in range(max(1, from_seq) - 1, end):
            yield self._records[index]

    async def read_all_batches(self, from_seq: int = 1) -> AsyncIterator[Iterable[Record]]:
        end = len(self._records)
        for start in range(max(1, from_seq) - 1, end, _BATCH):
            yield self._records[start : min(start + _BATCH, end)]

    async def subscribe(
        self, subject_filter: str | Sequence[str], from_seq: int = 1
    ) -> AsyncIterator[Record]:
        filters = [subject_filter] if isinstance(subject_filter, str) else list(subject_filter)
        index = max(1, from_seq) - 1
        while True:
            while index < len(self._records):
                record = self._records[index]
                index += 1
                if any(subject_matches(f, record.subject) for f in filters):
                    yield record
            async with self._changed:
                while index >= len(self._records):
                    await self._changed.wait()


@dataclass
class _Entry:
    seq: int
    command: StartCommand
    delivery_count: int = 0
    lease_until: float | None = None  # None: waiting to be claimed
    holder: object | None = None  # the current claim; older claims have lost the lease
    dead: bool = False  # completed: no claim can act on it any more


class MemoryClaim:
    """One delivery of a start command (see `CommandQueue`)."""

    def __init__(self, queue: MemoryCommandQueue, entry: _Entry) -> None:
        self.command = entry.command
        self.delivery_count = entry.delivery_count
        self._queue = queue
        self._entry = entry
        self._done = False

    def _holds_lease(self) -> bool:
        return not self._done and not self._entry.dead and self._entry.holder is self

    async def extend(self) -> None:
        if self._holds_lease():
            self._entry.lease_until = time.monotonic() + self._queue.lease_seconds

    async def complete(self) -> None:
        if not self._done:
            self._done = True
            self._queue._remove(self._entry)

    async def release(self) -> None:
        if self._holds_lease():
            self._entry.lease_until = None
            self._entry.holder = None
            await self._queue._notify()
        self._done = True


class MemoryCommandQueue:
    """The `CommandQueue` port: per-pool lists of commands with leases."""

    def __init__(
        self, lease_seconds: float = 15.0, duplicate_window: float = 120.0, max_deliver: int = -1
    ) -> None:
        self.lease_seconds = lease_seconds
        self.max_deliver = max_deliver
        self._pools: dict[str, list[_Entry]] = {}
        self._dedup = _Dedup(duplicate_window)
        self._seq = 0
        self._changed = asyncio.Condition()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _remove(self, entry: _Entry) -> None:
        entry.dead = True
        entries = self._pools.get(entry.command.pool, [])
        if entry in entries:
            entries.remove(entry)

    async def submit(self, command: StartCommand) -> None:
        validate_pool(command.pool)
        msg_id = f"start-{command.operation_id}"
        if self._dedup.get(msg_id) is not None:
            return
        self._seq += 1
        self._dedup.add(msg_id, self._seq)
        self._pools.setdefault(command.pool, []).append(_Entry(self._seq, command))
        await self._notify()

    def _take(self, pool: str) -> tuple[MemoryClaim | None, float | None]:
        """A claim on the first available entry, or when the next lease runs out."""
        now = time.monotonic()
        next_expiry: float | None = None
        for entry in self._pools.get(pool, []):
            if entry.lease_until is not None and entry.lease_until > now:
                next_expiry = min(next_expiry or entry.lease_until, entry.lease_until)
                continue
            if self.max_deliver > 0 and entry.delivery_count >= self.max_deliver:
                continue
            entry.delivery_count += 1
            entry.lease_until = now + self.lease_seconds
            claim = MemoryClaim(self, entry)
            entry.holder = claim
            return claim, None
        return None, next_expiry

    async def next_claim(self, pool: str, timeout: float) -> MemoryClaim | None:
        validate_pool(pool)
        deadline = time.monotonic() + timeout
        while True:
            claim, next_expiry = self._take(pool)
            if claim is not None:
                return claim
            wait = deadline - time.monotonic()
            if next_expiry is not None:
                wait = min(wait, next_expiry - time.monotonic())
            if deadline - time.monotonic() <= 0:
                return None
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), max(wait, 0.001))

    async def next_claims(self, pool: str, max_count: int, timeout: float) -> list[MemoryClaim]:
        first = await self.next_claim(pool, timeout)
        if first is None:
            return []
        claims = [first]
        while len(claims) < max_count:
            claim, _ = self._take(pool)
            if claim is None:
                break
            claims.append(claim)
        return claims

    async def pending(self, pool: str) -> int:
        validate_pool(pool)
        return sum(1 for e in self._pools.get(pool, []) if e.delivery_count == 0)


class MemoryRunnerRegistry:
    """The `RunnerRegistry` port: a dict with monotonic expiry times."""

    clock_tolerance: float = 2.0

    def __init__(self, ttl_seconds: float = 10.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._runners: dict[str, tuple[RunnerInfo, float]] = {}

    async def heartbeat(self, info: RunnerInfo) -> None:
        validate_runner_id(info.runner_id)
        self._runners[info.runner_id] = (stamp(info), time.monotonic() + self.ttl_seconds)

    async def remove(self, runner_id: str) -> None:
        self._runners.pop(validate_runner_id(runner_id), None)

    async def list(self) -> list[RunnerInfo]:
        now = time.monotonic()
        for runner_id in [k for k, (_, until) in self._runners.items() if until <= now]:
            del self._runners[runner_id]
        return sorted(
            (
                info
                for info, _ in self._runners.values()
                if not is_stale(info, self.ttl_seconds, self.clock_tolerance)
            ),
            key=lambda r: r.runner_id,
        )


def _payloads(events: Sequence[Event], encoded: Sequence[bytes] | None) -> Sequence[bytes | None]:
    if encoded is None:
        return [None] * len(events)
    if len(encoded) != len(events):
        raise ValueError(f"{len(encoded)} encoded payloads for {len(events)} events")
    return encoded
