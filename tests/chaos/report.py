"""The chaos suite's figures: one JSON line per scenario, collected into docs/reliability.md.

Each scenario calls `record(...)` once with its measured figure. When the environment names
a report file (`TRAINJET_CHAOS_REPORT`, set by `make chaos`) the line is appended there;
`tools/chaos_report.py` turns the file into the table. `full()` says whether the long
variants run (`TRAINJET_CHAOS_FULL=1`); the default run (`make test`) takes the fast ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPORT_ENV = "TRAINJET_CHAOS_REPORT"
FULL_ENV = "TRAINJET_CHAOS_FULL"


def full() -> bool:
    return os.environ.get(FULL_ENV, "").lower() in ("1", "true", "yes")


def record(scenario: str, figure: str, value: float | None, ok: bool) -> None:
    """Write `{"scenario", "figure", "value", "ok"}` to the report file, and say it."""
    line = {"scenario": scenario, "figure": figure, "value": value, "ok": ok}
    print(f"\nchaos: {json.dumps(line)}")
    target = os.environ.get(REPORT_ENV)
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(line) + "\n")
