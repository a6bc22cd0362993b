"""Keeping Python's cycle collector off what lives for the whole process.

Decoding a large snapshot, or folding a long log at start-up, allocates hundreds of thousands
of containers that all stay alive; every 700 allocations the collector runs and rescans the
young ones, and its older generations rescan all of them again and again. Neither makes
reference cycles, so the collector can wait until the burst is over.

A runner imports torch, numpy, pandas and the pipeline before it takes work: about 200,000
containers that live as long as the process. Every full collection rescans them all, about
0.12 s of CPU, and holds the GIL meanwhile, so the whole runner stops: a cancel that arrives
then waits for it (a host cancel took 0.24-0.30 s instead of 0.02 s). Frozen after start-up,
they are out of every later collection's scan.
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


def freeze_survivors() -> None:
    """Collect once, then leave everything still alive out of all later collections (for
    what a process builds at start-up and keeps until it exits: modules, their tables)."""
    gc.collect()
    gc.freeze()
