"""How the JetStream adapters lay out their streams, consumers and bucket.

Every value is explicit so `ensure_streams` can create exactly this configuration and detect an
existing stream that differs. `namespace` exists so several independent trainjet stores (the
tests, two demos on one server) can share a server: it suffixes the stream and bucket names
and prefixes every subject on the wire. With the default empty namespace the wire subjects are
exactly those of `trainjet.core.events.subjects` (`trainjet.ops.<id>.<type>`), and readers
always see those canonical subjects whatever the namespace.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

import msgspec

from trainjet.core.errors import InvalidName
from trainjet.core.events import subjects
from trainjet.core.store.port import RunnerInfo

_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_RUNNER_ID = re.compile(r"^[-/_=.a-zA-Z0-9]{1,256}$")  # what a KV key allows


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Names and limits of the JetStream layout. Defaults are the production layout."""

    events_stream: str = "TRAINJET_OPS"
    commands_stream: str = "TRAINJET_CMDS"
    runners_bucket: str = "trainjet_runners"
    # Object store buckets: the latest checkpoint of each running training (so another runner
    # can resume it) and the files of models trained by runners on other machines.
    checkpoints_bucket: str = "trainjet_checkpoints"
    models_bucket: str = "trainjet_models"
    # The API's projection snapshots, so a restart folds only the tail of the log.
    snapshots_bucket: str = "trainjet_snapshots"
    # A checkpoint outlives its operation only when nobody ended it cleanly; expire those.
    checkpoint_max_age: float = 7 * 24 * 3600.0
    namespace: str = ""
    storage: Literal["file", "memory"] = "file"
    replicas: int = 1
    duplicate_window: float = 120.0
    max_age: float = 0.0  # seconds; 0 keeps events for ever
    lease_seconds: float = 15.0
    runner_ttl_seconds: float = 10.0
    max_deliver: int = -1  # -1: redeliver a start command until some runner completes it
    max_ack_pending: int = 10_000
    request_timeout: float = 5.0
    # The pools whose durable consumers the setup creates (runners never create them).
    pools: tuple[str, ...] = ("local", "host")

    def __post_init__(self) -> None:
        if not _NAMESPACE.match(self.namespace):
            raise InvalidName(
                f"namespace {self.namespace!r} must be letters, digits, '_' or '-' (max 64)"
            )
        names = (
            self.events_stream_name,
            self.commands_stream_name,
            self.bucket_name,
            self.checkpoints_bucket_name,
            self.models_bucket_name,
            self.snapshots_bucket_name,
        )
        for name in names:
            if not _STREAM_NAME.match(name):
                raise InvalidName(f"stream/bucket name {name!r}: use letters, digits, '_', '-'")
        if self.replicas < 1 or self.replicas > 5:
            raise ValueError(f"replicas must be 1..5, got {self.replicas}")
        if self.lease_seconds <= 0 or self.runner_ttl_seconds <= 0:
            raise ValueError("lease_seconds and runner_ttl_seconds must be positive")
        if self.duplicate_window < 0 or self.max_age < 0 or self.checkpoint_max_age < 0:
            raise ValueError(
                "duplicate_window, max_age and checkpoint_max_age must not be negative"
            )
        if self.max_age and self.duplicate_window > self.max_age:
            raise ValueError("duplicate_window cannot exceed max_age")

    # -- names -------------------------------------------------------------------------

    def _suffixed(self, name: str) -> str:
        return f"{name}_{self.namespace}" if self.namespace else name

    @property
    def events_stream_name(self) -> str:
        return self._suffixed(self.events_stream)

    @property
    def commands_stream_name(self) -> str:
        return self._suffixed(self.commands_stream)

    @property
    def bucket_name(self) -> str:
        return self._suffixed(self.runners_bucket)

    @property
    def checkpoints_bucket_name(self) -> str:
        return self._suffixed(self.checkpoints_bucket)

    @property
    def models_bucket_name(self) -> str:
        return self._suffixed(self.models_bucket)

    @property
    def snapshots_bucket_name(self) -> str:
        return self._suffixed(self.snapshots_bucket)

    def consumer_name(self, pool: str) -> str:
        """The durable pull consumer a pool's runners share."""
        return f"runners-{pool}"

    # -- subjects ----------------------------------------------------------------------

    def wire(self, subject: str) -> str:
        """The subject as published/filtered on the server (namespace applied)."""
        return f"{self.namespace}.{subject}" if self.namespace else subject

    def canonical(self, wire_subject: str) -> str:
        """The subject as trainjet code sees it (namespace removed)."""
        if self.namespace and wire_subject.startswith(self.namespace + "."):
            return wire_subject[len(self.namespace) + 1 :]
        return wire_subject

    @property
    def events_subjects(self) -> list[str]:
        return [self.wire(f"{subjects.EVENTS_PREFIX}.>")]

    @property
    def commands_subjects(self) -> list[str]:
        return [self.wire(f"{subjects.COMMANDS_PREFIX}.>")]


# -- rules both adapters follow (kept here so the memory adapter needs no nats) ----------------


def validate_operation_id(operation_id: str) -> str:
    """An operation id becomes one subject token; a dot or wildcard would leak into others'."""
    if not subjects.is_valid_operation_id(operation_id):
        raise InvalidName(f"operation id {operation_id!r}: use 1-128 letters, digits, '_' or '-'")
    return operation_id


def validate_pool(pool: str) -> str:
    """A pool name becomes a subject token and part of a consumer name."""
    if not subjects.POOL_PATTERN.match(pool):
        raise InvalidName(f"pool {pool!r}: use 1-32 lowercase letters, digits, '_' or '-'")
    return pool


def validate_runner_id(runner_id: str) -> str:
    """A runner id becomes a KV key."""
    if not _RUNNER_ID.match(runner_id) or runner_id.startswith(".") or runner_id.endswith("."):
        raise InvalidName(f"runner id {runner_id!r}: use letters, digits and - _ = / .")
    return runner_id


def stamp(info: RunnerInfo) -> RunnerInfo:
    """A copy with `last_seen` = now: the registry, not each runner, dates a heartbeat."""
    return msgspec.structs.replace(info, last_seen=datetime.now(UTC).isoformat())


def is_stale(info: RunnerInfo, ttl_seconds: float, tolerance: float) -> bool:
    """`last_seen` older than the TTL (plus `tolerance` for clock skew): treat as gone even if
    the backend has not expired the entry yet."""
    if not info.last_seen:
        return False
    try:
        seen = datetime.fromisoformat(info.last_seen)
    except ValueError:
        return False
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    return (datetime.now(UTC) - seen).total_seconds() > ttl_seconds + tolerance


# What every "this part of the layout is missing" message ends with.
SETUP_HINT = "run `trainjet setup` with admin credentials"
