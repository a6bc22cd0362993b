"""One lease renewal loop per runner, for every command it holds.

A command's lease is renewed while the runner holds it: from the claim to its ack (or its
hand-back), including the reads and appends that decide the start and the end. One task per
operation did that before; with thousands of operations per runner those tasks starved each
other on a loaded loop (each woke on its own timer to send one message), leases lapsed and
the commands came back to the runner still running them. Here one task renews them all each
period, in one pass that sends one in-progress ack per held command.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from trainjet.core.store.port import Claim

log = logging.getLogger(__name__)


class Holder(Protocol):
    """What holds a command: its current delivery (replaced if the command comes back while
    it runs) and whether it was fenced (another runner owns the operation now)."""

    claim: Claim
    fenced: bool


class LeaseKeeper:
    """Renews the lease of every held command each `interval` seconds, in one task."""

    def __init__(self, lease_seconds: float) -> None:
        # A third of the lease: two renewals may be late before a lease lapses.
        self.interval = max(0.2, lease_seconds / 3)
        self.passes = 0  # renewal passes done (tests, logs)
        self._held: dict[int, Holder] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, holder: Holder) -> None:
        """Renew `holder`'s command from now until `drop`, or until it is fenced."""
        self._held[id(holder)] = holder
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="runner-leases")

    def drop(self, holder: Holder) -> None:
        """Stop renewing `holder`'s command (acked, handed back or given up)."""
        self._held.pop(id(holder), None)

    async def renew_all(self) -> int:
        """One pass: renew every held command not fenced; return how many were renewed."""
        renewed, failed, error = 0, 0, ""
        for holder in list(self._held.values()):
            if holder.fenced:
                continue  # another runner owns it: its delivery here must lapse
            try:
                await holder.claim.extend()
                renewed += 1
            except Exception as exc:  # NATS away: the next pass tries again
                failed, error = failed + 1, str(exc)
        if failed:
            log.warning("renewing %d lease(s) failed: %s", failed, error)
        self.passes += 1
        return renewed

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.renew_all()

    async def close(self) -> None:
        self._held.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
