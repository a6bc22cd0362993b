"""Fast JSON for read paths: msgspec encodes the read models straight to bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from fastapi import Response

from trainjet.core.events import utcnow
from trainjet.core.projections import OperationInfo

_encoder = msgspec.json.Encoder()


class JSONBytes(Response):
    media_type = "application/json"


def json_response(content: Any, status_code: int = 200) -> Response:
    return JSONBytes(content=_encoder.encode(content), status_code=status_code)


def operation_dict(info: OperationInfo, now: datetime | None = None) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(info, builtin_types=(datetime,))
    data["duration_seconds"] = info.duration_seconds(now or utcnow())
    return data
