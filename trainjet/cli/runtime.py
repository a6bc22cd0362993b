"""`<data dir>/runtime.json`: where a running `trainjet serve` can be reached.

`serve` writes it (embedded NATS picks a free port, so nobody else could know); `runner`,
`api` and the CLI read it when no URL was configured. Removed again on a clean exit.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainjet.config import Settings

FILENAME = "runtime.json"


def write_runtime(data_dir: Path, **fields: Any) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILENAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**fields, "pid": os.getpid()}, indent=2))
    tmp.replace(path)
    return path


def read_runtime(data_dir: Path) -> dict[str, Any]:
    """The runtime record of a live `serve`, or {} when there is none (or it died)."""
    path = data_dir / FILENAME
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    pid = data.get("pid")
    if isinstance(pid, int) and not _alive(pid):
        return {}
    return data


def remove_runtime(data_dir: Path) -> None:
    path = data_dir / FILENAME
    try:
        data = json.loads(path.read_text())
        if data.get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve_nats_url(settings: Settings) -> Settings:
    """Settings with a NATS URL: the configured one, else the one a live local `trainjet
    serve` recorded; unchanged (no URL) when there is neither."""
    if settings.nats_url:
        return settings
    recorded = read_runtime(settings.data_dir).get("nats_url")
    return replace(settings, nats_url=str(recorded)) if recorded else settings


def resolve_api_url(settings: Settings, *, explicit: bool) -> Settings:
    """Settings whose `api_url` is the one a live local `trainjet serve` recorded, unless the
    user named one (`--api-url` / TRAINJET_API_URL): `serve --port 8123` is then found
    without repeating the port, the way its NATS URL is."""
    if explicit:
        return settings
    recorded = read_runtime(settings.data_dir).get("api_url")
    return replace(settings, api_url=str(recorded)) if recorded else settings
