"""Verify a projection snapshot against the full fold of the log.

A snapshot is a cache of a fold; this is how an operator proves it is a faithful one:
restore the snapshot, fold the records after it, fold every record from the start, and
compare every operation's `OperationInfo` and metrics (as the API would serve them) and the
view's own counters. Zero differences means a restart from the snapshot serves exactly what a
restart from the log would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from trainjet.core.projections.view import OperationsView, ViewState
from trainjet.core.store.port import Record
from trainjet.replay.audit import Difference, diff
from trainjet.replay.rebuild import info_json, metrics_json


@dataclass(frozen=True)
class SnapshotAudit:
    covered_seq: int  # the last sequence the snapshot covers
    tail_records: int  # records folded on top of it
    operations: int
    differences: list[Difference]


def verify_snapshot(state: ViewState, records: Sequence[Record]) -> SnapshotAudit:
    """Compare `state` plus the tail of `records` with the fold of all `records`."""
    from_snapshot = OperationsView.from_state(state)
    tail = [r for r in records if r.seq > state.last_seq]
    from_snapshot.apply_all(tail)
    full = OperationsView()
    full.apply_all(records)
    found: list[Difference] = []
    for name in ("last_seq", "applied", "orphans"):
        found += diff(getattr(full, name), getattr(from_snapshot, name), f"view.{name}")
    found += diff(dict(full.rejected.counts), dict(from_snapshot.rejected.counts), "view.rejected")
    found += diff(
        msgspec.to_builtins(dict(full.promotions)),
        msgspec.to_builtins(dict(from_snapshot.promotions)),
        "view.promotions",
    )
    for op_id in sorted(set(full.operations) | set(from_snapshot.operations)):
        rebuilt, restored = full.operations.get(op_id), from_snapshot.operations.get(op_id)
        if rebuilt is None or restored is None:
            found.append(Difference(op_id, rebuilt is not None, restored is not None))
            continue
        found += diff(info_json(rebuilt), info_json(restored), op_id)
        found += diff(
            metrics_json(rebuilt, full.metrics.get(op_id)),
            metrics_json(restored, from_snapshot.metrics.get(op_id)),
            f"{op_id}.metrics",
        )
    return SnapshotAudit(state.last_seq, len(tail), len(full.operations), found)
