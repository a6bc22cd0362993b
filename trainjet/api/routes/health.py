"""`/health` and `/runners`: what a person on call needs to see first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Depends, Response

from trainjet import __version__
from trainjet.api.deps import get_backend
from trainjet.api.encoding import json_response
from trainjet.api.schemas_views import HealthResponse, RunnersResponse
from trainjet.system import ApiSystem

router = APIRouter(tags=["Health"])
BackendDep = Annotated[ApiSystem, Depends(get_backend)]
T = TypeVar("T")


# Each check of /health gets this long, all at once: a probe must answer within a second
# whatever NATS does (three sequential 5 s request timeouts made it 15 s).
CHECK_SECONDS = 0.8


async def _check(
    name: str, call: Awaitable[T], default: T, problems: list[str], down: set[str]
) -> T:
    try:
        return await asyncio.wait_for(call, CHECK_SECONDS)
    except TimeoutError:
        problems.append(f"{name}: no answer within {CHECK_SECONDS}s")
    except Exception as exc:
        problems.append(f"{name}: {exc}")
    down.add(name)
    return default


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "Something did not answer"}},
)
async def health(backend: BackendDep) -> Response:
    projector = backend.projector
    problems: list[str] = []
    down: set[str] = set()
    if backend.connected is not None and not backend.connected():
        problems.append(f"NATS: unreachable at {backend.nats_url} (reconnecting)")
        down.add("NATS")

    async def no_details() -> dict[str, Any]:
        return {}

    details, lag, listed = await asyncio.gather(
        _check("NATS", (backend.describe or no_details)(), {}, problems, down),
        _check("event store", projector.lag(), None, problems, down),
        _check("runner registry", backend.registry.list(), [], problems, down),
    )
    runners = [msgspec.to_builtins(r) for r in listed]
    if projector.error is not None:
        problems.append(f"projector stopped: {projector.error!r}")
        down.add("projector")
    by_pool: dict[str, int] = {}
    for runner in runners:
        by_pool[runner["pool"]] = by_pool.get(runner["pool"], 0) + 1
    settings = backend.settings
    fold = projector.query.stats()
    body = {
        "status": "ok" if not problems else "degraded",
        "version": __version__,
        "problems": problems,
        "down": sorted(down),
        "nats": {"url": backend.nats_url, **details.get("nats", {})},
        "streams": details.get("streams", {}),
        "projector": {
            "last_sequence": fold.last_sequence,
            "lag": lag,
            "operations": fold.operations,
            "active_operations": fold.active_operations,
            "events_applied": fold.events_applied,
            # what the fold refused (malformed, forged, duplicate, orphan...): counts per
            # reason since start and the latest few examples, both bounded
            "rejected_messages": fold.rejected_messages,
            "rejected_by_reason": fold.rejected_by_reason,
            "last_rejected": [msgspec.to_builtins(r) for r in fold.last_rejected],
            "running": projector.error is None and projector.caught_up.is_set(),
            # restart cost: the snapshot start-up began from, and what was folded after it
            "snapshot": {
                "enabled": projector.snapshots is not None,
                "covered_sequence": projector.snapshot_seq,
                "loaded_at_start": projector.loaded_snapshot_seq,
                "records_folded_at_start": projector.tail_folded,
            },
        },
        "runners": {"count": len(runners), "by_pool": by_pool},
        "orchestrator": {
            "service": "ServiceOrchestrator",
            "default_training_mode": settings.default_training_mode,
            "lease_seconds": settings.lease_seconds,
            "runner_ttl_seconds": settings.runner_ttl_seconds,
            "cancel_wait_seconds": settings.cancel_wait_seconds,
            "runners_lost_total": backend.leases.failed_total,
            "auth_required_for_writes": bool(settings.api_token),
            "auth_required_for_reads": bool(settings.api_token) and settings.api_protect_reads,
            "cors_origins": list(settings.api_cors_origins),
            "max_body_bytes": settings.api_max_body_bytes,
        },
    }
    return json_response(body, 200 if not problems else 503)


async def _runners(backend: ApiSystem, problems: list[str]) -> list[dict[str, Any]]:
    try:
        return [msgspec.to_builtins(r) for r in await backend.registry.list()]
    except Exception as exc:
        problems.append(f"runner registry: {exc}")
        return []


@router.get("/runners", response_model=RunnersResponse)
async def runners(backend: BackendDep) -> Response:
    problems: list[str] = []
    data = await _runners(backend, problems)
    data.sort(key=lambda r: (r["pool"], r["runner_id"]))
    return json_response({"success": not problems, "data": data, "count": len(data)})
