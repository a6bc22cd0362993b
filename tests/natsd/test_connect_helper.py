"""`connect`: fails fast and clearly, reconnects for ever once connected; `redact`."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from trainjet.core.store import StoreUnavailable
from trainjet.natsd import EmbeddedNats, connect, disconnect, redact, redact_all, split_urls

pytestmark = pytest.mark.timeout(60)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("nats://user:s3cret@host:4222", "nats://host:4222"),
        ("nats://tok3n@10.0.0.1:4222", "nats://10.0.0.1:4222"),
        ("tls://u:p@w@host:4443/", "tls://host:4443/"),
        ("nats://host:4222", "nats://host:4222"),
        ("  nats://a:b@h:1 ", "nats://h:1"),
        ("nats://u:pa/ss@host:4222", "nats://host:4222"),
        ("user:pass@host:4222", "host:4222"),
        ("host:4222", "host:4222"),
    ],
)
def test_redact_strips_credentials(url: str, safe: str) -> None:
    assert redact(url) == safe


def test_split_and_redact_lists() -> None:
    assert split_urls("a:4222, nats://u:p@b:4222,,") == ["nats://a:4222", "nats://u:p@b:4222"]
    assert redact_all(["nats://u:p@a:1", "b:2"]) == "nats://a:1, nats://b:2"


async def test_connects_and_reports_the_server(nats_server: str) -> None:
    client = await connect(nats_server, name="probe")
    try:
        assert client.is_connected
        assert client.options["max_reconnect_attempts"] == -1  # rides out outages
    finally:
        await disconnect(client)


async def test_nobody_answering_fails_fast_naming_the_url_not_the_password() -> None:
    port = unused_port()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        await connect(f"nats://alice:s3cret@127.0.0.1:{port}", connect_timeout=0.5)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert f"nats://127.0.0.1:{port}" in message
    assert "s3cret" not in message
    assert "TRAINJET_NATS_URL" in message
    assert caught.value.retryable is True
    assert isinstance(caught.value, ConnectionError)


async def test_no_url_at_all() -> None:
    with pytest.raises(StoreUnavailable, match="TRAINJET_NATS_URL"):
        await connect(" , ")


async def test_wrong_credentials_say_so(tmp_path: Path) -> None:
    config = tmp_path / "auth.conf"
    config.write_text('authorization { user: alice, password: "right" }\n')
    with EmbeddedNats(tmp_path, config=config) as server:
        with pytest.raises(StoreUnavailable, match="authorization") as caught:
            await connect(server.url, user="alice", password="wrong", connect_timeout=0.5)
        assert "wrong" not in str(caught.value)
        client = await connect(server.url, user="alice", password="right")
        await disconnect(client)


async def test_reconnects_after_a_server_restart(tmp_path: Path) -> None:
    port = unused_port()
    server = EmbeddedNats(tmp_path, port=port)
    await asyncio.to_thread(server.start)
    client = await connect(server.url)
    try:
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(1.0)  # longer than the first connect's whole budget
        await asyncio.to_thread(server.start)
        async with asyncio.timeout(10):
            while not client.is_connected:  # noqa: ASYNC110 - connect() exposes no reconnect hook
                await asyncio.sleep(0.1)
        await client.publish("ping", b"")
        await client.flush()
    finally:
        await disconnect(client)
        await asyncio.to_thread(server.stop)
