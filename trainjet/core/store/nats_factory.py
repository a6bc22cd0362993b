"""The JetStream side of a `StoreConnection`: connect, check the layout, wrap the adapters.

The layout (streams, buckets, pool consumers) is created by `provision_nats` (`trainjet
setup`, or an embedded `trainjet serve`), never by the API or a runner: their NATS users may
not create or change streams, so they only check that what they use exists. Every NATS call
made here runs inside the store's error translation, so callers see `StoreError`s only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainjet.core.errors import StoreUnavailable
from trainjet.core.store.connection import StoreConnection
from trainjet.core.store.jetstream import translate_errors
from trainjet.core.store.jetstream_blobs import JetStreamBlobStore
from trainjet.core.store.jetstream_commands import JetStreamCommandQueue
from trainjet.core.store.jetstream_events import JetStreamEventStore
from trainjet.core.store.jetstream_registry import JetStreamRunnerRegistry
from trainjet.core.store.jetstream_setup import Part, Provisioned, provision, require_layout
from trainjet.core.store.nats_connect import connect, disconnect, redact_all
from trainjet.core.store.settings import StoreSettings

if TYPE_CHECKING:
    from nats.aio.client import Client

_log = logging.getLogger("trainjet.nats")
RETRY_PAUSE = 2.0  # seconds between connect attempts while NATS is unreachable


@dataclass(frozen=True)
class NatsAccess:
    """Where the server is and who connects (never shown: `redacted` is what may be)."""

    url: str
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | None = None

    @property
    def redacted(self) -> str:
        return redact_all(self.url)


async def connect_nats(access: NatsAccess, *, name: str, retry_for: float = 0.0) -> Client:
    """A client on `access.url` with its credentials.

    With `retry_for`, a server that does not answer yet is retried for that many seconds,
    saying so once per try ("NATS unreachable at <url>, retrying"): processes started
    together with their server (compose, systemd) must not die of arriving first. A refused
    login is not retried; it will not fix itself.
    """
    deadline = time.monotonic() + retry_for
    while True:
        try:
            return await connect(
                access.url,
                user=access.user,
                password=access.password,
                token=access.token,
                creds_file=access.creds_file,
                name=name,
            )
        except StoreUnavailable as exc:
            left = deadline - time.monotonic()
            if "authorization" in exc.message or left <= 0:
                if retry_for > 0:
                    raise StoreUnavailable(
                        f"NATS unreachable at {access.redacted}; gave up after "
                        f"{retry_for:.0f}s. {exc.message}"
                    ) from exc
                raise
            _log.warning("NATS unreachable at %s, retrying", access.redacted)
            await asyncio.sleep(min(RETRY_PAUSE, left))


async def provision_nats(access: NatsAccess, layout: StoreSettings) -> list[Provisioned]:
    """Create or check the whole layout (needs admin credentials)."""
    nc = await connect_nats(access, name="trainjet-setup")
    try:
        return await provision(nc.jetstream(timeout=layout.request_timeout), layout)
    finally:
        await disconnect(nc)


async def check_layout(
    access: NatsAccess,
    layout: StoreSettings,
    parts: Iterable[Part],
    pools: Iterable[str] = (),
    *,
    retry_for: float = 0.0,
) -> None:
    """Connect, check `parts` exist (`LayoutMissing` otherwise), disconnect: a start-up check
    that fails in one line before a server or runner loop starts."""
    nc = await connect_nats(access, name="trainjet-check", retry_for=retry_for)
    try:
        await require_layout(nc.jetstream(timeout=layout.request_timeout), layout, parts, pools)
    finally:
        await disconnect(nc)


async def open_store(
    access: NatsAccess,
    layout: StoreSettings,
    *,
    name: str,
    parts: Iterable[Part],
    pools: Iterable[str] = (),
    retry_for: float = 0.0,
) -> StoreConnection:
    """A connection with the adapters of every part in `parts` (checked to exist first)."""
    nc = await connect_nats(access, name=name, retry_for=retry_for)
    js = nc.jetstream(timeout=layout.request_timeout)
    try:
        await require_layout(js, layout, parts, pools)
    except Exception:
        await disconnect(nc)
        raise

    async def describe() -> dict[str, Any]:
        with translate_errors("describing the NATS server"):
            events = await js.stream_info(layout.events_stream_name)
            commands = await js.stream_info(layout.commands_stream_name)
        version = nc.connected_server_version
        cluster = events.cluster
        return {
            "nats": {
                "connected": nc.is_connected,
                "connected_url": redact_all(str(nc.connected_url.geturl()))
                if nc.connected_url
                else None,
                "server_version": f"{version.major}.{version.minor}.{version.patch}",
                # the server leading the events stream: on one server, that server
                "server_name": cluster.leader if cluster else None,
                "jetstream": True,  # the stream infos above answer only from JetStream
                "cluster": cluster.name if cluster else None,
            },
            "streams": {"events": _stream(events), "commands": _stream(commands)},
        }

    return StoreConnection(
        store=JetStreamEventStore(nc, layout),
        commands=JetStreamCommandQueue(nc, layout),
        registry=JetStreamRunnerRegistry(nc, layout),
        checkpoints=JetStreamBlobStore(
            nc, layout.checkpoints_bucket_name, layout, max_age=layout.checkpoint_max_age
        ),
        models=JetStreamBlobStore(nc, layout.models_bucket_name, layout),
        snapshots=JetStreamBlobStore(nc, layout.snapshots_bucket_name, layout),
        url=access.redacted,
        describe=describe,
        connected=lambda: bool(nc.is_connected),
        close=lambda: disconnect(nc),
    )


def _stream(info: Any) -> dict[str, Any]:
    return {
        "name": info.config.name,
        "subjects": info.config.subjects,
        "retention": _enum_text(info.config.retention),
        "storage": _enum_text(info.config.storage),
        "replicas": info.config.num_replicas,
        "messages": info.state.messages,
        "bytes": info.state.bytes,
        "first_seq": info.state.first_seq,
        "last_seq": info.state.last_seq,
        "consumers": info.state.consumer_count,
    }


def _enum_text(value: Any) -> str | None:
    """nats-py gives enums or plain strings depending on the path; show either as text."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
