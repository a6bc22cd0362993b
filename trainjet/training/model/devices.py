"""Which device trains, and what the GPU is doing (for progress context and result summaries).

`gpu_snapshot` is meant to be called from the training thread at progress-emission time, so
it is cheap and rate-bounded: it reads counters only (no `gc.collect`, no synchronisation, the
cause of ktrdr's 25-100 % GPU slowdown) and serves a cached answer younger than
`max_age_s`. Compute utilisation comes from NVML when `pynvml` is installed (ktrdr reported
memory % as "utilisation"); otherwise it is None rather than a made-up number.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from typing import Any

import torch

from trainjet.training.errors import DeviceUnavailableError

DEVICE_ENV = "TRAINJET_DEVICE"
_MB = 1024 * 1024

_cache_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(preference: str | None = None) -> torch.device:
    """CUDA, then MPS, then CPU; `preference` (or `$TRAINJET_DEVICE`) forces one.

    A forced device that is not there is an error, not a silent fallback: a run meant for the
    GPU that quietly trains on CPU takes hours and reports nothing wrong.
    """
    choice = (preference or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError:
        device = torch.device("meta")  # reported as unsupported below
    if device.type not in ("cpu", "cuda", "mps"):
        raise DeviceUnavailableError(
            f"Unsupported device {choice!r}; use auto, cpu, cuda[:N] or mps"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"Device {choice!r} requested but CUDA is not available")
    if device.type == "mps" and not _mps_available():
        raise DeviceUnavailableError(f"Device {choice!r} requested but MPS is not available")
    return device


def _nvml_utilisation(index: int) -> tuple[float | None, float | None, float | None]:
    """(compute %, memory used MB, memory total MB) from NVML, or Nones without pynvml."""
    try:
        import pynvml  # optional dependency
    except ImportError:
        return None, None, None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        util = pynvml.nvmlDeviceGetUtilizationRates(handle)
        mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
        return float(util.gpu), mem.used / _MB, mem.total / _MB
    except Exception:  # NVML missing from the driver, permissions: no figure, no failure
        return None, None, None


def _snapshot(device: torch.device) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "device": str(device),
        "device_type": device.type,
        "gpu_used": device.type in ("cuda", "mps"),
        "name": None,
        "memory_used_mb": None,
        "memory_total_mb": None,
        "memory_allocated_mb": None,
        "utilization_percent": None,
    }
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        snap["name"] = props.name
        snap["memory_total_mb"] = round(props.total_memory / _MB, 1)
        snap["memory_allocated_mb"] = round(torch.cuda.memory_allocated(index) / _MB, 1)
        util, used, total = _nvml_utilisation(index)
        snap["utilization_percent"] = util
        if used is not None:
            snap["memory_used_mb"] = round(used, 1)
            snap["memory_total_mb"] = round(total or 0.0, 1)
        else:  # the caching allocator's reservation is the closest torch-only figure
            snap["memory_used_mb"] = round(torch.cuda.memory_reserved(index) / _MB, 1)
    elif device.type == "mps":
        snap["name"] = "Apple MPS"
        snap["memory_allocated_mb"] = round(torch.mps.current_allocated_memory() / _MB, 1)
        snap["memory_used_mb"] = round(torch.mps.driver_allocated_memory() / _MB, 1)
    else:
        snap["name"] = platform.processor() or platform.machine() or "cpu"
    return snap


def gpu_snapshot(
    device: torch.device | str | None = None, *, max_age_s: float = 1.0
) -> dict[str, Any]:
    """Device name, memory used/total MB, compute utilisation %; cached for `max_age_s`."""
    dev = select_device() if device is None else torch.device(device)
    key = str(dev)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < max_age_s:
            return dict(hit[1])
    snap = _snapshot(dev)
    with _cache_lock:
        _cache[key] = (now, snap)
    return dict(snap)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak device memory for CUDA; otherwise the process's peak resident set size."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / _MB, 1)
    try:
        import resource  # not on Windows
    except ImportError:
        return None
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # Linux reports KiB, macOS bytes.
    return round(peak / _MB if sys.platform == "darwin" else peak / 1024, 1)
