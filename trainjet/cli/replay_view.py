"""How `trainjet replay` shows what it rebuilt: tables for people, one JSON object for scripts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from trainjet.cli.output import console, operation_table
from trainjet.replay import CLOCK_FIELDS, At, Difference, Replay, info_json, metrics_json
from trainjet.replay.analytics import epoch_rows, type_counts

if TYPE_CHECKING:
    from trainjet.cli.replay_source import Served


def _at_text(at: At | None) -> str:
    if at is None:
        return ""
    return f" as of {'sequence ' + str(at) if isinstance(at, int) else at.isoformat()}"


def print_header(replay: Replay, at: At | None, url: str) -> None:
    first = replay.events[0].seq if replay.events else 0
    console.print(
        f"[bold]Replayed {replay.operation_id}[/bold]{_at_text(at)}: {len(replay.events)} events "
        f"(stream sequence {first}..{replay.last_seq}) read from NATS at {url}"
    )


def print_replay(replay: Replay, at: At | None, url: str) -> None:
    print_header(replay, at, url)
    if replay.info is None:
        console.print("[yellow]no operation_created at or before that point: no state yet[/yellow]")
        return
    info = info_json(replay.info)
    # Duration as of the last event replayed, not the reader's clock: the same every replay.
    info["duration_seconds"] = replay.info.duration_seconds(replay.events[-1].event.occurred_at)
    training = (info.get("result_summary") or {}).get("training_metrics")
    console.print(operation_table(info, with_result=not training))
    if training:
        from trainjet.cli.run_tables import training_result_table

        console.print(training_result_table(info["result_summary"]))
    counts = type_counts(replay.events)
    console.print("[dim]events:[/dim] " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if replay.rejected:
        console.print(f"[yellow]{len(replay.rejected)} malformed message(s) skipped[/yellow]")
    rows = epoch_rows(replay.events)
    if rows:
        console.print(epoch_table(rows))


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def epoch_table(rows: list[dict[str, Any]]) -> Table:
    """Per-epoch analytics: the logged figures, the train/val gap and the batch spread."""
    table = Table(title="Per-epoch analytics", header_style="bold", box=box.SIMPLE_HEAD)
    columns = [
        "epoch",
        "loss",
        "acc",
        "val_loss",
        "val_acc",
        "gap",
        "lr",
        "time",
        "n",
        "batch_loss",
        "σ",
    ]
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right", no_wrap=True)
    for row in rows:
        spread = (
            f"{row['batch_loss_min']:.3f}–{row['batch_loss_max']:.3f}"
            if row["batch_loss_min"] is not None
            else "-"
        )
        best = row["best"]
        table.add_row(
            Text(f"{row['epoch']}{' ★' if best else ''}", style="bold green" if best else ""),
            _num(row["train_loss"], 4),
            _num(row["train_accuracy"], 3),
            _num(row["val_loss"], 4),
            _num(row["val_accuracy"], 3),
            "-" if row["gap"] is None else f"{row['gap']:+.4f}",
            "-" if row["learning_rate"] is None else f"{row['learning_rate']:.2g}",
            f"{row['seconds']:.2f}s",
            str(row["batches"]),
            spread,
            _num(row["batch_loss_std"], 3),
        )
    table.caption = (
        "★ best epoch (lowest val loss) · gap = val loss − loss · n = batches · batch loss: range and σ of "
        "each batch's own loss, as logged"
    )
    return table


def audit_table(operation_id: str, differences: list[Difference], source: str) -> Table | Text:
    if not differences:
        return Text(
            f"audit OK: {operation_id} rebuilt from its events equals {source} "
            "(duration_seconds excluded: it is computed from the clock at read time)",
            style="green",
        )
    table = Table(
        title=f"audit FAILED: {len(differences)} difference(s) between the rebuild and {source}",
        title_style="bold red",
    )
    table.add_column("field")
    table.add_column("rebuilt from events")
    table.add_column("served")
    for d in differences:
        table.add_row(d.path, _short(d.rebuilt), _short(d.served))
    return table


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def replay_json(
    replay: Replay,
    at: At | None,
    served: Served | None,
    differences: list[Difference] | None,
    outputs: list[str],
    url: str,
) -> dict[str, Any]:
    info = info_json(replay.info) if replay.info else None
    body: dict[str, Any] = {
        "operation_id": replay.operation_id,
        "at": at.isoformat() if isinstance(at, datetime) else at,
        "nats_url": url,
        "events": len(replay.events),
        "event_types": type_counts(replay.events),
        "last_sequence": replay.last_seq,
        "rejected": len(replay.rejected),
        "operation": info,
        "metrics": metrics_json(replay.info, replay.metrics) if replay.info else None,
        "epochs": epoch_rows(replay.events),
        "files": outputs,
    }
    if served is not None and differences is not None:
        body["audit"] = {
            "ok": not differences,
            "source": served.source,
            "notes": served.notes,
            "ignored_fields": sorted(CLOCK_FIELDS),
            "differences": [
                {"path": d.path, "rebuilt": d.rebuilt, "served": d.served} for d in differences
            ],
            "served": {"operation": served.operation, "metrics": served.metrics},
        }
    return body
