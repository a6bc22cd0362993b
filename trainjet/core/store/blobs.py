"""The `BlobStore` port: named byte payloads every process of a deployment can read.

Events carry facts; some facts point at bytes too big for an event: a training checkpoint
(so another runner can resume the operation) and a trained model's files (so an API on
another machine can serve a model a GPU host trained). Those live in a blob store, one bucket
per kind, keyed by the operation id. A put replaces the previous value of the key: only the
latest checkpoint of an operation is kept.

Adapters: `MemoryBlobStore` below (unit tests, one process) and `JetStreamBlobStore` (a
JetStream object store bucket). Both pass `tests/contract/test_blob_store_contract.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import msgspec

from trainjet.core.errors import InvalidName

# What an object name may be on every adapter: safe in a subject once encoded, and in a path.
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=/-]{0,255}$")


class Blob(msgspec.Struct, frozen=True, kw_only=True):
    """A stored payload with the small string metadata written alongside it."""

    key: str
    data: bytes
    meta: dict[str, str] = msgspec.field(default_factory=dict)


@runtime_checkable
class BlobStore(Protocol):
    """Latest-value-per-key byte storage shared by every process of a deployment."""

    bucket: str

    async def put(self, key: str, data: bytes, meta: Mapping[str, str] | None = None) -> None:
        """Store `data` under `key`, replacing what was there."""
        ...

    async def get(self, key: str) -> Blob | None:
        """The current value of `key`, or None if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Forget `key`; deleting a missing key is not an error."""
        ...

    async def keys(self) -> list[str]:
        """Every key that has a value, sorted."""
        ...


def validate_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key or key.endswith("/"):
        raise InvalidName(f"blob key {key!r}: use letters, digits and _ . = / - (max 256)")
    return key


def clean_meta(meta: Mapping[str, str] | None) -> dict[str, str]:
    """Metadata as plain strings; a header-like name keeps it portable to NATS headers."""
    result: dict[str, str] = {}
    for name, value in (meta or {}).items():
        if not re.match(r"^[A-Za-z0-9_-]{1,64}$", name):
            raise InvalidName(f"blob metadata name {name!r}: use letters, digits, '_' or '-'")
        result[name] = str(value)
    return result


class MemoryBlobStore:
    """The `BlobStore` port in a dict (copies in and out, like a real store)."""

    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self._blobs: dict[str, Blob] = {}

    async def put(self, key: str, data: bytes, meta: Mapping[str, str] | None = None) -> None:
        key = validate_key(key)
        self._blobs[key] = Blob(key=key, data=bytes(data), meta=clean_meta(meta))

    async def get(self, key: str) -> Blob | None:
        return self._blobs.get(validate_key(key))

    async def delete(self, key: str) -> None:
        self._blobs.pop(validate_key(key), None)

    async def keys(self) -> list[str]:
        return sorted(self._blobs)
