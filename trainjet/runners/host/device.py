"""The host runner's device and its figures, for heartbeats and progress context.

torch is imported here only when a host runner starts, never by the API or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The fields of `gpu_snapshot` worth sending on every heartbeat and progress event.
_FIELDS = (
    "device",
    "device_type",
    "gpu_used",
    "name",
    "memory_used_mb",
    "memory_total_mb",
    "memory_allocated_mb",
    "utilization_percent",
)


def host_device() -> str:
    """CUDA, then MPS, then CPU (or $TRAINJET_DEVICE), as the training pipeline picks it."""
    from trainjet.training.model.devices import select_device

    return str(select_device())


def gpu_probe(device: str, max_age_s: float = 1.0) -> Callable[[], dict[str, Any]]:
    """A cheap, cached device snapshot (counters only: no sync, no `gc.collect`)."""
    from trainjet.training.model.devices import gpu_snapshot

    def probe() -> dict[str, Any]:
        snap = gpu_snapshot(device, max_age_s=max_age_s)
        return {key: snap.get(key) for key in _FIELDS}

    return probe
