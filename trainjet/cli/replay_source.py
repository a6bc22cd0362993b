"""Where a replay reads from and what it is compared with: the operation's records on NATS,
and what the API serves (or a saved snapshot of it). Shared by `replay` and `replay --all`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.follow import open_store
from trainjet.config import Settings
from trainjet.core.store.port import Record
from trainjet.replay import Difference, Replay, diff, info_json, metrics_json

ACTIVE = {"pending", "running"}


@dataclass
class Served:
    """What the other side says: the API's answers, or a saved snapshot of them."""

    operation: dict[str, Any]
    metrics: dict[str, Any] | None
    source: str
    notes: list[str] = field(default_factory=list)


async def read_records(settings: Settings, operation_id: str | None) -> tuple[list[Record], str]:
    """One operation's records (or the whole stream's, for None) and where they came from."""
    from trainjet.core.errors import InvalidName

    async with open_store(settings) as (store, url):
        if operation_id is None:
            return [r async for r in store.read_all()], url
        try:
            return await store.read_operation(operation_id), url
        except InvalidName as exc:
            raise CliError(
                f"{operation_id!r} is not a valid operation id ({exc.message})", 2
            ) from exc


def fetch_served(api: ApiClient, operation_id: str) -> Served:
    """The API's OperationInfo and metrics at one position: read again while it moves."""
    for _ in range(5):
        first = api.get(f"/operations/{operation_id}")["data"]
        metrics = api.get(f"/operations/{operation_id}/metrics")["data"]
        again = api.get(f"/operations/{operation_id}")["data"]
        if first["last_sequence"] == again["last_sequence"]:
            return Served(again, metrics, f"the API at {api.base}")
    return Served(
        again, metrics, f"the API at {api.base}", ["the operation kept changing while it was read"]
    )


def load_snapshot(path: Path) -> Served:
    """`--against FILE`: `{"operation": ..., "metrics": ...}` (what `replay --audit --json`
    prints under "served"), an API envelope, or a bare OperationInfo (`ops show ID --json`)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the snapshot {path}: {exc}", 2) from exc
    if isinstance(data, dict) and isinstance(data.get("served"), dict):
        data = data["served"]
    if isinstance(data, dict) and isinstance(data.get("operation"), dict):
        return Served(data["operation"], data.get("metrics"), str(path))
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "success" in data:
        data = data["data"]
    if not isinstance(data, dict) or "operation_id" not in data:
        raise CliError(f"{path} holds no OperationInfo (no operation_id)", 2)
    return Served(data, None, str(path), ["the snapshot has no metrics: OperationInfo only"])


def audit(replay: Replay, served: Served) -> list[Difference]:
    if replay.info is None:
        return [Difference("$", None, served.operation.get("status"))]
    found = diff(info_json(replay.info), served.operation)
    if served.metrics is not None:
        found += [
            Difference(f"metrics.{d.path}", d.rebuilt, d.served)
            for d in diff(metrics_json(replay.info, replay.metrics), served.metrics)
        ]
    return found
