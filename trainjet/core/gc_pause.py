"""Pausing Python's cycle collector around a burst of allocations that makes no cycles.

Decoding a large snapshot, or folding a long log at start-up, allocates hundreds of thousands
of containers that all stay alive; every 700 allocations the collector runs and rescans the
young ones, and its older generations rescan all of them again and again. Neither makes
reference cycles, so the collector can wait until the burst is over.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The collector off for the block, and back on after it (also on error) if it was on;
    nested blocks leave it to the outermost one."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
