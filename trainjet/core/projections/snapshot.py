"""Snapshots of a read model, so a restart folds only the tail of the log, not all of it.

A snapshot is the folded state plus the stream sequence it covers. Start-up loads the newest
valid one and folds the events after it; without one it folds everything, as before. The log
stays the only source of truth: a snapshot is a cache of a fold, and any doubt about it
(another code or schema version, a bad checksum, a sequence the stream has not reached)
discards it, with a log line, in favour of the full fold.

Wire form: a msgpack envelope (format, fingerprint, covered sequence, time, sha256) around
the msgpack body. The fingerprint is a hash of the state type's JSON schema, so a snapshot
written by code whose read models have other fields is never decoded into the new ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from functools import cache
from typing import TypeVar

import msgspec

from trainjet.core.errors import StoreError
from trainjet.core.gc_pause import no_cycle_collection
from trainjet.core.store.blobs import BlobStore

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
S = TypeVar("S", bound=msgspec.Struct)


class SnapshotEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    fingerprint: str
    last_seq: int
    created_at: datetime
    sha256: str
    body: bytes


class SnapshotRejected(Exception):
    """Why a stored snapshot cannot be used (the full fold runs instead)."""


@cache
def fingerprint(state_type: type[msgspec.Struct]) -> str:
    """Changes whenever the state's shape (or the snapshot format) changes."""
    schema = msgspec.json.encode(msgspec.json.schema(state_type), order="sorted")
    return hashlib.sha256(b"%d:" % SNAPSHOT_FORMAT + schema).hexdigest()[:32]


def encode_snapshot(state: msgspec.Struct, last_seq: int, *, now: datetime | None = None) -> bytes:
    body = msgspec.msgpack.encode(state)
    envelope = SnapshotEnvelope(
        format=SNAPSHOT_FORMAT,
        fingerprint=fingerprint(type(state)),
        last_seq=last_seq,
        created_at=now or datetime.now(UTC),
        sha256=hashlib.sha256(body).hexdigest(),
        body=body,
    )
    return msgspec.msgpack.encode(envelope)


def decode_snapshot(data: bytes, state_type: type[S]) -> tuple[SnapshotEnvelope, S]:
    """The envelope and the state, or `SnapshotRejected` saying why they cannot be trusted."""
    try:
        envelope = msgspec.msgpack.decode(data, type=SnapshotEnvelope)
    except msgspec.DecodeError as exc:
        raise SnapshotRejected(f"unreadable envelope ({exc})") from exc
    if envelope.format != SNAPSHOT_FORMAT or envelope.fingerprint != fingerprint(state_type):
        raise SnapshotRejected(
            f"written by another version (format {envelope.format}, "
            f"fingerprint {envelope.fingerprint}; this code: {SNAPSHOT_FORMAT}, "
            f"{fingerprint(state_type)})"
        )
    if hashlib.sha256(envelope.body).hexdigest() != envelope.sha256:
        raise SnapshotRejected("checksum mismatch (corrupt body)")
    try:
        with no_cycle_collection():  # a decode makes no cycles
            state = msgspec.msgpack.decode(envelope.body, type=state_type)
    except msgspec.DecodeError as exc:  # a matching checksum over a body of another shape
        raise SnapshotRejected(f"undecodable body ({exc})") from exc
    return envelope, state


class SnapshotStore:
    """One named snapshot in a blob store bucket; the newest put replaces the previous one."""

    def __init__(self, blobs: BlobStore, key: str = "operations-view") -> None:
        self.blobs = blobs
        self.key = key

    async def save(self, state: msgspec.Struct, last_seq: int) -> int:
        """Store the snapshot; return its size in bytes. `state` must not change meanwhile:
        encoding a large view takes a while, so it runs off the event loop."""
        data = await asyncio.to_thread(encode_snapshot, state, last_seq)
        await self.blobs.put(self.key, data, {"last_seq": str(last_seq)})
        return len(data)

    async def load(self, state_type: type[S], *, stream_last_seq: int) -> S | None:
        """The stored state if it can be trusted against a stream at `stream_last_seq`."""
        try:
            blob = await self.blobs.get(self.key)
        except StoreError as exc:  # unreadable (permissions, outage): the log still is
            log.warning(
                "cannot read snapshot %s/%s (%s): folding the whole log",
                self.blobs.bucket,
                self.key,
                exc,
            )
            return None
        if blob is None:
            log.info("no snapshot in %s: folding the whole log", self.blobs.bucket)
            return None
        try:
            envelope, state = decode_snapshot(blob.data, state_type)
            if envelope.last_seq > stream_last_seq:
                # the stream was recreated, or the snapshot belongs to another store
                raise SnapshotRejected(
                    f"covers seq {envelope.last_seq}, beyond the stream's last {stream_last_seq}"
                )
        except SnapshotRejected as exc:
            log.warning("ignoring snapshot %s/%s: %s", self.blobs.bucket, self.key, exc)
            return None
        log.info(
            "loaded snapshot %s/%s at seq %s (written %s); folding the tail to %s",
            self.blobs.bucket,
            self.key,
            envelope.last_seq,
            envelope.created_at.isoformat(),
            stream_last_seq,
        )
        return state
