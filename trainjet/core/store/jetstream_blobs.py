"""The `BlobStore` port on a JetStream object store bucket.

An object store splits a payload into chunks on `$O.<bucket>.C.<nuid>` and keeps one rolled-up
metadata message per name on `$O.<bucket>.M.<name>`; a put of an existing name writes new
chunks, swaps the metadata, then purges the old chunks, so readers never see a half-written
value and the bucket keeps only the latest value of each key. With replicas > 1 the bucket
survives the loss of a node like the event log does.

Metadata travels as the object's headers (`{name: [value]}`, as the Go client writes them),
so `nats object info` shows it too.

A get reads the object's chunks with batched direct gets (nats-server 2.11+), not nats-py's
ordered consumer: that one grows the result by `bytes +=` per 128 KiB chunk (quadratic: a
22 MB projection snapshot took 1-2 s of an API start, against 0.1-0.15 s this way) and
paces the chunks by flow control. The size and SHA-256 digest the metadata names are checked
as nats-py checks them. Where direct gets are refused (no permission, a stream without
allow_direct, an older server) the store falls back to nats-py's read for good.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import api
from nats.js.object_store import ObjectStore

from trainjet.core.errors import LayoutMissing, StoreError, StoreTimeout
from trainjet.core.store.blobs import Blob, clean_meta, validate_key
from trainjet.core.store.jetstream import server_at_least, translate_errors
from trainjet.core.store.jetstream_direct import read_direct
from trainjet.core.store.settings import SETUP_HINT, StoreSettings

log = logging.getLogger(__name__)

# every chunk of one object: its chunk subject gets no messages after its metadata names it
_TO_THE_END = 2**63 - 1
_DIGEST_PREFIX = "SHA-256="


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
        self._nc = nc
        self._js = nc.jetstream(timeout=self.settings.request_timeout)
        self._store: ObjectStore | None = None
        self._direct_reads = True  # until the server or the permissions refuse one

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
                info = await store.get_info(key)
                data = await self._read_chunks(key, info)
                if data is None:  # a link, or no direct gets: nats-py's own read
                    result = await store.get(key)
                    info, data = result.info, bytes(result.data or b"")
            except nats.js.errors.ObjectNotFoundError:
                return None
        return Blob(key=key, data=data, meta=_meta(info.headers))

    async def _read_chunks(self, key: str, info: api.ObjectInfo) -> bytes | None:
        """The object's payload by direct gets, checked; None where this cannot read it."""
        if info.is_link() or not self._direct_reads or not server_at_least(self._nc, 2, 11):
            return None
        if not info.size:
            return b""
        try:
            found = await read_direct(
                self._nc,
                f"OBJ_{self.bucket}",
                f"$O.{self.bucket}.C.{info.nuid}",
                _TO_THE_END,
                timeout=self.settings.request_timeout,
            )
        except (nats.errors.NoRespondersError, StoreTimeout) as exc:
            # no direct gets here (a refused request gets no answer: the timeout)
            log.info("%s: direct gets refused (%r); reading objects by consumer", self.bucket, exc)
            self._direct_reads = False
            return None
        data = b"".join(chunk for _, _, chunk in found)
        if len(data) != info.size or not _digest_matches(data, info.digest or ""):
            # chunks purged by a concurrent replace, or a corrupt object
            raise StoreError(
                f"get {key} from {self.bucket}: read {len(data)} of {info.size} bytes, "
                "digest mismatch"
            )
        return data

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


def _digest_matches(data: bytes, digest: str) -> bool:
    """`digest` as object stores write it: `SHA-256=` and URL-safe base64 (padded or not,
    the prefix in either case, as nats-py reads it)."""
    if digest[: len(_DIGEST_PREFIX)].upper() != _DIGEST_PREFIX:
        return False
    encoded = digest[len(_DIGEST_PREFIX) :]
    try:
        expected = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return False
    return hashlib.sha256(data).digest() == expected


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
