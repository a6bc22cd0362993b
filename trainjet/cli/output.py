"""Rendering helpers shared by the commands: JSON for scripts, rich tables for people."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

STATUS_STYLE = {
    "pending": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status, "white")
    return f"[{style}]{status}[/{style}]"


def operations_table(rows: list[dict[str, Any]], total: int, active: int) -> Table:
    table = Table(title=f"Operations ({len(rows)} of {total}, {active} active)")
    for column in ("operation id", "type", "status", "progress", "step", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["operation_id"],
            row["operation_type"],
            status_text(row["status"]),
            f"{row['progress_percentage']:.1f}%",
            row.get("current_step") or "",
            str(row["created_at"])[:19].replace("T", " "),
        )
    return table


def operation_table(op: dict[str, Any]) -> Table:
    table = Table(show_header=False, title=op["operation_id"])
    table.add_column("field", style="bold")
    table.add_column("value")
    progress = op.get("progress", {})
    rows = [
        ("type", op["operation_type"]),
        ("status", status_text(op["status"])),
        ("progress", f"{progress.get('percentage', 0):.1f}%  {progress.get('current_step') or ''}"),
        ("created", str(op.get("created_at"))),
        ("started", str(op.get("started_at") or "")),
        ("completed", str(op.get("completed_at") or "")),
        ("duration", f"{op['duration_seconds']:.1f}s" if op.get("duration_seconds") else ""),
        ("runner", f"{op.get('runner_id') or ''} (attempt {op.get('attempt', 0)})"),
        ("error", op.get("error_message") or ""),
    ]
    for key, value in rows:
        table.add_row(key, value)
    for warning in op.get("warnings", []):
        table.add_row("warning", f"[yellow]{warning}[/yellow]")
    if op.get("result_summary"):
        table.add_row("result", json.dumps(op["result_summary"], default=str)[:500])
    return table
