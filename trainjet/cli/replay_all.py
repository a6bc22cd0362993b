"""`trainjet replay --all [--audit]`: rebuild every operation in the stream, compare each with
the API, and report counts. Exit 1 when any operation differs or exists on one side only."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from rich.table import Table

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.output import console, print_json
from trainjet.cli.replay_source import ACTIVE, Served, audit, fetch_served, read_records
from trainjet.cli.replay_view import audit_table
from trainjet.config import Settings
from trainjet.replay import CLOCK_FIELDS, Difference, rebuild, rebuild_all

PAGE = 1000  # the API's largest page of /operations


def _served_ids(api: ApiClient) -> list[str]:
    ids: list[str] = []
    while True:
        body = api.get("/operations", params={"limit": PAGE, "offset": len(ids)})
        ids += [row["operation_id"] for row in body["data"]]
        if len(body["data"]) < PAGE or len(ids) >= body["total_count"]:
            return ids


def _projector_position(api: ApiClient) -> int | None:
    """The stream sequence the API's projections had reached (None when it cannot say)."""
    try:
        return int(api.get("/health")["projector"]["last_sequence"])
    except (CliError, KeyError, TypeError, ValueError):
        return None


def replay_all(settings: Settings, *, do_audit: bool, as_json: bool) -> int:
    served: dict[str, Served] = {}
    position: int | None = None
    if do_audit:  # before reading the log, so the log is at or past every served position
        with ApiClient(settings) as api:
            position = _projector_position(api)
            served = {op_id: fetch_served(api, op_id) for op_id in _served_ids(api)}
    records, url = asyncio.run(read_records(settings, None))
    started = time.perf_counter()
    replays = rebuild_all(records)
    rebuild_seconds = time.perf_counter() - started
    orphans = sorted(op_id for op_id, r in replays.items() if r.info is None)
    statuses = Counter(r.info.status.value for r in replays.values() if r.info is not None)
    summary: dict[str, Any] = {
        "nats_url": url,
        "events": sum(len(r.events) for r in replays.values()),
        "records": len(records),
        "operations": len(replays) - len(orphans),
        "by_status": dict(sorted(statuses.items())),
        "orphan_event_operations": orphans,
        "rebuild_seconds": round(rebuild_seconds, 4),
    }
    differing: dict[str, list[Difference]] = {}
    if do_audit:
        for op_id, replay in replays.items():
            if op_id not in served or replay.info is None:
                continue
            view = served[op_id]
            if view.operation.get("status") in ACTIVE:
                seq = int(view.operation.get("last_sequence") or 0)
                replay = rebuild(replay.events, op_id, seq)
            found = audit(replay, view)
            if found:
                differing[op_id] = found
        rebuilt_ids = {op_id for op_id, r in replays.items() if r.info is not None}
        # Created after the API was asked: not missing, just newer than the comparison.
        newer = {
            op_id
            for op_id in rebuilt_ids - served.keys()
            if position is not None and replays[op_id].events[0].seq > position
        }
        rebuilt_ids -= newer
        summary["audit"] = {
            "compared": len(rebuilt_ids & served.keys()),
            "matching": len(rebuilt_ids & served.keys()) - len(differing),
            "differing": {
                op_id: [{"path": d.path, "rebuilt": d.rebuilt, "served": d.served} for d in ds]
                for op_id, ds in differing.items()
            },
            "missing_in_api": sorted(rebuilt_ids - served.keys()),
            "missing_in_stream": sorted(served.keys() - rebuilt_ids),
            "created_during_audit": sorted(newer),
            "ignored_fields": sorted(CLOCK_FIELDS),
        }
    if as_json:
        print_json(summary)
    else:
        _print(summary, differing, settings.api_url)
    if not do_audit:
        return 0
    report = summary["audit"]
    return 1 if differing or report["missing_in_api"] or report["missing_in_stream"] else 0


def _print(summary: dict[str, Any], differing: dict[str, list[Difference]], api_url: str) -> None:
    rate = summary["events"] / summary["rebuild_seconds"] if summary["rebuild_seconds"] else 0.0
    console.print(
        f"[bold]Replayed the whole stream[/bold] from NATS at {summary['nats_url']}: "
        f"{summary['events']} events, {summary['operations']} operation(s), rebuilt in "
        f"{summary['rebuild_seconds'] * 1000:.1f} ms ({rate:,.0f} events/s)"
    )
    table = Table(show_header=False, title="Counts")
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    for status, count in summary["by_status"].items():
        table.add_row(f"operations {status}", str(count))
    if summary["orphan_event_operations"]:
        table.add_row(
            "events of operations never created", str(len(summary["orphan_event_operations"]))
        )
    report = summary.get("audit")
    if report:
        table.add_row("compared with the API", str(report["compared"]))
        table.add_row("[green]identical[/green]", str(report["matching"]))
        table.add_row("[red]different[/red]", str(len(report["differing"])))
        table.add_row("in the stream, not served", str(len(report["missing_in_api"])))
        table.add_row("served, not in the stream", str(len(report["missing_in_stream"])))
    console.print(table)
    if not report:
        return
    for op_id, found in differing.items():
        console.print(audit_table(op_id, found, f"the API at {api_url}"))
    for op_id in report["missing_in_api"]:
        console.print(f"[red]{op_id}: in the stream but the API does not serve it[/red]")
    for op_id in report["missing_in_stream"]:
        console.print(f"[red]{op_id}: served by the API but it has no events in the stream[/red]")
    ok = not (differing or report["missing_in_api"] or report["missing_in_stream"])
    console.print(
        "[green]audit OK: every operation rebuilt from its events equals what the API serves "
        "(duration_seconds excluded)[/green]"
        if ok
        else "[red]audit FAILED[/red]"
    )
