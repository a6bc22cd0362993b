"""How a fault-injection scenario reports its measured figure.

Each scenario calls `record(...)` once: it prints one line and, when `TRAINJET_CHAOS_REPORT`
names a file (set by `make chaos`), appends one JSON object to it: {"scenario": str,
"figure": str, "value": number | null, "ok": bool}; `tools/chaos_report.py` turns the file
into the table of docs/reliability.md. `TRAINJET_CHAOS_FULL=1` runs the heavy repetitions;
without it each scenario runs a small variant that fits `make test` on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trainjet.core.events import TERMINAL_TYPES as TERMINAL_EVENT_TYPES
from trainjet.core.events import type_name

REPORT_ENV = "TRAINJET_CHAOS_REPORT"
FULL_ENV = "TRAINJET_CHAOS_FULL"


def full() -> bool:
    return os.environ.get(FULL_ENV, "").lower() in ("1", "true", "yes")


FULL = full()


def count(fast: int, full: int) -> int:
    """Repetitions: `full` under TRAINJET_CHAOS_FULL=1, else `fast`."""
    return full if FULL else fast


def record(scenario: str, figure: str, value: float | None, ok: bool) -> None:
    """Write `{"scenario", "figure", "value", "ok"}` to the report file, and say it."""
    line = {"scenario": scenario, "figure": figure, "value": value, "ok": ok}
    print(f"\nchaos: {scenario}: {figure} = {value} ({'ok' if ok else 'NOT OK'})")
    target = os.environ.get(REPORT_ENV)
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


# the wire names of the terminal events, from the event model (not spelled out again here)
TERMINAL_TYPES = frozenset(type_name(t) for t in TERMINAL_EVENT_TYPES)


def terminal_counts(events_by_op: Mapping[str, Iterable[Any]]) -> dict[str, int]:
    """Terminal events per operation, from event type names."""
    return {op: sum(1 for t in types if t in TERMINAL_TYPES) for op, types in events_by_op.items()}
