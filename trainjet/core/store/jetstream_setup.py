"""Who creates the JetStream layout, and how everyone else checks for it.

Creating or changing a stream is an admin's act: a service account that may do it can also
truncate the log (a stream update with `max_msgs=1` is one). So `provision` runs once, from
`trainjet setup` with admin credentials (or inside an embedded `trainjet serve`, where one
process owns the whole server), and reports what it created, changed or found. The API,
runners and CLI only call `require_layout`: one stream-info request per part they use, and
a `LayoutMissing` naming the missing part and the command that creates it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import nats.js.errors
from nats.js import JetStreamContext

from trainjet.core.errors import LayoutMissing
from trainjet.core.store.jetstream import (
    commands_stream_config,
    ensure_bucket,
    ensure_object_bucket,
    ensure_pool_consumer,
    ensure_stream,
    events_stream_config,
    translate_errors,
)
from trainjet.core.store.settings import SETUP_HINT, StoreSettings

Action = Literal["created", "updated", "found"]
Part = Literal["events", "commands", "runners", "checkpoints", "models", "snapshots"]
ALL_PARTS: tuple[Part, ...] = (
    "events",
    "commands",
    "runners",
    "checkpoints",
    "models",
    "snapshots",
)


@dataclass(frozen=True)
class Provisioned:
    """One part of the layout and what `provision` did to it."""

    kind: str  # "stream", "bucket" or "consumer"
    name: str
    action: Action
    replicas: int

    def line(self) -> str:
        return f"{self.action:<8} {self.kind} {self.name} (replicas {self.replicas})"


def _parts(settings: StoreSettings) -> dict[Part, tuple[str, str, str]]:
    """part -> (kind, user-facing name, JetStream stream behind it)."""
    runners = settings.bucket_name
    checkpoints = settings.checkpoints_bucket_name
    models = settings.models_bucket_name
    snapshots = settings.snapshots_bucket_name
    return {
        "events": ("stream", settings.events_stream_name, settings.events_stream_name),
        "commands": ("stream", settings.commands_stream_name, settings.commands_stream_name),
        "runners": ("bucket", runners, f"KV_{runners}"),
        "checkpoints": ("bucket", checkpoints, f"OBJ_{checkpoints}"),
        "models": ("bucket", models, f"OBJ_{models}"),
        "snapshots": ("bucket", snapshots, f"OBJ_{snapshots}"),
    }


async def _config(js: JetStreamContext, stream: str) -> dict[str, Any] | None:
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return None
    config = info.config.as_dict()
    config.pop("metadata", None)  # the server's own bookkeeping, not ours to compare
    return config


async def provision(
    js: JetStreamContext, settings: StoreSettings, pools: Iterable[str] | None = None
) -> list[Provisioned]:
    """Create or bring in line every stream, bucket and pool consumer (idempotent)."""
    ensure: dict[Part, Callable[[], Awaitable[Any]]] = {
        "events": lambda: ensure_stream(js, events_stream_config(settings)),
        "commands": lambda: ensure_stream(js, commands_stream_config(settings)),
        "runners": lambda: ensure_bucket(js, settings),
        "checkpoints": lambda: ensure_object_bucket(
            js,
            settings,
            settings.checkpoints_bucket_name,
            max_age=settings.checkpoint_max_age,
        ),
        "models": lambda: ensure_object_bucket(js, settings, settings.models_bucket_name),
        "snapshots": lambda: ensure_object_bucket(js, settings, settings.snapshots_bucket_name),
    }
    done: list[Provisioned] = []
    for part, (kind, name, stream) in _parts(settings).items():
        with translate_errors(f"set up {kind} {name}"):
            before = await _config(js, stream)
            await ensure[part]()
            after = await _config(js, stream)
        action: Action = "created" if before is None else "found" if before == after else "updated"
        done.append(Provisioned(kind, name, action, settings.replicas))
    for pool in settings.pools if pools is None else pools:
        consumer = settings.consumer_name(pool)
        stream = settings.commands_stream_name
        with translate_errors(f"set up consumer {consumer}"):
            try:
                old = (await js.consumer_info(stream, consumer)).config.as_dict()
            except nats.js.errors.NotFoundError:
                old = None
            new = (await ensure_pool_consumer(js, settings, pool)).config.as_dict()
        action = "created" if old is None else "found" if old == new else "updated"
        done.append(Provisioned("consumer", f"{consumer} on {stream}", action, settings.replicas))
    return done


async def require_layout(
    js: JetStreamContext,
    settings: StoreSettings,
    parts: Iterable[Part] = ALL_PARTS,
    pools: Iterable[str] = (),
) -> None:
    """Raise `LayoutMissing` for the first of `parts` (or pool consumers) that is absent."""
    known = _parts(settings)
    for part in parts:
        kind, name, stream = known[part]
        with translate_errors(f"check {kind} {name}"):
            try:
                await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                raise LayoutMissing(f"{kind} {name} not found: {SETUP_HINT}") from None
    for pool in pools:
        await require_consumer(js, settings, pool)


async def require_consumer(js: JetStreamContext, settings: StoreSettings, pool: str) -> float:
    """The ack wait (lease) of the pool's consumer; `LayoutMissing` when there is none."""
    consumer, stream = settings.consumer_name(pool), settings.commands_stream_name
    with translate_errors(f"check consumer {consumer} on {stream}"):
        try:
            info = await js.consumer_info(stream, consumer)
        except nats.js.errors.NotFoundError:
            raise LayoutMissing(
                f"consumer {consumer} of stream {stream} not found (runners of pool {pool} "
                f"take their work from it): {SETUP_HINT}"
            ) from None
    return float(info.config.ack_wait or settings.lease_seconds)
