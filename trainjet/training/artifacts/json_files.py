"""The JSON files of a model directory: written with numpy/path/datetime values, read leniently.

A model directory may be copied in by hand or half-restored from a backup, so a missing or
broken file reads as `{}` rather than failing a listing of every model.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any


def json_default(value: Any) -> Any:
    """numpy scalars/arrays, paths, datetimes and sets in metrics and configs."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path | set | frozenset):
        return str(value) if isinstance(value, Path) else sorted(value)
    return str(value)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=json_default), encoding="utf-8")


def read_json(path: Path) -> dict[str, Any]:
    """The object in `path`, `{}` when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def files_and_size(root: Path) -> tuple[list[str], int]:
    """Every file under `root` (relative, sorted) and their total size in bytes."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return [p.relative_to(root).as_posix() for p in files], sum(p.stat().st_size for p in files)
