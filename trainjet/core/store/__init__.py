"""The event store: ports, the in-memory adapters and the JetStream adapters.

Importing this package does not import `nats`; the JetStream names load on first use, so code
that only needs the ports or the memory adapters (projections' tests, the CLI's help) stays
light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainjet.core.errors import (
    ConcurrencyConflict,
    InvalidName,
    LayoutMissing,
    StoreError,
    StoreTimeout,
    StoreUnavailable,
    StreamConfigConflict,
)
from trainjet.core.store.blobs import Blob, BlobStore, MemoryBlobStore
from trainjet.core.store.memory import MemoryCommandQueue, MemoryEventStore, MemoryRunnerRegistry
from trainjet.core.store.port import (
    Claim,
    CommandQueue,
    EventStore,
    Record,
    RejectedMessage,
    RunnerInfo,
    RunnerRegistry,
    StartCommand,
    StoredEvent,
)
from trainjet.core.store.settings import StoreSettings

if TYPE_CHECKING:
    from trainjet.core.store.jetstream import ensure_streams
    from trainjet.core.store.jetstream_blobs import JetStreamBlobStore
    from trainjet.core.store.jetstream_commands import JetStreamClaim, JetStreamCommandQueue
    from trainjet.core.store.jetstream_events import JetStreamEventStore
    from trainjet.core.store.jetstream_registry import JetStreamRunnerRegistry
    from trainjet.core.store.jetstream_setup import provision, require_layout

_LAZY = {
    "ensure_streams": "trainjet.core.store.jetstream",
    "JetStreamBlobStore": "trainjet.core.store.jetstream_blobs",
    "JetStreamClaim": "trainjet.core.store.jetstream_commands",
    "JetStreamCommandQueue": "trainjet.core.store.jetstream_commands",
    "JetStreamEventStore": "trainjet.core.store.jetstream_events",
    "JetStreamRunnerRegistry": "trainjet.core.store.jetstream_registry",
    "provision": "trainjet.core.store.jetstream_setup",
    "require_layout": "trainjet.core.store.jetstream_setup",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Blob",
    "BlobStore",
    "Claim",
    "CommandQueue",
    "ConcurrencyConflict",
    "EventStore",
    "InvalidName",
    "JetStreamBlobStore",
    "JetStreamClaim",
    "JetStreamCommandQueue",
    "JetStreamEventStore",
    "JetStreamRunnerRegistry",
    "LayoutMissing",
    "MemoryBlobStore",
    "MemoryCommandQueue",
    "MemoryEventStore",
    "MemoryRunnerRegistry",
    "Record",
    "RejectedMessage",
    "RunnerInfo",
    "RunnerRegistry",
    "StartCommand",
    "StoreError",
    "StoreSettings",
    "StoreTimeout",
    "StoreUnavailable",
    "StoredEvent",
    "StreamConfigConflict",
    "ensure_streams",
    "provision",
    "require_layout",
]
