"""Follow one operation's events live: straight from its NATS subjects when the CLI can reach
NATS, else through the API's server-sent-events stream (same events, same order).

Either way the events arrive typed, decoded by the event codec, so every consumer folds them
with the projection's functions and tells them apart by their class, never by a type string."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from trainjet.cli.client import CliError, error_message
from trainjet.cli.runtime import resolve_nats_url
from trainjet.config import Settings
from trainjet.core.events import (
    CODEC,
    TERMINAL_TYPES,
    MalformedEvent,
    operation_filter,
    to_builtins,
)
from trainjet.core.store.port import StoredEvent

if TYPE_CHECKING:
    from trainjet.core.store import JetStreamEventStore


def event_json(record: StoredEvent) -> dict[str, Any]:
    """One followed event as the JSON object `--json` prints: its position, then the event.
    (The SSE stream does not say the subject: then there is none.)"""
    where: dict[str, Any] = {"seq": record.seq}
    if record.subject:
        where["subject"] = record.subject
    return {**where, **to_builtins(record.event)}


@dataclass
class NatsLookup:
    """Where the CLI looked for NATS, so a failure can say what was tried."""

    url: str | None = None
    tried: list[str] = field(default_factory=list)

    def hint(self) -> str:
        return (
            "tried " + "; ".join(self.tried) + ". Set TRAINJET_NATS_URL (or --nats-url) to the "
            "server the API uses, or start everything with `trainjet serve`"
        )


async def find_nats_url(settings: Settings) -> NatsLookup:
    """TRAINJET_NATS_URL, else the `runtime.json` a local `trainjet serve` wrote, else the
    URL the API reports in /health (the server it is connected to, without credentials)."""
    found = NatsLookup()
    resolved = resolve_nats_url(settings)
    if resolved.nats_url:
        found.url = resolved.nats_url
        return found
    found.tried.append("TRAINJET_NATS_URL (unset)")
    found.tried.append(f"{settings.data_dir / 'runtime.json'} (no live `trainjet serve`)")
    health_url = f"{settings.api_url.rstrip('/')}/api/v1/health"
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            health = (await client.get(health_url)).json()
        url = health.get("nats", {}).get("url")
    except (httpx.HTTPError, ValueError, AttributeError):
        url = None
    if url:
        found.url = str(url)
    else:
        found.tried.append(f"{health_url} (unreachable or no nats.url)")
    return found


# A person waits at the terminal: retry a NATS that is restarting briefly, then say so.
CLI_CONNECT_RETRY = 10.0


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[tuple[JetStreamEventStore, str]]:
    """The event store on the NATS server trainjet uses, and its (redacted) URL; a `CliError`
    that says what was tried when there is none to reach."""
    from trainjet.core.errors import StoreError
    from trainjet.core.store import JetStreamEventStore
    from trainjet.core.store.nats_connect import redact_all
    from trainjet.core.store.nats_factory import connect_nats
    from trainjet.system import nats_access, store_settings

    lookup = await find_nats_url(settings)
    if not lookup.url:
        raise CliError(f"cannot find the NATS server to read events from: {lookup.hint()}")
    try:
        nc = await connect_nats(
            nats_access(settings, lookup.url), name="trainjet-cli", retry_for=CLI_CONNECT_RETRY
        )
    except StoreError as exc:
        raise CliError(exc.message) from exc
    try:
        yield JetStreamEventStore(nc, store_settings(settings)), redact_all(lookup.url)
    except StoreError as exc:
        raise CliError(
            f"reading events from NATS at {redact_all(lookup.url)}: {exc.message}"
        ) from exc
    finally:
        await nc.close()


async def aiter_events(settings: Settings, operation_id: str) -> AsyncIterator[StoredEvent]:
    """History then live events of one operation, ending after the terminal."""
    url = (await find_nats_url(settings)).url
    if url:
        try:
            async for item in _from_nats(replace(settings, nats_url=url), operation_id):
                yield item
            return
        except ConnectionError:
            pass  # fall back to the API's SSE stream below
    async for item in _from_sse(settings, operation_id):
        yield item


async def _from_nats(settings: Settings, operation_id: str) -> AsyncIterator[StoredEvent]:
    from trainjet.core.store import JetStreamEventStore
    from trainjet.core.store.nats_factory import connect_nats
    from trainjet.system import nats_access, store_settings

    nc = await connect_nats(nats_access(settings), name="trainjet-cli")
    try:
        store = JetStreamEventStore(nc, store_settings(settings))
        async for record in store.subscribe(operation_filter(operation_id), 1):
            if not isinstance(record, StoredEvent):
                continue  # a message that is no event: recorded by the projector, skipped here
            yield record
            if isinstance(record.event, TERMINAL_TYPES):
                return
    finally:
        await nc.close()


async def _from_sse(settings: Settings, operation_id: str) -> AsyncIterator[StoredEvent]:
    from httpx_sse import aconnect_sse

    base = settings.api_url.rstrip("/")
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client,
            aconnect_sse(
                client, "GET", f"{base}/api/v1/operations/{operation_id}/stream"
            ) as source,
        ):
            if source.response.status_code >= 400:
                await source.response.aread()
                detail = error_message(source.response.json()) or source.response.text
                raise CliError(f"{detail} (HTTP {source.response.status_code})", 2)
            async for sse in source.aiter_sse():
                if not sse.data:
                    continue
                try:
                    event = CODEC.decode(sse.data.encode())
                except MalformedEvent:
                    continue  # as on NATS: what is no event (to this trainjet) is skipped
                yield StoredEvent(int(sse.id) if sse.id else 0, "", event)
                if isinstance(event, TERMINAL_TYPES):
                    return
    except httpx.ConnectError as exc:
        raise CliError(
            f"cannot reach NATS or the trainjet API at {base} to follow {operation_id}; "
            "start `trainjet serve` or set TRAINJET_API_URL / TRAINJET_NATS_URL"
        ) from exc


def follow_events(settings: Settings, operation_id: str) -> Iterator[StoredEvent]:
    """A synchronous view of `aiter_events` for simple commands (runs a loop in a thread)."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=10_000)

    async def pump() -> None:
        try:
            async for item in aiter_events(settings, operation_id):
                items.put(("item", item))
        except BaseException as exc:
            items.put(("error", exc))
        finally:
            items.put(("end", None))

    thread = threading.Thread(target=lambda: asyncio.run(pump()), daemon=True)
    thread.start()
    while True:
        kind, value = items.get()
        if kind == "item":
            yield value
        elif kind == "error":
            raise value
        else:
            return
