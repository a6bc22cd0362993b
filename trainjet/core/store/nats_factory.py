"""Build a `Backend` on a real NATS server: connect, check the layout, wrap the adapters.

The layout (streams, buckets, pool consumers) is created by `provision_nats` (`trainjet
setup`, or an embedded `trainjet serve`), never by the API or a runner: their NATS users may
not create or change streams, so they only check that what they use exists.

The returned `NatsBackend` also carries the two blob buckets (checkpoints, models) that only
a NATS deployment has: runners keep their checkpoints there and host runners publish their
models there; `start_model_import` makes an API import those models into its models dir.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainjet.config import Settings
from trainjet.core.errors import StoreUnavailable
from trainjet.core.projections.snapshot import SnapshotStore
from trainjet.core.store import (
    BlobStore,
    JetStreamBlobStore,
    JetStreamCommandQueue,
    JetStreamEventStore,
    JetStreamRunnerRegistry,
    provision,
    require_layout,
)
from trainjet.core.store.jetstream_setup import Part, Provisioned
from trainjet.core.store.settings import StoreSettings
from trainjet.natsd.connect import connect, redact_all
from trainjet.wiring import Backend

if TYPE_CHECKING:
    from nats.aio.client import Client

_log = logging.getLogger("trainjet.nats")
RETRY_PAUSE = 2.0  # seconds between connect attempts while NATS is unreachable


@dataclass
class NatsBackend(Backend):
    """A `Backend` on NATS, with the blob buckets every process of the deployment shares."""

    checkpoints: BlobStore | None = None
    models: BlobStore | None = None


def store_settings(settings: Settings, **overrides: Any) -> StoreSettings:
    return StoreSettings(
        replicas=settings.stream_replicas,
        lease_seconds=settings.lease_seconds,
        runner_ttl_seconds=settings.runner_ttl_seconds,
        **overrides,
    )


async def connect_nats(
    settings: Settings, *, name: str, url: str | None = None, retry_for: float = 0.0
) -> Client:
    """A client on `url` (else the configured server) with the configured credentials.

    With `retry_for`, a server that does not answer yet is retried for that many seconds,
    saying so once per try ("NATS unreachable at <url>, retrying"): processes started
    together with their server (compose, systemd) must not die of arriving first. A refused
    login is not retried; it will not fix itself.
    """
    target = url or settings.nats_url or ""
    deadline = time.monotonic() + retry_for
    while True:
        try:
            return await connect(
                target,
                user=settings.nats_user,
                password=settings.nats_password,
                token=settings.nats_token,
                creds_file=settings.nats_creds,
                name=name,
            )
        except StoreUnavailable as exc:
            left = deadline - time.monotonic()
            if "authorization" in exc.message or left <= 0:
                if retry_for > 0:
                    raise StoreUnavailable(
                        f"NATS unreachable at {redact_all(target)}; gave up after "
                        f"{retry_for:.0f}s. {exc.message}"
                    ) from exc
                raise
            _log.warning("NATS unreachable at %s, retrying", redact_all(target))
            await asyncio.sleep(min(RETRY_PAUSE, left))


# What each kind of process uses (and so checks for at start-up).
API_PARTS: tuple[Part, ...] = ("events", "commands", "runners", "models", "snapshots")
RUNNER_PARTS: tuple[Part, ...] = ("events", "commands", "runners", "checkpoints", "models")


async def provision_nats(settings: Settings, *, url: str | None = None) -> list[Provisioned]:
    """Create or check the whole layout with the configured (admin) credentials."""
    nc = await connect_nats(settings, name="trainjet-setup", url=url)
    try:
        layout = store_settings(settings)
        return await provision(nc.jetstream(timeout=layout.request_timeout), layout)
    finally:
        await nc.close()


async def check_layout(
    settings: Settings, parts: Iterable[Part] = API_PARTS, pools: Iterable[str] = ()
) -> None:
    """Connect, check `parts` exist (`LayoutMissing` otherwise), disconnect: a start-up check
    that fails in one line before a server or runner loop starts."""
    # the first contact of `trainjet api` / `runner`: wait for a server that is still starting
    nc = await connect_nats(
        settings, name="trainjet-check", retry_for=settings.connect_retry_seconds
    )
    try:
        layout = store_settings(settings)
        await require_layout(nc.jetstream(timeout=layout.request_timeout), layout, parts, pools)
    finally:
        await nc.close()


async def connect_backend(
    settings: Settings,
    *,
    name: str = "trainjet-api",
    store: StoreSettings | None = None,
    parts: Iterable[Part] = API_PARTS,
    pools: Iterable[str] = (),
    retry_for: float = 0.0,
) -> Backend:
    if not settings.nats_url:
        raise ValueError(
            "connect_backend needs settings.nats_url (serve starts an embedded server)"
        )
    nc = await connect_nats(settings, name=name, retry_for=retry_for)
    layout = store or store_settings(settings)
    js = nc.jetstream(timeout=layout.request_timeout)
    try:
        await require_layout(js, layout, parts, pools)
    except Exception:
        await nc.close()
        raise

    async def describe() -> dict[str, Any]:
        info = nc._server_info  # nats-py keeps the INFO the server sent
        events = await js.stream_info(layout.events_stream_name)
        commands = await js.stream_info(layout.commands_stream_name)
        return {
            "nats": {
                "connected": nc.is_connected,
                "connected_url": redact_all(str(nc.connected_url.geturl()))
                if nc.connected_url
                else None,
                "server_version": info.get("version"),
                "server_name": info.get("server_name"),
                "jetstream": bool(info.get("jetstream")),
                "cluster": info.get("cluster"),
            },
            "streams": {
                "events": _stream(events),
                "commands": _stream(commands),
            },
        }

    backend = NatsBackend(
        store=JetStreamEventStore(nc, layout),
        commands=JetStreamCommandQueue(nc, layout),
        registry=JetStreamRunnerRegistry(nc, layout),
        settings=settings,
        nats_url=redact_all(settings.nats_url),
        describe=describe,
        connected=lambda: bool(nc.is_connected),
        checkpoints=JetStreamBlobStore(
            nc, layout.checkpoints_bucket_name, layout, max_age=layout.checkpoint_max_age
        ),
        models=JetStreamBlobStore(nc, layout.models_bucket_name, layout),
        snapshots=SnapshotStore(JetStreamBlobStore(nc, layout.snapshots_bucket_name, layout)),
    )
    backend.closers.append(nc.close)
    return backend


def start_model_import(backend: Backend) -> None:
    """Import the models host runners publish into this process's models dir (the API's).

    A no-op for a backend without a models bucket (the in-memory one). The importer stops
    with the backend.
    """
    models = backend.models if isinstance(backend, NatsBackend) else None
    if models is None:
        return
    from trainjet.runners.artifacts import ModelImporter

    importer = ModelImporter(models, backend.settings.models_dir, backend.projector)
    importer.start()
    backend.closers.append(importer.close)


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
