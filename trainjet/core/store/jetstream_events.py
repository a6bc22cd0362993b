# size: every EventStore method on one stream, sharing its header and error rules
"""The `EventStore` port on a JetStream stream.

Writes carry `Nats-Msg-Id` = event id, so a retried append is stored once, and
`Nats-Expected-Stream`, so a misrouted subject fails loudly instead of landing in some other
stream. Reads use ordered push consumers: the server streams the records in order with flow
control and the client repairs gaps itself, which replays tens of thousands of events a second
where a pull loop manages a third of that. A payload that does not decode becomes a
`RejectedMessage` in the stream of records; it never stops a reader.

Conditional appends (`expected_last_seq`) carry `Nats-Expected-Last-Subject-Sequence` with
`Nats-Expected-Last-Subject-Sequence-Subject: trainjet.ops.<id>.>`, so the server itself refuses
a write decided on a history that has moved since (nats-server 2.11+). An older server ignores
the second header and would compare against the event type's own subject, so there the check
is made by reading the operation's last sequence first: correct against one writer at a time,
but not atomic (see `_check_unsupported`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from trainjet.core.errors import ConcurrencyConflict
from trainjet.core.events import CODEC, Event, MalformedEvent, subjects
from trainjet.core.store.jetstream import ack_position, server_at_least, translate_errors
from trainjet.core.store.jetstream_acks import AckCollector
from trainjet.core.store.jetstream_direct import read_direct, read_direct_last
from trainjet.core.store.memory import subject_matches
from trainjet.core.store.port import Record, RejectedMessage, StoredEvent, last_of_each_subject
from trainjet.core.store.settings import StoreSettings, validate_operation_id

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
EXPECTED_STREAM = "Nats-Expected-Stream"
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
EXPECTED_LAST_SUBJECT_SEQ_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
# JSStreamWrongLastSequenceErrF: the expected last (subject) sequence did not match.
_WRONG_LAST_SEQUENCE = 10071
# Decoded-but-unread records a reader buffers before it pauses the consumer's callback.
_HIGH_WATER = 20_000
# Server heartbeat of a reader's consumer. Two missed ones make nats-py recreate the consumer
# where it left off, so this bounds how long a tail stays silent after a server restart
# (about 4x this; nats-py's default of 5 s meant 20 s).
INACTIVE_SECONDS = 5.0  # an ephemeral reader consumer outlives its reader by this much
_HEARTBEAT = 1.0


class JetStreamEventStore:
    """Append-only operation log on the events stream of `settings`."""

    def __init__(self, nc: Client, settings: StoreSettings | None = None) -> None:
        self.settings = settings or StoreSettings()
        self.stream = self.settings.events_stream_name
        self._nc = nc
        self._js = nc.jetstream(timeout=self.settings.request_timeout)
        self._warned_unatomic = False
        self._direct_reads = True  # until the stream turns out not to allow them
        self._acks = AckCollector(nc)

    @property
    def atomic_preconditions(self) -> bool:
        """Whether the server checks `expected_last_seq` itself (nats-server 2.11+)."""
        return server_at_least(self._nc, 2, 11)

    @property
    def multi_filter_consumers(self) -> bool:
        """Whether one consumer can follow several subject filters (nats-server 2.10+)."""
        return server_at_least(self._nc, 2, 10)

    # -- writing -----------------------------------------------------------------------

    def _headers(self, event_id: str) -> dict[str, str]:
        return {MSG_ID: event_id, EXPECTED_STREAM: self.stream}

    def _subject(self, event: Event) -> str:
        validate_operation_id(event.operation_id)
        return self.settings.wire(subjects.event_subject(event))

    async def append(self, event: Event, *, expected_last_seq: int | None = None) -> int:
        subject = self._subject(event)
        headers = self._headers(event.event_id)
        action = f"append {type(event).__name__} to {self.stream}"
        if expected_last_seq is not None:
            if self.atomic_preconditions:
                headers[EXPECTED_LAST_SUBJECT_SEQ] = str(expected_last_seq)
                headers[EXPECTED_LAST_SUBJECT_SEQ_SUBJECT] = self.settings.wire(
                    subjects.operation_filter(event.operation_id)
                )
            else:
                stored = await self._check_unsupported(event, expected_last_seq)
                if stored is not None:
                    return stored
        with translate_errors(action):
            try:
                ack = await self._js.publish(subject, CODEC.encode(event), headers=headers)
            except nats.js.errors.APIError as exc:
                if exc.err_code != _WRONG_LAST_SEQUENCE:
                    raise
                refused = exc
            else:
                return ack.seq
        return await self._conflict_or_duplicate(event, expected_last_seq or 0, refused)

    async def _conflict_or_duplicate(
        self, event: Event, expected: int, refused: nats.js.errors.APIError
    ) -> int:
        """The server checks the precondition before its duplicate window, so a retried
        conditional append whose first try was stored (the ack was lost) is refused too: find
        it in the history and answer its sequence, as an unconditional retry would."""
        records = await self.read_operation(event.operation_id)
        for record in reversed(records):
            if isinstance(record, StoredEvent) and record.event.event_id == event.event_id:
                return record.seq
        raise ConcurrencyConflict(
            f"append {type(event).__name__} to operation {event.operation_id}: its history "
            f"moved past sequence {expected} ({refused.description})",
            expected=expected,
            actual=records[-1].seq if records else 0,
        )

    async def _check_unsupported(self, event: Event, expected_last_seq: int) -> int | None:
        """The precondition on a server too old to check it: read, compare, then publish.
        A writer racing inside that window can still slip through; the projections' first
        terminal wins rule keeps the state right, but the log may hold both events."""
        if not self._warned_unatomic:
            self._warned_unatomic = True
            log.warning(
                "nats-server %s cannot check an append against an operation's last sequence "
                "(2.11+ can); checking by reading first, which is not atomic",
                self._nc.connected_server_version,
            )
        records = await self.read_operation(event.operation_id)
        for record in reversed(records):
            if isinstance(record, StoredEvent) and record.event.event_id == event.event_id:
                return record.seq  # a retry of a stored append
        actual = records[-1].seq if records else 0
        if actual != expected_last_seq:
            raise ConcurrencyConflict(
                f"append {type(event).__name__} to operation {event.operation_id}: its history "
                f"moved (last sequence {actual}, expected {expected_last_seq})",
                expected=expected_last_seq,
                actual=actual,
            )
        return None

    async def append_many(
        self, events: Sequence[Event], *, encoded: Sequence[bytes] | None = None
    ) -> list[int]:
        """Pipelined: publish everything, then wait once for all the acks (about 5x
        one-at-a-time).

        Every event still needs its own acknowledgement before it counts as stored; they are
        collected by one reply subscription into one future per call (`AckBurst`), so a burst
        of n events wakes this task once, not through n futures and a gather. No per-message
        stall timeout on purpose: it would make every publish yield to the event loop and the
        client would then write one message per socket send. One deadline, sized to the batch,
        covers the whole call instead.
        """
        if not events:
            return []
        wire = [self._subject(event) for event in events]  # refuse a bad batch before sending
        if encoded is not None and len(encoded) != len(events):
            raise ValueError(f"{len(encoded)} encoded payloads for {len(events)} events")
        payloads = encoded if encoded is not None else [CODEC.encode(e) for e in events]
        deadline = self.settings.request_timeout + len(events) / 5_000
        with translate_errors(f"append {len(events)} events to {self.stream}"):
            acks = await self._acks.start(len(events))
            try:
                async with asyncio.timeout(deadline):
                    prefix = acks.reply_prefix
                    publish = self._nc.publish
                    for index, (subject, event, data) in enumerate(
                        zip(wire, events, payloads, strict=True)
                    ):
                        await publish(
                            subject,
                            data,
                            reply=f"{prefix}{index}",
                            headers=self._headers(event.event_id),
                        )
                    return await acks.done
            finally:
                self._acks.finish(acks)

    async def inject_raw(self, subject: str, data: bytes) -> int:
        """Publish arbitrary bytes on an event subject (tests and tools: foreign writers)."""
        with translate_errors(f"publish raw message to {self.stream}"):
            ack = await self._js.publish(self.settings.wire(subject), data, stream=self.stream)
        return ack.seq

    # -- reading -----------------------------------------------------------------------

    async def last_sequence(self) -> int:
        with translate_errors(f"stream info {self.stream}"):
            info = await self._js.stream_info(self.stream)
        return int(info.state.last_seq)

    async def read_operation(self, operation_id: str) -> list[Record]:
        validate_operation_id(operation_id)
        wire = self.settings.wire(subjects.operation_filter(operation_id))
        if self._direct_reads and server_at_least(self._nc, 2, 11):
            # Batched direct gets: no consumer per read (see jetstream_direct).
            end = await self.last_sequence()
            with translate_errors(f"read {wire} from {self.stream}"):
                try:
                    found = await read_direct(
                        self._nc, self.stream, wire, end, timeout=self.settings.request_timeout
                    )
                except nats.errors.NoRespondersError:
                    found = None  # a stream made without allow_direct: read with a consumer
            if found is not None:
                return [self._decode(seq, subject, data) for seq, subject, data in found]
            log.info("%s does not allow direct gets; reading with a consumer", self.stream)
            self._direct_reads = False
        return [record async for record in self._records(wire, 1, stop_at_end=True)]

    async def read_latest(self, operation_id: str) -> list[Record]:
        validate_operation_id(operation_id)
        wire = self.settings.wire(subjects.operation_filter(operation_id))
        if self._direct_reads and server_at_least(self._nc, 2, 11):
            with translate_errors(f"read the latest of {wire} from {self.stream}"):
                try:
                    found = await read_direct_last(
                        self._nc, self.stream, wire, timeout=self.settings.request_timeout
                    )
                except nats.errors.NoRespondersError:
                    found = None  # no direct gets: read_operation below finds out and says so
            if found is not None:
                return [self._decode(seq, subject, data) for seq, subject, data in found]
        return last_of_each_subject(await self.read_operation(operation_id))

    def read_all(self, from_seq: int = 1) -> AsyncIterator[Record]:
        return self._records(self.settings.events_subjects[0], from_seq, stop_at_end=True)

    def read_all_batches(self, from_seq: int = 1) -> AsyncIterator[Iterable[Record]]:
        return self._batches(self.settings.events_subjects[0], from_seq, stop_at_end=True)

    def subscribe(
        self, subject_filter: str | Sequence[str], from_seq: int = 1
    ) -> AsyncIterator[Record]:
        if isinstance(subject_filter, str):
            return self._records(self.settings.wire(subject_filter), from_seq, stop_at_end=False)
        filters = list(subject_filter)
        if len(filters) == 1:
            return self._records(self.settings.wire(filters[0]), from_seq, stop_at_end=False)
        if self.multi_filter_consumers:
            wire = [self.settings.wire(f) for f in filters]
            return self._records(wire, from_seq, stop_at_end=False)
        return self._filtered(filters, from_seq)

    async def _filtered(self, filters: list[str], from_seq: int) -> AsyncIterator[Record]:
        """Several filters on a server without multi-filter consumers (before 2.10): one
        consumer on every event, filtered here. Costs bandwidth, never a consumer each."""
        async for record in self._records(
            self.settings.events_subjects[0], from_seq, stop_at_end=False
        ):
            if any(subject_matches(f, record.subject) for f in filters):
                yield record

    def _decode(self, seq: int, subject: str, data: bytes) -> Record:
        """A message as a record (positional arguments: this runs per record)."""
        subject = self.settings.canonical(subject)
        try:
            return StoredEvent(seq, subject, CODEC.decode(data))
        except MalformedEvent as exc:
            return RejectedMessage(seq, subject, bytes(data), str(exc))

    async def _records(
        self, wire_filter: str | list[str], from_seq: int, *, stop_at_end: bool
    ) -> AsyncIterator[Record]:
        """`_batches`, one record at a time."""
        batches = self._batches(wire_filter, from_seq, stop_at_end=stop_at_end)
        try:
            async for batch in batches:
                for record in batch:
                    yield record
        finally:
            await batches.aclose()  # now, not when collected: it holds a consumer

    async def _batches(
        self, wire_filter: str | list[str], from_seq: int, *, stop_at_end: bool
    ) -> AsyncGenerator[Iterable[Record], None]:
        """Records on `wire_filter` from `from_seq`, in batches of what arrived since the last
        step (one step per batch, not per record: a replay's reader wakes a few times per
        thousand records); with `stop_at_end`, only those stored before the call (the
        sequence of the last one is read from the stream first).

        A batch decodes each record as it is iterated, so only one decoded event at a time
        need be alive: decoding a whole batch up front costs more than the step it saves
        (hundreds of fresh objects per batch: cold memory and young-generation collections).
        """
        from_seq = max(1, from_seq)
        end = 0
        if stop_at_end:
            end = await self.last_sequence()
            if end < from_seq:
                return
        # the messages themselves: the reader parses each one's position as it takes it
        buffer: collections.deque[Msg] = collections.deque()
        arrived = asyncio.Event()
        drained = asyncio.Event()
        drained.set()

        async def on_msg(msg: Msg) -> None:
            buffer.append(msg)
            arrived.set()
            if len(buffer) >= _HIGH_WATER:
                # Backpressure: stop draining the subscription until the reader catches up.
                drained.clear()
                await drained.wait()

        policy = api.DeliverPolicy.ALL if from_seq == 1 else api.DeliverPolicy.BY_START_SEQUENCE
        config = api.ConsumerConfig(
            deliver_policy=policy,
            opt_start_seq=None if from_seq == 1 else from_seq,
            # Without interest the server keeps an ephemeral consumer this long: every replay
            # would hold one for that long, and a stream refuses its 1,001st. Short, rather
            # than deleted at the end: deleting consumers of the log is not a right the API,
            # runner or viewer roles have (docs/security.md).
            inactive_threshold=INACTIVE_SECONDS,
        )
        if isinstance(wire_filter, list):
            config.filter_subjects = wire_filter
            subscribe_subject = ""
        else:
            subscribe_subject = wire_filter
        with translate_errors(f"read {wire_filter} from {self.stream}"):
            sub = await self._js.subscribe(
                subscribe_subject,
                stream=self.stream,
                cb=on_msg,
                ordered_consumer=True,
                config=config,
                idle_heartbeat=_HEARTBEAT,
            )
        try:
            if stop_at_end:
                with translate_errors(f"consumer info on {self.stream}"):
                    info = await sub.consumer_info()
                sent = info.delivered.consumer_seq if info.delivered else 0
                if not buffer and info.num_pending == 0 and sent == 0:
                    return  # nothing matches the filter in [from_seq, end]
            last = from_seq - 1
            # A replay waits this long for the next record before calling the store stalled
            # (long enough to ride out a server restart); a live tail waits for ever.
            stall = self.settings.request_timeout + 4 * _HEARTBEAT if stop_at_end else None
            decode, popleft = self._decode, buffer.popleft
            while True:
                if not buffer:
                    drained.set()
                    arrived.clear()
                    with translate_errors(f"replay {wire_filter} from {self.stream} stalled"):
                        await asyncio.wait_for(arrived.wait(), stall)
                    continue
                batch: list[tuple[int, str, bytes]] = []
                done = False
                while buffer:
                    msg = popleft()
                    seq, pending = ack_position(msg.reply)
                    if seq <= last:
                        continue  # re-sent after an ordered-consumer reset
                    last = seq
                    if stop_at_end and seq > end:
                        done = True  # stored after the call
                        break
                    batch.append((seq, msg.subject, msg.data))
                    if stop_at_end and (seq == end or pending == 0):
                        done = True
                        break
                if batch:
                    yield itertools.starmap(decode, batch)
                if done:
                    return
        finally:
            drained.set()
            if not self._nc.is_closed:
                # Closing or draining: nothing left to release.
                with contextlib.suppress(nats.errors.Error, OSError):
                    await sub.unsubscribe()
