"""The deployment files say what the code expects: nats.conf and the cluster node config
are valid for the bundled nats-server and share one cluster block, and docker-compose.yml
runs three replicated NATS nodes, a one-shot `trainjet setup` as the admin, then the API and
runners of both pools as their NATS users."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from trainjet.natsd import find_nats_server

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {
    "TRAINJET_NATS_ADMIN_PASSWORD": "x",
    "TRAINJET_NATS_API_PASSWORD": "a",
    "TRAINJET_NATS_RUNNER_PASSWORD": "r",
    "TRAINJET_NATS_VIEWER_PASSWORD": "v",
    "NATS_SERVER_NAME": "nats-1",
}


@pytest.mark.parametrize("config", ["nats.conf", "deploy/nats/cluster.conf"])
def test_nats_configs_are_valid(config: str) -> None:
    result = subprocess.run(
        [str(find_nats_server()), "-c", str(ROOT / config), "-t"],
        env={**os.environ, **PASSWORDS}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_nats_conf_carries_the_cluster_block_the_nodes_run() -> None:
    commented = re.search(r"^# cluster \{.*?^# \}", (ROOT / "nats.conf").read_text(), re.M | re.S)
    live = re.search(
        r"^cluster \{.*?^\}", (ROOT / "deploy/nats/cluster.conf").read_text(), re.M | re.S
    )
    assert commented and live
    assert re.sub(r"^# ?", "", commented.group(0), flags=re.M) == live.group(0)


def test_compose_file_describes_the_cluster_api_and_both_pools() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"nats-1", "nats-2", "nats-3", "api", "runner-local", "runner-host"} <= set(services)
    for node in ("nats-1", "nats-2", "nats-3"):
        assert services[node]["command"] == ["-c", "/etc/nats/cluster.conf"]
        assert services[node]["environment"]["NATS_SERVER_NAME"] == node
    users = {
        "api": "trainjet-api",
        "runner-local": "trainjet-runner",
        "runner-host": "trainjet-runner",
    }
    for name, user in users.items():
        env = services[name]["environment"]
        assert env["TRAINJET_NATS_URL"].count("nats://") == 3
        assert env["TRAINJET_STREAM_REPLICAS"] == "3"
        assert env["TRAINJET_NATS_USER"] == user
    assert services["runner-host"]["command"][-2:] == ["--pool", "host"]
    assert services["runner-local"]["command"][2:4] == ["--pool", "local"]


def test_compose_lays_out_the_streams_once_as_admin_before_anything_starts() -> None:
    """Only the admin may create streams, so a one-shot setup service does it and the API and
    runners wait for it to finish; every node knows the admin's password."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    setup = services["setup"]
    assert setup["command"] == ["trainjet", "setup"]
    assert setup["restart"] == "no"
    assert setup["environment"]["TRAINJET_NATS_USER"] == "trainjet-admin"
    assert "TRAINJET_NATS_ADMIN_PASSWORD" in setup["environment"]["TRAINJET_NATS_PASSWORD"]
    assert setup["environment"]["TRAINJET_STREAM_REPLICAS"] == "3"
    assert set(setup["depends_on"]) == {"nats-1", "nats-2", "nats-3"}
    for name in ("api", "runner-local", "runner-host"):
        assert services[name]["depends_on"] == {
            "setup": {"condition": "service_completed_successfully"}
        }
    for node in ("nats-1", "nats-2", "nats-3"):
        assert "TRAINJET_NATS_ADMIN_PASSWORD" in services[node]["environment"]
    example = (ROOT / "deploy/env.example").read_text()
    assert "TRAINJET_NATS_ADMIN_PASSWORD=" in example


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client installed")
def test_docker_compose_accepts_the_compose_file() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker client has no compose plugin (`docker compose` is unknown)")
    for files in (["docker-compose.yml"], ["docker-compose.yml", "deploy/docker-compose.gpu.yml"]):
        args = [arg for f in files for arg in ("-f", f)]
        result = subprocess.run(["docker", "compose", *args, "config", "-q"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr
