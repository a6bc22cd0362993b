"""`/events/model`: the event model's names and terminal set, generated from core.events, so
the console never keeps a list of its own that could drift from the server's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from trainjet.api.encoding import json_response
from trainjet.api.schemas import EventModelResponse
from trainjet.core.events import EVENT_TYPES, TERMINAL_STATUS, OperationStatus, type_name

router = APIRouter(tags=["Events"])


def event_model() -> dict[str, Any]:
    """The answer of `GET /events/model`, read off the event model itself."""
    return {
        "event_types": [type_name(t) for t in EVENT_TYPES],
        "terminal_types": [type_name(t) for t in TERMINAL_STATUS],
        "terminal_status": {type_name(t): s.value for t, s in TERMINAL_STATUS.items()},
        "statuses": [s.value for s in OperationStatus],
        "active_statuses": [s.value for s in OperationStatus if s.is_active],
    }


EVENT_MODEL = event_model()  # fixed for the process: the model is code


@router.get("/events/model", response_model=EventModelResponse)
async def get_event_model() -> Response:
    return json_response(EVENT_MODEL)
