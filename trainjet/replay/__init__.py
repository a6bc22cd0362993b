"""Replay: rebuild read models from the event log, audit them, export and analyse runs.

Pure functions over records (no NATS, no HTTP, no plotting): the CLI's `trainjet replay`
reads the records and renders; tests and notebooks can use the same pieces on a file.
"""

from trainjet.replay.audit import CLOCK_FIELDS, Difference, diff
from trainjet.replay.export import read_events, write_events
from trainjet.replay.metrics_table import metric_rows, write_metrics
from trainjet.replay.rebuild import (
    At,
    Replay,
    cut,
    info_json,
    metrics_json,
    parse_at,
    rebuild,
    rebuild_all,
)

__all__ = [
    "CLOCK_FIELDS",
    "At",
    "Difference",
    "Replay",
    "cut",
    "diff",
    "info_json",
    "metric_rows",
    "metrics_json",
    "parse_at",
    "read_events",
    "rebuild",
    "rebuild_all",
    "write_events",
    "write_metrics",
]
