"""The `EventStore` port on a JetStream stream.

Writes carry `Nats-Msg-Id` = event id, so a retried append is stored once, and
`Nats-Expected-Stream`, so a misrouted subject fails loudly instead of landing in some other
stream. Reads use ordered push consumers: the server streams the records in order with flow
control and the client repairs gaps itself, which replays tens of thousands of events a second
where a pull loop manages a third of that. A payload that does not decode becomes a
`RejectedMessage` in the stream of records; it never stops a reader.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Sequence

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from trainjet.core.events import CODEC, Event, MalformedEvent, subjects
from trainjet.core.store.jetstream import ack_position, translate_errors
from trainjet.core.store.port import Record, RejectedMessage, StoredEvent
from trainjet.core.store.settings import StoreSettings, validate_operation_id

MSG_ID = "Nats-Msg-Id"
EXPECTED_STREAM = "Nats-Expected-Stream"
# Decoded-but-unread records a reader buffers before it pauses the consumer's callback.
_HIGH_WATER = 20_000
# Server heartbeat of a reader's consumer. Two missed ones make nats-py recreate the consumer
# where it left off, so this bounds how long a tail stays silent after a server restart
# (about 4x this; nats-py's default of 5 s meant 20 s).
_HEARTBEAT = 1.0


class JetStreamEventStore:
    """Append-only operation log on the events stream of `settings`."""

    def __init__(self, nc: Client, settings: StoreSettings | None = None) -> None:
        self.settings = settings or StoreSettings()
        self.stream = self.settings.events_stream_name
        self._nc = nc
        self._js = nc.jetstream(timeout=self.settings.request_timeout)

    # -- writing -----------------------------------------------------------------------

    def _headers(self, event_id: str) -> dict[str, str]:
        return {MSG_ID: event_id, EXPECTED_STREAM: self.stream}

    def _subject(self, event: Event) -> str:
        validate_operation_id(event.operation_id)
        return self.settings.wire(subjects.event_subject(event))

    async def append(self, event: Event) -> int:
        subject = self._subject(event)
        with translate_errors(f"append {type(event).__name__} to {self.stream}"):
            ack = await self._js.publish(
                subject, CODEC.encode(event), headers=self._headers(event.event_id)
            )
        return ack.seq

    async def append_many(self, events: Sequence[Event]) -> list[int]:
        """Pipelined: publish everything, then collect the acks (about 5x one-at-a-time).

        No per-message stall timeout on purpose: it would make every publish yield to the event
        loop and the client would then write one message per socket send. One deadline, sized
        to the batch, covers the whole call instead.
        """
        if not events:
            return []
        wire = [self._subject(event) for event in events]  # refuse a bad batch before sending
        futures: list[asyncio.Future[api.PubAck]] = []
        deadline = self.settings.request_timeout + len(events) / 5_000
        with translate_errors(f"append {len(events)} events to {self.stream}"):
            try:
                async with asyncio.timeout(deadline):
                    for subject, event in zip(wire, events, strict=True):
                        futures.append(
                            await self._js.publish_async(
                                subject,
                                CODEC.encode(event),
                                headers=self._headers(event.event_id),
                            )
                        )
                    acks = await asyncio.gather(*futures)
            finally:
                for future in futures:
                    future.cancel()  # no-op when done; frees the publish slot otherwise
        return [ack.seq for ack in acks]

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
        return [record async for record in self._records(wire, 1, stop_at_end=True)]

    def read_all(self, from_seq: int = 1) -> AsyncIterator[Record]:
        return self._records(self.settings.events_subjects[0], from_seq, stop_at_end=True)

    def subscribe(self, subject_filter: str, from_seq: int = 1) -> AsyncIterator[Record]:
        return self._records(self.settings.wire(subject_filter), from_seq, stop_at_end=False)

    def _decode(self, seq: int, subject: str, data: bytes) -> Record:
        subject = self.settings.canonical(subject)
        try:
            return StoredEvent(seq=seq, subject=subject, event=CODEC.decode(data))
        except MalformedEvent as exc:
            return RejectedMessage(seq=seq, subject=subject, data=bytes(data), error=str(exc))

    async def _records(
        self, wire_filter: str, from_seq: int, *, stop_at_end: bool
    ) -> AsyncIterator[Record]:
        """Records on `wire_filter` from `from_seq`; with `stop_at_end`, only those stored
        before the call (the sequence of the last one is read from the stream first)."""
        from_seq = max(1, from_seq)
        end = 0
        if stop_at_end:
            end = await self.last_sequence()
            if end < from_seq:
                return
        buffer: collections.deque[tuple[int, int, str, bytes]] = collections.deque()
        arrived = asyncio.Event()
        drained = asyncio.Event()
        drained.set()

        async def on_msg(msg: Msg) -> None:
            seq, pending = ack_position(msg.reply)
            buffer.append((seq, pending, msg.subject, msg.data))
            arrived.set()
            if len(buffer) >= _HIGH_WATER:
                # Backpressure: stop draining the subscription until the reader catches up.
                drained.clear()
                await drained.wait()

        policy = api.DeliverPolicy.ALL if from_seq == 1 else api.DeliverPolicy.BY_START_SEQUENCE
        config = api.ConsumerConfig(
            deliver_policy=policy,
            opt_start_seq=None if from_seq == 1 else from_seq,
            inactive_threshold=30.0,
        )
        with translate_errors(f"read {wire_filter} from {self.stream}"):
            sub = await self._js.subscribe(
                wire_filter,
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
            while True:
                if not buffer:
                    drained.set()
                    arrived.clear()
                    with translate_errors(f"replay {wire_filter} from {self.stream} stalled"):
                        await asyncio.wait_for(arrived.wait(), stall)
                    continue
                seq, pending, subject, data = buffer.popleft()
                if seq <= last:
                    continue  # re-sent after an ordered-consumer reset
                last = seq
                if stop_at_end and seq > end:
                    return  # stored after the call
                yield self._decode(seq, subject, data)
                if stop_at_end and (seq == end or pending == 0):
                    return
        finally:
            drained.set()
            if not self._nc.is_closed:
                # Closing or draining: nothing left to release.
                with contextlib.suppress(nats.errors.Error, OSError):
                    await sub.unsubscribe()
