"""What the web console reads beyond the plain operation endpoints: one live stream of every
operation's summary, screen-sized training curves, the rebuild audit and the JSON Lines export.

Registered before `/operations/{operation_id}` so that `events-stream` is not taken for an id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from trainjet.api.deps import get_backend
from trainjet.api.encoding import json_response, operation_dict
from trainjet.api.list_rows import ROWS
from trainjet.api.schemas_views import AuditResponse, CurvesResponse, raw_body
from trainjet.core.events import AnyEvent, BatchProgress, to_builtins, utcnow
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.trends import metrics_view
from trainjet.core.store.port import StoredEvent
from trainjet.replay import diff, metrics_json, rebuild
from trainjet.replay.curves import batch_series
from trainjet.replay.export import event_row
from trainjet.system import ApiSystem

router = APIRouter(prefix="/operations", tags=["Operations"])
BackendDep = Annotated[ApiSystem, Depends(get_backend)]

# A list stream sends at most one message per window, whatever the event rate: a runner
# reporting batches, or 10,000 operations created at once, cost the browser a few messages.
COALESCE_SECONDS = 0.5
# More changes than this in one window: tell the client to reload its page instead.
MAX_ROWS_PER_MESSAGE = 200
KEEPALIVE_SECONDS = 15.0


@router.get(
    "/events-stream",
    response_class=StreamingResponse,
    responses=raw_body(
        "text/event-stream",
        "Server-sent events: `ready`, then `operations` "
        "(changed summaries, as in GET /operations) or `resync`",
    ),
)
async def operations_stream(request: Request, backend: BackendDep) -> Response:
    """Server-sent events for the whole list: `operations` carries the summaries (as in
    `GET /operations`) of the operations that changed in the last window; `resync` says too
    many changed at once and the client should re-read its page."""
    return StreamingResponse(
        _list_sse(backend, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _list_sse(backend: ApiSystem, request: Request) -> AsyncIterator[bytes]:
    changed: set[str] = set()
    wake = asyncio.Event()

    def listener(info: OperationInfo, _: AnyEvent) -> None:
        changed.add(info.operation_id)
        wake.set()

    projector = backend.projector
    loop = asyncio.get_running_loop()
    last_flush = 0.0
    projector.add_listener(listener)
    try:
        yield b"retry: 2000\nevent: ready\ndata: {}\n\n"
        while True:
            try:
                await asyncio.wait_for(wake.wait(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
                continue
            # A lone change goes out at once; under a stream of changes, at most one
            # message per window carries everything that changed meanwhile.
            wait = last_flush + COALESCE_SECONDS - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            last_flush = loop.time()
            wake.clear()
            ids, now = list(changed), utcnow()
            changed.clear()
            if len(ids) > MAX_ROWS_PER_MESSAGE:
                yield b"event: resync\ndata: %s\n\n" % json.dumps({"changed": len(ids)}).encode()
                continue
            query = projector.query
            rows = ROWS.array(
                ((info, query.metrics(i)) for i in ids if (info := query.get(i)) is not None),
                now,
            )
            yield b"event: operations\ndata: %s\n\n" % rows
    finally:
        projector.remove_listener(listener)


def _info(backend: ApiSystem, operation_id: str) -> OperationInfo:
    return backend.orchestrator.get(operation_id)


def _timeline_entry(record: StoredEvent) -> dict[str, Any]:
    row = event_row(record)
    row.pop("subject", None)
    return row


@router.get("/{operation_id}/curves", response_model=CurvesResponse)
async def get_curves(
    operation_id: str,
    backend: BackendDep,
    max_points: Annotated[
        int, Query(ge=3, le=100_000, description="Most points per batch series (LTTB)")
    ] = 2000,
) -> Response:
    """Per-batch loss and accuracy (downsampled with LTTB to `max_points`), the per-epoch
    history with the best epoch, and the event timeline without the batch reports."""
    info = _info(backend, operation_id)
    records = await backend.store.read_operation(operation_id)
    stored = [r for r in records if isinstance(r, StoredEvent)]
    series = await asyncio.to_thread(batch_series, [r.event for r in stored], max_points)
    metrics = metrics_view(info, backend.projector.query.metrics(operation_id))["metrics"]
    return json_response(
        {
            "success": True,
            "data": {
                "operation_id": operation_id,
                "last_seq": stored[-1].seq if stored else 0,
                "batches": series,
                "epochs": metrics,
                "timeline": [
                    _timeline_entry(r) for r in stored if not isinstance(r.event, BatchProgress)
                ],
            },
        }
    )


@router.get("/{operation_id}/audit", response_model=AuditResponse)
async def audit_operation(operation_id: str, backend: BackendDep) -> Response:
    """`trainjet replay --audit` for one operation, run by the server: fold the operation's
    events from the log from scratch and compare, field by field, with what the live
    projection serves. The comparison is made at one stream position (the served one), so
    an operation that is still running does not show its own progress as a difference."""
    _info(backend, operation_id)
    records = await backend.store.read_operation(operation_id)
    if records:
        await backend.projector.wait_until(records[-1].seq)
    # no await between reading the served state and its position: they belong together
    served = backend.orchestrator.get(operation_id)
    served_info = msgspec.json.decode(msgspec.json.encode(operation_dict(served)))
    served_metrics = msgspec.json.decode(
        msgspec.json.encode(metrics_view(served, backend.projector.query.metrics(operation_id)))
    )
    replay = rebuild(records, operation_id, at=served.last_sequence)
    if replay.info is None:
        differences = [{"path": "$", "rebuilt": None, "served": served_info.get("status")}]
    else:
        rebuilt_info = msgspec.json.decode(msgspec.json.encode(replay.info))
        found = diff(rebuilt_info, served_info)
        found += [
            type(d)(f"metrics.{d.path}", d.rebuilt, d.served)
            for d in diff(metrics_json(replay.info, replay.metrics), served_metrics)
        ]
        differences = [{"path": d.path, "rebuilt": d.rebuilt, "served": d.served} for d in found]
    return json_response(
        {
            "success": True,
            "data": {
                "operation_id": operation_id,
                "at_sequence": served.last_sequence,
                "events_folded": len(replay.events),
                "ok": not differences,
                "differences": differences,
            },
        }
    )


@router.get(
    "/{operation_id}/export",
    response_class=Response,
    responses=raw_body("application/x-ndjson", "One stored event per line (JSON Lines)"),
)
async def export_operation(operation_id: str, backend: BackendDep) -> Response:
    """The operation's events as JSON Lines (the file `trainjet replay --export` writes, which
    `trainjet.replay.read_events` reads back). Operation ids are letters, digits, '_' and
    '-' only (the store refuses others), so the id is safe as a file name."""
    _info(backend, operation_id)
    records = await backend.store.read_operation(operation_id)
    lines = [
        msgspec.json.encode({"seq": r.seq, "subject": r.subject, **to_builtins(r.event)})
        for r in records
        if isinstance(r, StoredEvent)
    ]
    return Response(
        content=b"".join(line + b"\n" for line in lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{operation_id}.jsonl"'},
    )
