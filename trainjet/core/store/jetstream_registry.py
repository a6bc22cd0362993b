"""The `RunnerRegistry` port on a KV bucket whose entries expire.

The bucket keeps one value per runner and the server drops it `runner_ttl_seconds` after the
last put, so a runner that dies without saying goodbye disappears on its own; nobody has to
sweep. `list()` also hides entries whose `last_seen` is older than the TTL plus a small
tolerance, in case the server's expiry runs late.
"""

from __future__ import annotations

import asyncio

import msgspec
import nats.js.errors
from nats.aio.client import Client
from nats.js.kv import KeyValue

from trainjet.core.errors import LayoutMissing
from trainjet.core.store.jetstream import translate_errors
from trainjet.core.store.port import RunnerInfo
from trainjet.core.store.settings import (
    SETUP_HINT,
    StoreSettings,
    is_stale,
    stamp,
    validate_runner_id,
)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(RunnerInfo).decode


class JetStreamRunnerRegistry:
    """Live runners in the KV bucket of `settings`."""

    #: Extra seconds before `list()` hides an entry the server has not yet expired.
    clock_tolerance: float = 2.0

    def __init__(self, nc: Client, settings: StoreSettings | None = None) -> None:
        self.settings = settings or StoreSettings()
        self.ttl_seconds = self.settings.runner_ttl_seconds
        self._js = nc.jetstream(timeout=self.settings.request_timeout)
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            bucket = self.settings.bucket_name
            with translate_errors(f"open bucket {bucket}"):
                try:
                    self._kv = await self._js.key_value(bucket)
                except nats.js.errors.BucketNotFoundError:
                    # Created by `trainjet setup`, never here: a runner's credentials must
                    # not be able to create or reconfigure buckets.
                    raise LayoutMissing(f"bucket {bucket} not found: {SETUP_HINT}") from None
        return self._kv

    async def heartbeat(self, info: RunnerInfo) -> None:
        key = validate_runner_id(info.runner_id)
        kv = await self._bucket()
        with translate_errors(f"heartbeat of runner {key}"):
            await kv.put(key, _encode(stamp(info)))

    async def remove(self, runner_id: str) -> None:
        key = validate_runner_id(runner_id)
        kv = await self._bucket()
        with translate_errors(f"remove runner {key}"):
            # Purge, not delete: leaves no history behind, only a marker the TTL also clears.
            await kv.purge(key)

    async def list(self) -> list[RunnerInfo]:
        kv = await self._bucket()
        bucket = self.settings.bucket_name
        prefix = f"$KV.{bucket}."
        with translate_errors(f"list runners in {bucket}"):
            # The subjects in the stream are the live keys; a watcher would also do, but it
            # waits for entries the server may expire while it waits.
            info = await self._js.stream_info(f"KV_{bucket}", subjects_filter=f"{prefix}>")
            keys = [s[len(prefix) :] for s in (info.state.subjects or {})]
            values = await asyncio.gather(*(self._get(kv, key) for key in keys))
        runners = [
            info
            for info in values
            if info is not None and not is_stale(info, self.ttl_seconds, self.clock_tolerance)
        ]
        return sorted(runners, key=lambda r: r.runner_id)

    @staticmethod
    async def _get(kv: KeyValue, key: str) -> RunnerInfo | None:
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:  # expired, purged or deleted meanwhile
            return None
        if not entry.value:
            return None
        try:
            return _decode(entry.value)
        except msgspec.DecodeError:
            return None  # a foreign value in our bucket: not a runner
