"""Epoch checkpoints, from the training thread to the blob store every runner can read.

The trainer calls `checkpoint_fn(epoch, bytes)` on the training thread after each epoch. The
thread must never wait on the network (STYLE #8), so `CheckpointSink` only parks the bytes in
a one-slot mailbox and nudges the event loop, which uploads them. Only the newest checkpoint
matters (a resume wants the latest epoch), so a checkpoint arriving while an upload is in
flight replaces the one waiting: memory stays bounded at two checkpoints and a slow store
costs skipped intermediate uploads, never a stalled loop.

The key is the operation id; the epoch, attempt and runner travel as metadata, so the runner
resuming the operation knows `resumed_from_epoch` before it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from trainjet.core.store.blobs import BlobStore
from trainjet.runners.context import OperationContext

log = logging.getLogger(__name__)


class CheckpointSink:
    def __init__(self, ctx: OperationContext, store: BlobStore) -> None:
        self.ctx = ctx
        self.store = store
        self.uploaded_epoch: int | None = None
        self.uploads = 0
        self.skipped = 0
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._pending: tuple[int, bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def __call__(self, epoch: int, data: bytes) -> None:
        """`checkpoint_fn` for the trainer: called on the training thread, returns at once."""
        with self._lock:
            if self._pending is not None:
                self.skipped += 1
            self._pending = (epoch, data)
        # RuntimeError: the loop is closing, the runner is going away anyway.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._kick)

    def _kick(self) -> None:
        if not self._closed and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain(), name=f"ckpt-{self.ctx.operation_id}")

    async def _drain(self) -> None:
        while True:
            with self._lock:
                item, self._pending = self._pending, None
            if item is None or self._closed or self.ctx.fenced:
                return
            epoch, data = item
            meta = {
                "epoch": str(epoch),
                "attempt": str(self.ctx.attempt),
                "runner_id": self.ctx.runner_id,
            }
            try:
                # The epoch's events go first: a resume starts after the checkpoint's epoch,
                # so that epoch's epoch_completed must already be in the log.
                await self.ctx.outbox.flush()
                if self.ctx.fenced:
                    return
                await self.store.put(self.ctx.operation_id, data, meta)
            except Exception as exc:  # the next epoch's checkpoint tries again
                log.warning(
                    "checkpoint of %s epoch %d not stored: %s", self.ctx.operation_id, epoch, exc
                )
                continue
            self.uploaded_epoch = epoch
            self.uploads += 1

    async def close(self) -> None:
        """No more uploads: drop what waits, let an upload in flight finish."""
        self._closed = True
        with self._lock:
            self._pending = None
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
