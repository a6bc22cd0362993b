"""`trainjet replay --verify-snapshot`: prove the API's stored projection snapshot equals the
full fold of the log. Exit 0 with no difference, 1 with any, 2 when there is no snapshot."""

from __future__ import annotations

import asyncio

from rich.table import Table

from trainjet.cli.client import CliError
from trainjet.cli.follow import open_store
from trainjet.cli.output import console, print_json
from trainjet.config import Settings
from trainjet.core.store.port import Record
from trainjet.replay.snapshot_audit import SnapshotAudit, verify_snapshot


async def _read(settings: Settings) -> tuple[bytes | None, list[Record], str]:
    from trainjet.core.projections.snapshot import SnapshotStore
    from trainjet.core.store.jetstream_blobs import JetStreamBlobStore

    async with open_store(settings) as (store, url):
        bucket = store.settings.snapshots_bucket_name
        snapshots = SnapshotStore(JetStreamBlobStore(store._nc, bucket, store.settings))
        # the snapshot first: the log read afterwards is at or past what it covers
        blob = await snapshots.blobs.get(snapshots.key)
        records = [r async for r in store.read_all()]
        return (blob.data if blob else None), records, url


def verify_stored_snapshot(settings: Settings, *, as_json: bool) -> int:
    from trainjet.core.projections.snapshot import SnapshotRejected, decode_snapshot
    from trainjet.core.projections.view import ViewState

    data, records, url = asyncio.run(_read(settings))
    if data is None:
        raise CliError(f"no projection snapshot on {url}: the API writes one at a clean stop", 2)
    try:
        _, state = decode_snapshot(data, ViewState)
    except SnapshotRejected as exc:
        raise CliError(f"the stored snapshot cannot be used: {exc}", 1) from exc
    result = verify_snapshot(state, records)
    if as_json:
        print_json(_as_dict(result, url))
    else:
        _print(result, url)
    return 1 if result.differences else 0


def _as_dict(result: SnapshotAudit, url: str) -> dict[str, object]:
    return {
        "nats_url": url,
        "covered_seq": result.covered_seq,
        "tail_records": result.tail_records,
        "operations": result.operations,
        "differences": [
            {"path": d.path, "full_fold": d.rebuilt, "snapshot": d.served}
            for d in result.differences
        ],
    }


def _print(result: SnapshotAudit, url: str) -> None:
    console.print(
        f"snapshot on {url} covers seq {result.covered_seq}; {result.tail_records} records "
        f"after it; {result.operations} operations compared"
    )
    if not result.differences:
        console.print(
            "[green]0 differences[/green]: the snapshot plus its tail equals the full fold"
        )
        return
    table = Table("path", "full fold", "snapshot + tail", title="differences")
    for d in result.differences[:50]:
        table.add_row(d.path, repr(d.rebuilt), repr(d.served))
    console.print(table)
    console.print(f"[red]{len(result.differences)} differences[/red]")
