"""JetStream-only behaviour: the stream layout, wire format, isolation and error translation."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import msgspec
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import api

from trainjet.core.events import CODEC, EventFactory, PhaseChanged
from trainjet.core.store import (
    JetStreamBlobStore,
    JetStreamCommandQueue,
    JetStreamEventStore,
    JetStreamRunnerRegistry,
    LayoutMissing,
    StartCommand,
    StoreError,
    StoreSettings,
    StoreTimeout,
    StoreUnavailable,
    StreamConfigConflict,
    ensure_streams,
    provision,
    require_layout,
)
from trainjet.natsd import EmbeddedNats, connect, disconnect

pytestmark = pytest.mark.timeout(60)


def phase(op: str = "op1") -> PhaseChanged:
    return EventFactory(op).make(PhaseChanged, phase="loading")


def fresh() -> StoreSettings:
    return StoreSettings(namespace=f"l{uuid.uuid4().hex[:12]}")


async def drop(nc: Client, settings: StoreSettings) -> None:
    js = nc.jetstream()
    for name in (settings.events_stream_name, settings.commands_stream_name):
        await js.delete_stream(name)
    await js.delete_key_value(settings.bucket_name)


async def test_ensure_streams_creates_the_declared_layout(nc: Client) -> None:
    settings = fresh()
    js = nc.jetstream()
    await ensure_streams(js, settings, pools=["local"])
    await ensure_streams(js, settings, pools=["local"])  # idempotent
    try:
        events = (await js.stream_info(settings.events_stream_name)).config
        assert events.subjects == [f"{settings.namespace}.trainjet.ops.>"]
        assert events.retention == api.RetentionPolicy.LIMITS
        assert events.storage == api.StorageType.FILE
        assert events.duplicate_window == 120
        assert events.max_age == 0
        assert events.num_replicas == 1
        commands = (await js.stream_info(settings.commands_stream_name)).config
        assert commands.retention == api.RetentionPolicy.WORK_QUEUE
        assert commands.subjects == [f"{settings.namespace}.trainjet.cmd.>"]
        consumer = await js.consumer_info(settings.commands_stream_name, "runners-local")
        assert consumer.config.ack_policy == api.AckPolicy.EXPLICIT
        assert consumer.config.ack_wait == settings.lease_seconds
        assert consumer.config.filter_subject == f"{settings.namespace}.trainjet.cmd.start.local"
        bucket = (await js.stream_info(f"KV_{settings.bucket_name}")).config
        assert (bucket.max_age, bucket.max_msgs_per_subject) == (settings.runner_ttl_seconds, 1)
    finally:
        await drop(nc, settings)


async def test_changed_limits_are_applied_to_an_existing_stream(nc: Client) -> None:
    settings = fresh()
    js = nc.jetstream()
    await ensure_streams(js, settings)
    try:
        changed = msgspec.structs.replace(
            settings, max_age=3600.0, duplicate_window=60.0, runner_ttl_seconds=30.0
        )
        await ensure_streams(js, changed)
        events = (await js.stream_info(settings.events_stream_name)).config
        assert (events.max_age, events.duplicate_window) == (3600, 60)
        assert (await js.stream_info(f"KV_{settings.bucket_name}")).config.max_age == 30
    finally:
        await drop(nc, settings)


async def test_incompatible_existing_stream_is_a_clear_conflict(nc: Client) -> None:
    settings = fresh()
    js = nc.jetstream()
    # Someone made the commands stream without work-queue retention.
    await js.add_stream(
        api.StreamConfig(name=settings.commands_stream_name, subjects=settings.commands_subjects)
    )
    try:
        with pytest.raises(StreamConfigConflict, match="retention='limits'") as caught:
            await ensure_streams(js, settings)
        assert caught.value.retryable is False
        assert settings.commands_stream_name in str(caught.value)
    finally:
        await js.delete_stream(settings.commands_stream_name)
        await js.delete_stream(settings.events_stream_name)


async def test_subjects_taken_by_another_stream_is_a_conflict(
    nc: Client, js_layout: StoreSettings
) -> None:
    rival = msgspec.structs.replace(js_layout, events_stream="RIVAL")
    with pytest.raises(StreamConfigConflict, match="already taken"):
        await ensure_streams(nc.jetstream(), rival)


async def test_wire_format_any_client_can_read(nc: Client, js_store: JetStreamEventStore) -> None:
    """Subject, `Nats-Msg-Id` and a plain JSON payload, as the contract promises."""
    settings = js_store.settings
    event = phase("op_wire")
    seq = await js_store.append(event)
    msg = await nc.jetstream().get_msg(settings.events_stream_name, seq)
    assert msg.subject == f"{settings.namespace}.trainjet.ops.op_wire.phase_changed"
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == event.event_id
    assert msg.data is not None
    payload = msgspec.json.decode(msg.data)
    assert payload["type"] == "phase_changed"
    assert payload["event_id"] == event.event_id
    assert CODEC.decode(msg.data) == event


async def test_namespaces_do_not_see_each_other(nc: Client, js_store: JetStreamEventStore) -> None:
    other_settings = fresh()
    await ensure_streams(nc.jetstream(), other_settings)
    try:
        other = JetStreamEventStore(nc, other_settings)
        await js_store.append(phase("op1"))
        await other.append(phase("op1"))
        await other.append(phase("op1"))
        assert len(await js_store.read_operation("op1")) == 1
        assert await other.last_sequence() == 2
    finally:
        await drop(nc, other_settings)


async def test_default_layout_uses_the_canonical_subjects(tmp_path: Path) -> None:
    """With no namespace the wire subject is exactly trainjet.ops.<id>.<type> (own server:
    the default stream claims trainjet.ops.> for the whole account)."""
    with EmbeddedNats(tmp_path) as server:
        client = await connect(server.url)
        try:
            settings = StoreSettings()
            await ensure_streams(client.jetstream(), settings)
            store = JetStreamEventStore(client, settings)
            seq = await store.append(phase("op_default"))
            msg = await client.jetstream().get_msg("TRAINJET_OPS", seq)
            assert msg.subject == "trainjet.ops.op_default.phase_changed"
            queue = JetStreamCommandQueue(client, settings)
            await queue.submit(StartCommand(operation_id="op_default", operation_type="dummy"))
            cmd = await client.jetstream().get_msg("TRAINJET_CMDS", 1)
            assert cmd.subject == "trainjet.cmd.start.local"
            assert cmd.headers is not None
            assert cmd.headers["Nats-Msg-Id"] == "start-op_default"
        finally:
            await client.close()


async def test_missing_streams_are_reported_as_unavailable(nc: Client) -> None:
    store = JetStreamEventStore(nc, fresh())  # ensure_streams never ran
    with pytest.raises(StoreUnavailable, match="trainjet setup") as caught:
        await store.append(phase())
    assert isinstance(caught.value, ConnectionError)
    with pytest.raises(StoreError, match="not found"):
        await store.last_sequence()


async def test_a_closed_connection_is_unavailable(
    nats_server: str, js_layout: StoreSettings
) -> None:
    client = await connect(nats_server)
    store = JetStreamEventStore(client, js_layout)
    await store.append(phase())
    await client.close()
    with pytest.raises(StoreUnavailable) as caught:
        await store.append(phase())
    assert caught.value.retryable is True


async def test_a_server_that_stops_answering_is_a_timeout(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path)
    server.start()
    client = await connect(server.url)
    settings = StoreSettings(request_timeout=0.5)
    store = JetStreamEventStore(client, settings)
    try:
        await ensure_streams(client.jetstream(), settings)
        server.stop()
        with pytest.raises((StoreTimeout, StoreUnavailable)) as caught:
            await store.append(phase())
        assert caught.value.retryable is True
        with pytest.raises(StoreTimeout):
            await asyncio.wait_for(store.append_many([phase(), phase()]), 10)
    finally:
        server.stop()
        await disconnect(client)


async def test_a_live_tail_survives_a_server_restart(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = EmbeddedNats(tmp_path, port=port)  # same port and store after the restart
    await asyncio.to_thread(server.start)
    client = await connect(server.url)
    try:
        settings = StoreSettings(namespace="restart")
        await ensure_streams(client.jetstream(), settings)
        store = JetStreamEventStore(client, settings)
        await store.append(phase("op1"))
        tail = store.subscribe("trainjet.ops.>")
        assert (await anext(tail)).seq == 1
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        async with asyncio.timeout(10):
            while True:
                try:
                    await store.append(phase("op1"))
                    break
                except (StoreTimeout, StoreUnavailable):  # retryable while it restarts
                    await asyncio.sleep(0.1)
            record = await anext(tail)
        assert record.seq == 2  # no gap, no repeat
        await tail.aclose()
    finally:
        await disconnect(client)
        await asyncio.to_thread(server.stop)


async def test_the_log_refuses_deletes_and_purges_for_good(nc: Client) -> None:
    """deny_delete / deny_purge on the events stream: no message can be removed, and the
    server lets nobody switch them off again. A stream made before them gets them on setup."""
    settings = fresh()
    js = nc.jetstream()
    await js.add_stream(  # as an older trainjet made it: no deny flags
        api.StreamConfig(
            name=settings.events_stream_name,
            subjects=settings.events_subjects,
            allow_direct=True,
        )
    )
    try:
        await ensure_streams(js, settings)
        config = (await js.stream_info(settings.events_stream_name)).config
        assert (config.deny_delete, config.deny_purge) == (True, True)
        seq = await JetStreamEventStore(nc, settings).append(phase())
        with pytest.raises(nats.js.errors.APIError, match="not permitted"):
            await js.purge_stream(settings.events_stream_name)
        with pytest.raises(nats.js.errors.APIError, match="not permitted"):
            await js.delete_msg(settings.events_stream_name, seq)
        with pytest.raises(nats.js.errors.APIError, match="can not cancel deny"):
            await js.update_stream(config.evolve(deny_purge=False))
        assert (await js.stream_info(settings.events_stream_name)).state.messages == 1
    finally:
        await drop(nc, settings)


async def test_provision_reports_what_it_created_changed_or_found(nc: Client) -> None:
    settings = fresh()
    js = nc.jetstream()
    try:
        first = await provision(js, settings)
        assert [(p.kind, p.action) for p in first] == [
            ("stream", "created"), ("stream", "created"), ("bucket", "created"),
            ("bucket", "created"), ("bucket", "created"), ("bucket", "created"),
            ("consumer", "created"), ("consumer", "created"),
        ]  # fmt: skip
        assert first[0].line().split() == ["created", "stream", settings.events_stream_name,
                                           "(replicas", "1)"]  # fmt: skip
        again = await provision(js, settings)
        assert {p.action for p in again} == {"found"}
        longer = msgspec.structs.replace(settings, runner_ttl_seconds=30.0, lease_seconds=20.0)
        changed = {p.name: p.action for p in await provision(js, longer)}
        assert changed[settings.bucket_name] == "updated"
        assert changed[f"runners-local on {settings.commands_stream_name}"] == "updated"
        assert changed[settings.events_stream_name] == "found"
    finally:
        await drop(nc, settings)
        buckets = (
            settings.checkpoints_bucket_name,
            settings.models_bucket_name,
            settings.snapshots_bucket_name,
        )
        for bucket in buckets:
            await js.delete_stream(f"OBJ_{bucket}")


async def test_processes_only_check_the_layout_and_name_the_fix(nc: Client) -> None:
    """Without `trainjet setup` nothing is created behind the operator's back: each adapter
    and the start-up check stop with one line naming the missing part and the fix."""
    settings = fresh()
    js = nc.jetstream()
    with pytest.raises(LayoutMissing) as caught:
        await require_layout(js, settings)
    assert str(caught.value) == (
        f"stream {settings.events_stream_name} not found: run `trainjet setup` with admin credentials"
    )
    with pytest.raises(LayoutMissing, match=f"bucket {settings.bucket_name} not found"):
        await JetStreamRunnerRegistry(nc, settings).list()
    with pytest.raises(LayoutMissing, match=r"trainjet_models.* not found: run `trainjet setup`"):
        await JetStreamBlobStore(nc, settings.models_bucket_name, settings).keys()
    await ensure_streams(js, settings, pools=[])
    try:
        with pytest.raises(LayoutMissing, match=r"consumer runners-host .* not found"):
            await JetStreamCommandQueue(nc, settings).next_claim("host", 0.5)
        with pytest.raises(LayoutMissing, match="consumer runners-local"):
            await require_layout(js, settings, ["events", "commands", "runners"], ["local"])
        with pytest.raises(nats.js.errors.NotFoundError):  # nothing was created
            await js.stream_info(f"OBJ_{settings.models_bucket_name}")
    finally:
        await drop(nc, settings)


async def test_runners_take_the_lease_from_the_pool_consumer(nc: Client) -> None:
    """The consumer `trainjet setup` made decides the lease, whatever the runner's settings."""
    settings = fresh()
    js = nc.jetstream()
    await ensure_streams(js, msgspec.structs.replace(settings, lease_seconds=7.0))
    try:
        queue = JetStreamCommandQueue(nc, settings)  # configured for 15 s
        assert await queue.next_claim("local", 0.2) is None
        assert queue.lease_seconds == 7.0
    finally:
        await drop(nc, settings)
