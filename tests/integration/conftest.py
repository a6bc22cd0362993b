"""Integration fixtures: a fresh nats-server per test (cheap, and no test sees another's
streams), and a `Stack` of real trainjet processes on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import Stack
from trainjet.natsd import EmbeddedNats


@pytest.fixture
def fresh_nats(tmp_path: Path) -> Iterator[str]:
    with EmbeddedNats(tmp_path / "nats-data") as server:
        yield server.url


@pytest.fixture
def stack(fresh_nats: str, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(
        fresh_nats,
        tmp_path,
        TRAINJET_RUNNER_TTL_SECONDS="2",
        TRAINJET_LEASE_SECONDS="3",
    )
    try:
        yield s
    finally:
        s.close()
