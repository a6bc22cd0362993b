"""How a fault-injection scenario reports its measured figure.

Each scenario prints one line and, when `TRAINJET_CHAOS_REPORT` names a file, appends one JSON
object to it: {"scenario": str, "figure": str, "value": number | null, "ok": bool}; `make
chaos` collects those lines into the table of docs/reliability.md. `TRAINJET_CHAOS_FULL=1`
runs the heavy repetitions; without it each scenario runs a small variant that fits `make
test` on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

FULL = os.environ.get("TRAINJET_CHAOS_FULL", "") == "1"


def count(fast: int, full: int) -> int:
    """Repetitions: `full` under TRAINJET_CHAOS_FULL=1, else `fast`."""
    return full if FULL else fast


def record(scenario: str, figure: str, value: float | None, ok: bool) -> None:
    line = {"scenario": scenario, "figure": figure, "value": value, "ok": ok}
    print(f"chaos: {scenario}: {figure} = {value} ({'ok' if ok else 'NOT OK'})")
    path = os.environ.get("TRAINJET_CHAOS_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


TERMINAL_TYPES = {"operation_completed", "operation_failed", "operation_cancelled"}


def terminal_counts(events_by_op: Mapping[str, Iterable[Any]]) -> dict[str, int]:
    """Terminal events per operation, from event type names."""
    return {op: sum(1 for t in types if t in TERMINAL_TYPES) for op, types in events_by_op.items()}
