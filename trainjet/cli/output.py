"""Rendering helpers shared by the commands: JSON for scripts, rich tables for people."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table

from trainjet.core.events import OperationStatus

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


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


TERMINAL_STATUSES = {status.value for status in OperationStatus if status.is_terminal}


def operations_table(rows: list[dict[str, Any]], total: int, active: int) -> Table:
    """Ids are what people copy into the next command, so they are never cut. On a narrow
    terminal the least needed columns go first (created, type, done), then strategy and
    runner are shortened with an ellipsis; the step (last) gets what is left. A finished run
    has no step (its last one, "Saving the model", would read as if it still were at it)."""
    table = Table(title=f"Operations ({len(rows)} of {total}, {active} active)")
    columns = {
        "operation id": [r["operation_id"] for r in rows],
        "type": [str(r["operation_type"]) for r in rows],
        "strategy": [str(r.get("strategy") or "-") for r in rows],
        "status": [str(r["status"]) for r in rows],
        "done": [f"{r['progress_percentage']:.1f}%" for r in rows],
        "best val": [_pct(r.get("best_val_accuracy")) for r in rows],
        "runner": [str(r.get("runner_id") or "-") for r in rows],
        "created UTC": [str(r["created_at"])[5:16].replace("T", " ") for r in rows],
    }
    widths = {name: max([len(name), *map(len, values)]) for name, values in columns.items()}
    for optional in ("created UTC", "type", "done"):
        if 1 + sum(w + 3 for w in widths.values()) <= console.width:
            break
        del columns[optional], widths[optional]
    shrinkable = ("strategy", "runner")
    used = 1
    for name, width in widths.items():
        if name in shrinkable:
            # wrappable, so rich may narrow it; names have no spaces, so they end in "…"
            table.add_column(name, overflow="ellipsis", min_width=min(width, 8))
        else:
            table.add_column(name, no_wrap=True, min_width=width, justify="left")
        used += (min(width, 8) if name in shrinkable else width) + 3  # padding and a border
    natural = 1 + sum(w + 3 for w in widths.values())
    step_width = console.width - max(used, natural) - 3 if natural <= console.width else 0
    if step_width >= 8:
        table.add_column("step", no_wrap=True, overflow="ellipsis", max_width=step_width)
    status_at = list(columns).index("status")
    for i, row in enumerate(rows):
        cells = [values[i] for values in columns.values()]
        cells[status_at] = status_text(cells[status_at])
        if step_width >= 8:
            finished = str(row["status"]) in TERMINAL_STATUSES
            cells.append("" if finished else row.get("current_step") or "")
        table.add_row(*cells)
    return table


def operation_table(op: dict[str, Any], *, with_result: bool = True) -> RenderableType:
    """One operation's fields; its result follows as a table of its own (`result_table`)."""
    table = Table(show_header=False, title=op["operation_id"])
    table.add_column("field", style="bold")
    table.add_column("value")
    progress = op.get("progress", {})
    params = (op.get("metadata") or {}).get("parameters") or {}
    finished = str(op["status"]) in TERMINAL_STATUSES
    step = "" if finished else progress.get("current_step") or ""
    rows = [
        ("type", op["operation_type"]),
        ("status", status_text(op["status"])),
        ("progress", f"{progress.get('percentage', 0):.1f}%  {step}".rstrip()),
        ("strategy", str(params.get("strategy_name") or "")),
        ("symbols", ", ".join(params.get("symbols") or [])),
        ("timeframes", ", ".join(params.get("timeframes") or [])),
        ("created", str(op.get("created_at"))),
        ("started", str(op.get("started_at") or "")),
        ("completed", str(op.get("completed_at") or "")),
        ("duration", f"{op['duration_seconds']:.1f}s" if op.get("duration_seconds") else ""),
        ("runner", f"{op.get('runner_id') or ''} (attempt {op.get('attempt', 0)})"),
        ("error", op.get("error_message") or ""),
        ("tags", ", ".join(op.get("tags") or [])),
    ]
    for key, value in rows:
        if value or key in ("type", "status"):
            table.add_row(key, value)
    for warning in op.get("warnings", []):
        table.add_row("warning", f"[yellow]{warning}[/yellow]")
    for note in op.get("notes") or []:
        stamp = str(note.get("at", ""))[:19].replace("T", " ")
        table.add_row("note", f"{note.get('text', '')} [dim]({note.get('by')}, {stamp})[/dim]")
    result = op.get("result_summary")
    if with_result and result:
        # a training's result reads best as the table `train` prints at the end; anything
        # else as a table of its figures (`--json` has every field of either)
        if "training_metrics" in result:
            from trainjet.cli.run_tables import training_result_table

            return Group(table, training_result_table(result))
        from trainjet.cli.run_tables import result_table

        return Group(table, result_table(result))
    return table
