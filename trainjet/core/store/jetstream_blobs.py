"""The `BlobStore` port on a JetStream object store bucket.

An object store splits a payload into chunks on `$O.<bucket>.C.<nuid>` and keeps one rolled-up
metadata message per name on `$O.<bucket>.M.<name>`; a put of an existing name writes new
chunks, swaps the metadata, then purges the old chunks, so readers never see a half-written
value and the bucket keeps only the latest value of each key. With replicas > 1 the bucket
survives the loss of a node like the event log does.

Metadata travels as the object's headers (`{name: [value]}`, as the Go client writes them),
so `nats object info` shows it too.
"""

from __future__ import annotations

from collections.abc import Mapping

import nats.js.errors
from nats.aio.client import Client
from nats.js import api
from nats.js.object_store import ObjectStore

from trainjet.core.errors import LayoutMissing
from trainjet.core.store.blobs import Blob, clean_meta, validate_key
from trainjet.core.store.jetstream import translate_errors
from trainjet.core.store.settings import SETUP_HINT, StoreSettings


class JetStreamBlobStore:
    """Blobs in the object store bucket `bucket` (a name from `StoreSettings`)."""

    def __init__(
        self,
        nc: Client,
        bucket: str,
        settings: StoreSettings | None = None,
        *,
        max_age: float = 0.0,
    ) -> None:
        self.settings = settings or StoreSettings()
        self.bucket = bucket
        self.max_age = max_age
        self._js = nc.jetstream(timeout=self.settings.request_timeout)
        self._store: ObjectStore | None = None

    async def _bucket(self) -> ObjectStore:
        if self._store is None:
            with translate_errors(f"open object bucket {self.bucket}"):
                try:
                    self._store = await self._js.object_store(self.bucket)
                except nats.js.errors.BucketNotFoundError:
                    # Created by `trainjet setup` (with `max_age`), never by a writer.
                    raise LayoutMissing(f"bucket {self.bucket} not found: {SETUP_HINT}") from None
        return self._store

    async def put(self, key: str, data: bytes, meta: Mapping[str, str] | None = None) -> None:
        key = validate_key(key)
        headers = {name: [value] for name, value in clean_meta(meta).items()}
        store = await self._bucket()
        with translate_errors(f"put {key} into {self.bucket}"):
            await store.put(key, bytes(data), meta=api.ObjectMeta(name=key, headers=headers))

    async def get(self, key: str) -> Blob | None:
        key = validate_key(key)
        store = await self._bucket()
        with translate_errors(f"get {key} from {self.bucket}"):
            try:
                result = await store.get(key)
            except nats.js.errors.ObjectNotFoundError:
                return None
        return Blob(key=key, data=bytes(result.data or b""), meta=_meta(result.info.headers))

    async def delete(self, key: str) -> None:
        key = validate_key(key)
        store = await self._bucket()
        with translate_errors(f"delete {key} from {self.bucket}"):
            try:
                await store.delete(key)
            except nats.js.errors.ObjectNotFoundError:
                return

    async def keys(self) -> list[str]:
        store = await self._bucket()
        with translate_errors(f"list {self.bucket}"):
            try:
                infos = await store.list(ignore_deletes=True)
            except nats.js.errors.NotFoundError:  # nats-py's answer for an empty bucket
                return []
        return sorted(info.name for info in infos if not info.deleted)


def _meta(headers: object) -> dict[str, str]:
    """Headers as one string per name; lenient about what another client wrote."""
    if not isinstance(headers, dict):
        return {}
    result: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(value, list):
            if value:
                result[str(name)] = str(value[0])
        elif value is not None:
            result[str(name)] = str(value)
    return result
