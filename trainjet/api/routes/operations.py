# size: every /operations route; they share paging and the projection lookups
"""`/operations`: the read side (projections) and cancel/retry (the orchestrator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from trainjet.api.deps import backend_of, get_backend, require_token
from trainjet.api.encoding import JSONBytes, json_response, operation_dict
from trainjet.api.hot_reads import Handler
from trainjet.api.list_rows import PAGES, ROWS
from trainjet.api.query_model import query_parameters, query_parser
from trainjet.api.schemas import (
    CancelOperationRequest,
    OperationCancelResponse,
    OperationEventsResponse,
    OperationListResponse,
    OperationMetricsResponse,
    OperationResultsResponse,
    OperationStatusResponse,
    RetryResponse,
)
from trainjet.api.schemas_views import raw_body
from trainjet.core.annotations import normalize_tags
from trainjet.core.errors import InvalidRequest
from trainjet.core.events import (
    TERMINAL_TYPES,
    OperationStatus,
    OperationType,
    operation_filter,
    to_builtins,
    type_name,
    utcnow,
)
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.listing import SortKey, SortOrder
from trainjet.core.projections.query import OperationFilter
from trainjet.core.projections.rejections import clip
from trainjet.core.projections.trends import metrics_view
from trainjet.core.store.port import StoredEvent
from trainjet.system import ApiSystem

router = APIRouter(prefix="/operations", tags=["Operations"])
# JetStream sequences are unsigned 64-bit; anything above cannot name an event (and makes the
# server refuse the consumer), so both the query and Last-Event-ID stop below 2**63.
MAX_SEQUENCE = 2**63 - 1
BackendDep = Annotated[ApiSystem, Depends(get_backend)]


def _get(backend: ApiSystem, operation_id: str) -> OperationInfo:
    return backend.orchestrator.get(operation_id)


class ListQuery(BaseModel):
    """`GET /operations`' query parameters."""

    model_config = ConfigDict(frozen=True)

    status: OperationStatus | None = None
    operation_type: OperationType | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000_000)
    active_only: bool = False
    sort: SortKey | None = Field(None, description="Column to sort by; default: newest first")
    order: SortOrder = SortOrder.DESC
    tag: list[str] | None = Field(
        None, description="Only operations with this tag (repeat: all of them)"
    )
    strategy: str | None = Field(None, max_length=128, description="Strategy name")
    symbol: str | None = Field(None, max_length=32, description="A symbol trained on")


# validated in one step per distinct query string: as ten FastAPI parameters they cost more
# than the page itself (`api.query_model`)
_list_query = query_parser(ListQuery)


@router.get(
    "",
    response_model=OperationListResponse,
    openapi_extra={"parameters": query_parameters(ListQuery)},
)
async def list_operations(request: Request, backend: BackendDep) -> Response:
    """Newest first (the order the log accepted them) unless `sort` names a column. Filters
    combine; `total_count` counts every match, `active_count` every active operation."""
    return _list_page(backend, request.scope["query_string"])


def _list_page(backend: ApiSystem, query_string: bytes) -> Response:
    q = _list_query(query_string)  # first: a bad query is a 422, kept page or not
    query = backend.projector.query
    version = query.version()
    kept = PAGES.get(query_string, version)
    if kept is not None:
        return JSONBytes(content=kept)
    where = OperationFilter(
        status=q.status,
        operation_type=q.operation_type,
        active_only=q.active_only,
        tags=normalize_tags(q.tag or []),
        strategy=q.strategy,
        symbol=q.symbol,
    )
    now = utcnow()
    page = query.page(where, offset=q.offset, limit=q.limit, sort=q.sort, order=q.order, now=now)
    # {"success", "data", "total_count", "active_count"}, the rows' bytes reused while their
    # operations do not change (most of a list are runs that ended)
    body = ROWS.page(page.rows, now, total_count=page.total_count, active_count=page.active_count)
    PAGES.put(query_string, version, body, page.rows, sorted_by_clock=q.sort is SortKey.DURATION)
    return JSONBytes(content=body)


@router.get("/{operation_id}", response_model=OperationStatusResponse)
async def get_operation(operation_id: str, backend: BackendDep) -> Response:
    return _read_one(backend, operation_id)


def _read_one(backend: ApiSystem, operation_id: str) -> Response:
    return json_response({"success": True, "data": operation_dict(_get(backend, operation_id))})


# The two reads clients poll, answered ahead of FastAPI's routing (`api.hot_reads`) by these
# handlers; the routes above document them and answer when that way is not taken.
async def _list_hot(request: Request) -> Response:
    return _list_page(backend_of(request), request.scope["query_string"])


async def _read_one_hot(request: Request) -> Response:
    return _read_one(backend_of(request), request.scope["path_params"]["operation_id"])


HOT_READS: dict[Callable[..., Any], Handler] = {
    list_operations: _list_hot,
    get_operation: _read_one_hot,
}


async def _cancel(
    backend: ApiSystem, operation_id: str, body: CancelOperationRequest | None
) -> Response:
    body = body or CancelOperationRequest()
    outcome = await backend.orchestrator.cancel_operation(
        operation_id, body.reason, force=body.force
    )
    info = outcome.operation
    cancelled = info.status is OperationStatus.CANCELLED
    data = {
        "success": cancelled,
        "operation_id": operation_id,
        "status": info.status if outcome.confirmed else "cancelling",
        "cancelled_at": info.completed_at if cancelled else None,
        "cancellation_reason": info.cancellation_reason,
        "task_cancelled": cancelled,
        "training_session_cancelled": cancelled and "session_id" in info.metadata.parameters,
        "confirmed": outcome.confirmed,
        "cancel_latency_ms": round(outcome.latency_ms, 2),
    }
    if outcome.confirmed and not cancelled:
        data["message"] = (
            f"The operation ended {info.status.value} before the cancellation took effect"
        )
    # 202: accepted, the runner has not confirmed yet (it will, or the lease monitor ends it)
    return json_response({"success": True, "data": data}, 200 if outcome.confirmed else 202)


@router.delete(
    "/{operation_id}", response_model=OperationCancelResponse, dependencies=[Depends(require_token)]
)
async def cancel_operation_delete(
    operation_id: str,
    backend: BackendDep,
    body: Annotated[CancelOperationRequest | None, Body()] = None,
) -> Response:
    return await _cancel(backend, operation_id, body)


@router.post(
    "/{operation_id}/cancel",
    response_model=OperationCancelResponse,
    dependencies=[Depends(require_token)],
)
async def cancel_operation_post(
    operation_id: str,
    backend: BackendDep,
    body: Annotated[CancelOperationRequest | None, Body()] = None,
) -> Response:
    return await _cancel(backend, operation_id, body)


@router.get("/{operation_id}/results", response_model=OperationResultsResponse)
async def get_results(operation_id: str, backend: BackendDep) -> Response:
    info = _get(backend, operation_id)
    if not info.status.is_terminal:
        raise InvalidRequest(f"Operation not finished (status: {info.status.value})")
    return json_response(
        {
            "success": True,
            "operation_id": operation_id,
            "operation_type": info.operation_type,
            "status": info.status,
            "error_message": info.error_message,
            "results": info.result_summary or {},
        }
    )


@router.get("/{operation_id}/metrics", response_model=OperationMetricsResponse)
async def get_metrics(operation_id: str, backend: BackendDep) -> Response:
    info = _get(backend, operation_id)
    metrics = backend.projector.query.metrics(operation_id)
    return json_response({"success": True, "data": metrics_view(info, metrics)})


@router.get("/{operation_id}/events", response_model=OperationEventsResponse)
async def get_events(
    operation_id: str,
    backend: BackendDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQUENCE)] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    _get(backend, operation_id)
    records = await backend.store.read_operation(operation_id)
    events = [
        {"seq": r.seq, "subject": r.subject, **to_builtins(r.event)}
        for r in records
        if isinstance(r, StoredEvent) and r.seq > after_seq
    ][:limit]
    return json_response(
        {
            "success": True,
            "data": {"operation_id": operation_id, "count": len(events), "events": events},
        }
    )


@router.get(
    "/{operation_id}/stream",
    response_class=StreamingResponse,
    responses=raw_body(
        "text/event-stream",
        "Server-sent events: `id` (stream sequence), "
        "`event` (event type), `data` (the event as JSON)",
    ),
)
async def stream_operation(
    operation_id: str,
    request: Request,
    backend: BackendDep,
    after_seq: Annotated[
        int, Query(ge=0, description="Skip the history up to this stream sequence")
    ] = 0,
    last_event_id: Annotated[
        str | None,
        Header(description="The `id` of the last event received: resume after it"),
    ] = None,
) -> Response:
    """Live server-sent events of one operation: its history first, then new events, ending
    after the terminal event. `Last-Event-ID` (a stream sequence) resumes a broken stream;
    `after_seq` lets a page that already drew the history (e.g. from `/curves`) start live."""
    _get(backend, operation_id)
    from_seq = _resume_from(last_event_id) if last_event_id else after_seq + 1
    return StreamingResponse(
        _sse(backend, operation_id, from_seq, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _resume_from(last_event_id: str | None) -> int:
    """The first sequence to send, from a `Last-Event-ID` checked here, before the stream
    starts: a bad value is a 400 now, not a stream broken after its headers went out."""
    if last_event_id is None or not last_event_id.strip():
        return 1
    text = last_event_id.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) < MAX_SEQUENCE):
        raise InvalidRequest(
            f"Invalid Last-Event-ID {clip(last_event_id, 40)!r}: send the `id` of the last "
            f"event received, a stream sequence from 0 to {MAX_SEQUENCE - 1}"
        )
    return int(text) + 1


async def _sse(
    backend: ApiSystem, operation_id: str, from_seq: int, request: Request
) -> AsyncIterator[bytes]:
    # The stream also ends when the server stops (`app.state.stopping`): an open stream must
    # not hold a shutdown for as long as its operation runs. The client resumes elsewhere with
    # Last-Event-ID.
    stopping: asyncio.Event = getattr(request.app.state, "stopping", None) or asyncio.Event()
    iterator = aiter(backend.store.subscribe(operation_filter(operation_id), from_seq))
    stop_wait = asyncio.ensure_future(stopping.wait())
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait(
                {pending, stop_wait}, timeout=15.0, return_when=asyncio.FIRST_COMPLETED
            )
            if stop_wait in done:
                return
            if pending not in done:
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
                continue
            record, pending = pending.result(), None
            if not isinstance(record, StoredEvent):
                continue
            event = record.event
            name = type_name(type(event))
            yield b"id: %d\nevent: %s\ndata: %s\n\n" % (
                record.seq,
                name.encode(),
                msgspec.json.encode(event),
            )
            if isinstance(event, TERMINAL_TYPES):
                return
    finally:
        stop_wait.cancel()
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})  # let it unwind; its outcome no longer matters
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


@router.post(
    "/{operation_id}/retry",
    response_model=RetryResponse,
    dependencies=[Depends(require_token)],
)
async def retry_operation(operation_id: str, backend: BackendDep) -> Response:
    """A new operation with a failed one's inputs; a training resumes from its checkpoint."""
    retried = await backend.orchestrator.retry(operation_id, backend.checkpoints)
    return json_response(
        {
            "success": True,
            "data": operation_dict(retried.operation),
            "retry_of": operation_id,
            "resume_from": retried.resume_from,
            "checkpoint_epoch": retried.checkpoint_epoch,
            "message": retried.message,
        }
    )
