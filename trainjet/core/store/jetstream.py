# size: the declared stream, bucket and consumer layout, one block per resource
"""JetStream layout and boundary: `ensure_streams`, and the translation of nats errors.

The layout is declared, not discovered: `ensure_streams` creates the events stream, the
work-queue commands stream, the runners bucket and the pools' consumers with an explicit
configuration, and checks an existing one against it. Only `trainjet setup` (admin
credentials) and an embedded `trainjet serve` call it; other processes only check
(`jetstream_setup.require_layout`). Settings the server can change in place (limits, duplicate window,
replicas) are brought to the declared values; settings it cannot (retention, storage,
subjects) raise `StreamConfigConflict` naming the difference, because silently using a stream
configured for something else loses data.

The adapters themselves live in `jetstream_events`, `jetstream_commands` and
`jetstream_registry`; this module holds what they share.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext, api

from trainjet.core.errors import (
    InvalidName,
    StoreError,
    StoreTimeout,
    StoreUnavailable,
    StreamConfigConflict,
)
from trainjet.core.events import subjects
from trainjet.core.store.settings import SETUP_HINT, StoreSettings, validate_pool

# JetStream API error codes (nats-server/server/errors.json) that mean "configured otherwise".
_CONFLICT_CODES = {
    10058,  # stream name already in use with a different configuration
    10065,  # subjects overlap with an existing stream
    10060,  # expected stream does not match
    10148,  # consumer already exists with a different configuration
    10013,  # consumer name already in use
    10100,  # filtered consumer not unique on workqueue stream
    10099,  # multiple non-filtered consumers not allowed on workqueue stream
}
# Properties of a stream the server refuses to change in place.
_IMMUTABLE = ("retention", "storage", "subjects")
_MUTABLE = ("num_replicas", "duplicate_window", "max_age")
# Switches the server lets a stream turn on but never off again: once set, not even an admin
# can delete or purge messages of the stream.
_ONE_WAY = ("deny_delete", "deny_purge")


@contextlib.contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Turn nats-py exceptions raised inside the block into `trainjet.core.errors`."""
    try:
        yield
    except StoreError:
        raise
    except nats.js.errors.NoStreamResponseError as exc:
        raise StoreUnavailable(
            f"{action}: no JetStream stream answered; is JetStream enabled on the server and "
            f"were the streams created? ({SETUP_HINT})"
        ) from exc
    except nats.js.errors.ServiceUnavailableError as exc:
        raise StoreUnavailable(f"{action}: JetStream is not available on the server") from exc
    except nats.js.errors.APIError as exc:
        raise _api_error(action, exc) from exc
    except (TimeoutError, nats.errors.TimeoutError) as exc:
        raise StoreTimeout(f"{action}: NATS did not answer in time") from exc
    except (
        nats.errors.ConnectionClosedError,
        nats.errors.ConnectionDrainingError,
        nats.errors.ConnectionReconnectingError,
        nats.errors.NoServersError,
        nats.errors.StaleConnectionError,
        nats.errors.OutboundBufferLimitError,
        nats.errors.NoRespondersError,
        OSError,
    ) as exc:
        raise StoreUnavailable(f"{action}: NATS connection unavailable ({exc!s})") from exc
    except (nats.errors.BadSubjectError, nats.js.errors.InvalidKeyError) as exc:
        raise InvalidName(f"{action}: {exc}") from exc
    except nats.errors.Error as exc:
        raise StoreError(f"{action}: {exc}") from exc


def _api_error(action: str, exc: nats.js.errors.APIError) -> StoreError:
    detail = f"{exc.description or exc} (code {exc.code}, err_code {exc.err_code})"
    if exc.err_code in _CONFLICT_CODES:
        return StreamConfigConflict(f"{action}: {detail}")
    if isinstance(exc, nats.js.errors.NotFoundError):
        return StoreError(f"{action}: not found: {detail}; {SETUP_HINT}")
    return StoreError(f"{action}: {detail}", retryable=(exc.code or 0) >= 500)


def server_at_least(nc: Client, major: int, minor: int) -> bool:
    """Whether the connected server is at least `major.minor` (False when not connected yet
    or its version cannot be read: the caller takes the path every server supports)."""
    try:
        version = nc.connected_server_version
        return (version.major, version.minor) >= (major, minor)
    except (ValueError, TypeError, AttributeError):
        return False


def ack_position(reply: str) -> tuple[int, int]:
    """(stream sequence, pending) from a JetStream ack subject, without building a datetime.

    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (v1, 9 tokens) or
    `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[...]`.
    `Msg.metadata` parses the same but costs a datetime per message on the replay hot path.
    """
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[8])
    return int(tokens[7]), int(tokens[10])


# -- layout ---------------------------------------------------------------------------------


def _storage(settings: StoreSettings) -> api.StorageType:
    return api.StorageType.MEMORY if settings.storage == "memory" else api.StorageType.FILE


def events_stream_config(settings: StoreSettings) -> api.StreamConfig:
    return api.StreamConfig(
        name=settings.events_stream_name,
        description="trainjet operation events (append-only log)",
        subjects=settings.events_subjects,
        retention=api.RetentionPolicy.LIMITS,
        storage=_storage(settings),
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window,
        max_age=settings.max_age,
        discard=api.DiscardPolicy.OLD,
        allow_direct=True,
        # The log is an audit trail: no message is ever deleted or purged, by anyone. Limits
        # (max_age) still apply; changing them is an admin's stream update.
        deny_delete=True,
        deny_purge=True,
    )


def commands_stream_config(settings: StoreSettings) -> api.StreamConfig:
    return api.StreamConfig(
        name=settings.commands_stream_name,
        description="trainjet start commands (work queue, one consumer per pool)",
        subjects=settings.commands_subjects,
        retention=api.RetentionPolicy.WORK_QUEUE,
        storage=_storage(settings),
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window,
        max_age=0,
        discard=api.DiscardPolicy.OLD,
    )


def pool_consumer_config(settings: StoreSettings, pool: str) -> api.ConsumerConfig:
    name = settings.consumer_name(pool)
    return api.ConsumerConfig(
        name=name,
        durable_name=name,
        description=f"trainjet runners of pool {pool}",
        filter_subject=settings.wire(subjects.start_command_subject(pool)),
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=settings.lease_seconds,
        max_deliver=settings.max_deliver,
        max_ack_pending=settings.max_ack_pending,
        replay_policy=api.ReplayPolicy.INSTANT,
    )


async def ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> api.StreamInfo:
    """Create `config`'s stream, or check and update an existing one (idempotent)."""
    assert config.name is not None
    action = f"ensure stream {config.name}"
    with translate_errors(action):
        try:
            info = await js.stream_info(config.name)
        except nats.js.errors.NotFoundError:
            try:
                return await js.add_stream(config)
            except nats.js.errors.APIError as exc:
                if exc.err_code == 10065:
                    raise StreamConfigConflict(
                        f"{action}: subjects {config.subjects} are already taken by another "
                        "stream; delete it or give trainjet a different namespace"
                    ) from exc
                if exc.err_code != 10058:  # 10058: created concurrently; compare below
                    raise
                info = await js.stream_info(config.name)
        existing = info.config
        wrong = [k for k in _IMMUTABLE if _norm(getattr(existing, k)) != _norm(getattr(config, k))]
        if wrong:
            diffs = ", ".join(
                f"{k}={_norm(getattr(existing, k))!r} (want {_norm(getattr(config, k))!r})"
                for k in wrong
            )
            raise StreamConfigConflict(
                f"{action}: the existing stream is configured differently: {diffs}. "
                "Delete it, or configure trainjet with another stream name or namespace"
            )
        changed = any(_norm(getattr(existing, k)) != _norm(getattr(config, k)) for k in _MUTABLE)
        flags = {k: True for k in _ONE_WAY if getattr(config, k) and not getattr(existing, k)}
        if changed or flags:
            desired = {k: getattr(config, k) for k in _MUTABLE}
            info = await js.update_stream(existing.evolve(**desired, **flags))
        return info


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return round(float(value), 3)
    return str(value.value) if hasattr(value, "value") else value


async def ensure_pool_consumer(
    js: JetStreamContext, settings: StoreSettings, pool: str
) -> api.ConsumerInfo:
    """Create or update the pool's durable pull consumer (the server treats equal as no-op)."""
    config = pool_consumer_config(settings, validate_pool(pool))
    with translate_errors(f"ensure consumer {config.name} on {settings.commands_stream_name}"):
        return await js.add_consumer(settings.commands_stream_name, config)


async def ensure_bucket(js: JetStreamContext, settings: StoreSettings) -> None:
    """The runners KV bucket: one value per key, expiring `runner_ttl_seconds` after a put."""
    config = api.KeyValueConfig(
        bucket=settings.bucket_name,
        description="trainjet live runners (heartbeats)",
        history=1,
        ttl=settings.runner_ttl_seconds,
        storage=_storage(settings),
        replicas=settings.replicas,
    )
    action = f"ensure bucket {settings.bucket_name}"
    with translate_errors(action):
        try:
            await js.create_key_value(config)
        except nats.js.errors.APIError as exc:
            if exc.err_code != 10058:
                raise
            # Exists with another TTL (a changed setting): bring the TTL and window in line.
            info = await js.stream_info(f"KV_{settings.bucket_name}")
            ttl = settings.runner_ttl_seconds
            await js.update_stream(
                info.config.evolve(
                    max_age=ttl, duplicate_window=min(120.0, ttl), num_replicas=settings.replicas
                )
            )


async def ensure_object_bucket(
    js: JetStreamContext, settings: StoreSettings, bucket: str, *, max_age: float = 0.0
) -> None:
    """An object store bucket (stream `OBJ_<bucket>`) with the layout's storage and replicas.

    Created idempotently; an existing one whose replicas or age limit differ is brought in
    line, as for the runners bucket.
    """
    config = api.ObjectStoreConfig(
        description=f"trainjet {bucket}",
        ttl=max_age or None,
        storage=_storage(settings),
        replicas=settings.replicas,
    )
    action = f"ensure object bucket {bucket}"
    with translate_errors(action):
        try:
            await js.create_object_store(bucket, config)
        except nats.js.errors.APIError as exc:
            if exc.err_code != 10058:
                raise
            info = await js.stream_info(f"OBJ_{bucket}")
            await js.update_stream(
                info.config.evolve(max_age=max_age, num_replicas=settings.replicas)
            )


async def ensure_blob_buckets(js: JetStreamContext, settings: StoreSettings) -> None:
    """The checkpoints bucket (entries expire), the models and the snapshots buckets (kept)."""
    await ensure_object_bucket(
        js, settings, settings.checkpoints_bucket_name, max_age=settings.checkpoint_max_age
    )
    await ensure_object_bucket(js, settings, settings.models_bucket_name)
    await ensure_object_bucket(js, settings, settings.snapshots_bucket_name)


async def ensure_streams(
    js: JetStreamContext,
    settings: StoreSettings,
    pools: Iterable[str] | None = None,
    *,
    blobs: bool = False,
) -> None:
    """Create or check the whole layout: both streams, the bucket, the pools' consumers
    (`settings.pools` unless given) and, with `blobs`, the object buckets."""
    await ensure_stream(js, events_stream_config(settings))
    await ensure_stream(js, commands_stream_config(settings))
    await ensure_bucket(js, settings)
    for pool in settings.pools if pools is None else pools:
        await ensure_pool_consumer(js, settings, pool)
    if blobs:
        await ensure_blob_buckets(js, settings)
