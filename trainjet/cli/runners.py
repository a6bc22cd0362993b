"""`trainjet runners`: the live runners (from their heartbeats in the registry, via the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from trainjet.cli.client import ApiClient
from trainjet.cli.output import console, print_json
from trainjet.config import Settings


def _age(stamp: str, now: datetime) -> str:
    try:
        seen = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp or "-"
    return f"{max(0.0, (now - seen).total_seconds()):.1f}s ago"


def _device(row: dict[str, Any]) -> str:
    gpu = row.get("gpu") or {}
    name = gpu.get("name") or gpu.get("device_name")
    return f"{row.get('device', 'cpu')} ({name})" if name else str(row.get("device", "cpu"))


def runners_table(rows: list[dict[str, Any]], now: datetime) -> Table:
    table = Table(title=f"Runners ({len(rows)} live)")
    for column in ("runner id", "pool", "host", "pid", "device", "busy", "last seen"):
        table.add_column(column, no_wrap=True)
    table.add_column("running", no_wrap=True)
    for row in rows:
        current = row.get("current_operations") or []
        table.add_row(
            row["runner_id"],
            row["pool"],
            row.get("host", ""),
            str(row.get("pid", "")),
            _device(row),
            f"{len(current)}/{row.get('concurrency', 1)}",
            _age(str(row.get("last_seen", "")), now),
            " ".join(current),
        )
    return table


def show_runners(settings: Settings, *, as_json: bool) -> int:
    with ApiClient(settings) as api:
        body = api.get("/runners")
    rows: list[dict[str, Any]] = body["data"]
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        console.print(
            "[yellow]no live runner: operations stay pending until one starts "
            "(`trainjet runner`, or `trainjet serve --runners N`)[/yellow]"
        )
        return 0
    console.print(runners_table(rows, datetime.now(UTC)))
    return 0
