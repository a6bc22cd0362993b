"""The `BlobStore` contract (put replaces, get, delete, keys, metadata, key rules), run
against every adapter: memory and a JetStream object store bucket on the real server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js.object_store import ObjectStore

from trainjet.core.store import (
    BlobStore,
    InvalidName,
    JetStreamBlobStore,
    MemoryBlobStore,
    StoreError,
    StoreSettings,
)
from trainjet.core.store.jetstream import ensure_object_bucket

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def js_blobs(nc: Client, store_settings: StoreSettings) -> AsyncIterator[JetStreamBlobStore]:
    bucket = store_settings.checkpoints_bucket_name
    await ensure_object_bucket(nc.jetstream(), store_settings, bucket, max_age=3600)
    yield JetStreamBlobStore(nc, bucket, store_settings, max_age=3600)
    with contextlib.suppress(nats.errors.Error):
        await nc.jetstream().delete_stream(f"OBJ_{bucket}")


@pytest.fixture(params=["memory", "jetstream"])
def blobs(request: pytest.FixtureRequest) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore("checkpoints")
    store: BlobStore = request.getfixturevalue("js_blobs")
    return store


async def test_adapter_satisfies_the_port(blobs: BlobStore) -> None:
    assert isinstance(blobs, BlobStore)


async def test_empty_bucket(blobs: BlobStore) -> None:
    assert await blobs.keys() == []
    assert await blobs.get("op1") is None
    await blobs.delete("op1")  # deleting nothing is fine


async def test_put_get_with_metadata(blobs: BlobStore) -> None:
    await blobs.put("op1", b"\x00\x01 checkpoint", {"epoch": "3", "runner_id": "r-1"})
    blob = await blobs.get("op1")
    assert blob is not None
    assert (blob.key, blob.data, blob.meta) == (
        "op1",
        b"\x00\x01 checkpoint",
        {"epoch": "3", "runner_id": "r-1"},
    )


async def test_put_replaces_and_keys_lists_the_live_ones(blobs: BlobStore) -> None:
    await blobs.put("op1", b"epoch 1", {"epoch": "1"})
    await blobs.put("op2", b"other")
    await blobs.put("op1", b"epoch 2", {"epoch": "2"})
    blob = await blobs.get("op1")
    assert blob is not None and (blob.data, blob.meta) == (b"epoch 2", {"epoch": "2"})
    assert await blobs.keys() == ["op1", "op2"]
    await blobs.delete("op1")
    assert await blobs.get("op1") is None
    assert await blobs.keys() == ["op2"]
    await blobs.put("op1", b"again")  # a deleted key can be written again
    again = await blobs.get("op1")
    assert again is not None and again.data == b"again"


async def test_large_and_empty_payloads(blobs: BlobStore) -> None:
    big = bytes(range(256)) * 4096 * 3  # 3 MiB: several object-store chunks
    await blobs.put("models/op_big", big)
    await blobs.put("empty", b"")
    got = await blobs.get("models/op_big")
    assert got is not None and got.data == big
    empty = await blobs.get("empty")
    assert empty is not None and empty.data == b""


@pytest.mark.parametrize("key", ["", "a b", "../x", "x/", ".hidden", "a*b", "a>b", "x" * 300])
async def test_bad_keys_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(InvalidName):
        await blobs.put(key, b"x")


async def test_bad_metadata_names_are_refused(blobs: BlobStore) -> None:
    with pytest.raises(InvalidName):
        await blobs.put("op1", b"x", {"bad name": "v"})


# -- the JetStream adapter's read path: direct gets, checked, with nats-py's read behind them


async def test_jetstream_get_reads_the_chunks_by_direct_gets(
    js_blobs: JetStreamBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nats-py's ordered-consumer read grows the payload quadratically (1-2 s for a 22 MB
    snapshot at API start); the adapter reads the chunks itself."""
    big = bytes(range(256)) * 4096 * 3  # 3 MiB: 24 chunks
    await js_blobs.put("snap", big, {"last_seq": "7"})

    async def no_consumer_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("read through nats-py's ordered consumer")

    monkeypatch.setattr(ObjectStore, "get", no_consumer_read)
    got = await js_blobs.get("snap")
    assert got is not None and (got.data, got.meta) == (big, {"last_seq": "7"})


async def test_jetstream_get_falls_back_where_direct_gets_are_refused(
    nc: Client, js_blobs: JetStreamBlobStore
) -> None:
    js = nc.jetstream()
    await js_blobs.put("snap", b"x" * 300_000)
    stream = f"OBJ_{js_blobs.bucket}"
    config = (await js.stream_info(stream)).config
    config.allow_direct = False
    await js.update_stream(config)
    got = await js_blobs.get("snap")
    assert got is not None and got.data == b"x" * 300_000
    assert not js_blobs._direct_reads  # asked once, then the consumer read for good


async def test_jetstream_get_refuses_chunks_that_do_not_match_the_digest(
    nc: Client, js_blobs: JetStreamBlobStore
) -> None:
    await js_blobs.put("snap", b"y" * 300_000)
    store = await nc.jetstream().object_store(js_blobs.bucket)
    info = await store.get_info("snap")
    # a stray chunk on the object's subject: size and digest no longer match
    await nc.jetstream().publish(f"$O.{js_blobs.bucket}.C.{info.nuid}", b"stray")
    with pytest.raises(StoreError, match="digest mismatch"):
        await js_blobs.get("snap")
