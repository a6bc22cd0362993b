"""The training loop: epochs, batches, validation, early stopping; ktrdr's known defects fixed.

* Data stay on the CPU as tensors; each epoch gathers one shuffled copy (into pinned memory
  on CUDA) and every batch is a contiguous slice copied with `non_blocking` (ktrdr
  moved the whole set to the GPU, then shuffled it there, and lost to the CPU).
* No device sync per batch: each batch's loss and correct count stay on the device and are
  read together once per `read_seconds` (the bridge's 100 ms event cadence) and at each
  epoch's end, so a GPU never stalls to report progress. Every batch still gets its own
  `on_batch` with its own loss and accuracy (not a running mean), in order. A non-finite loss
  is caught at the next read, at most `read_seconds` late (model/figures.py).
* One cancellation check before every batch (a flag, no sync), so a cancel lands within one
  batch; batches that ran before it are reported first, so the log keeps every step taken.
* Early stopping honours `patience`, `monitor` and `min_delta` (ktrdr ignored `min_delta`); the
  best weights, chosen by the same monitor, are a real copy (`clone()`), so restoring them
  restores them (model/tracker.py). Optimiser and scheduler come from model/optim.py.
* Seeded: `torch.manual_seed` (dropout, init), a private `torch.Generator` for the shuffle.
  A checkpoint carries both generators' states, so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.nn import functional as F

from trainjet.core.cancellation import CancellationError
from trainjet.training.artifacts.results import TrainingCancelled, TrainOutcome, training_section
from trainjet.training.errors import CheckpointError, InsufficientDataError, TrainingDivergedError
from trainjet.training.model.config import TrainingConfig
from trainjet.training.model.figures import READ_SECONDS, EpochFigures
from trainjet.training.model.inference import SplitTensors, loss_and_accuracy
from trainjet.training.model.network import TradingMLP
from trainjet.training.model.optim import build_optimizer, build_scheduler
from trainjet.training.model.reproducibility import seed_everything
from trainjet.training.model.tracker import BestEpochTracker
from trainjet.training.protocol import PreparedDataset, TrainingReporter

__all__ = [
    "TrainOutcome",
    "TrainingDivergedError",
    "load_checkpoint",
    "train_model",
]

CheckpointFn = Callable[[int, bytes], None]
CHECKPOINT_FORMAT = 1


def load_checkpoint(data: bytes) -> dict[str, Any]:
    """A checkpoint written by `checkpoint_fn`; tensors only, so `weights_only` loading works."""
    state: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError("Not a trainjet training checkpoint")
    return state


class _Loop:
    """One run's mutable state: model, optimiser, scheduler, tracker, generators, history."""

    def __init__(
        self,
        model: TradingMLP,
        dataset: PreparedDataset,
        s: TrainingConfig,
        dev: torch.device,
        seed: int,
    ) -> None:
        self.model, self.s, self.dev = model.to(dev), s, dev
        self.train, self.val = SplitTensors.of(dataset.train), SplitTensors.of(dataset.val)
        self.n = len(self.train)
        if self.n == 0:
            raise InsufficientDataError(
                "The training split is empty: widen the date range or give training a larger "
                "share of data_split"
            )
        self.bpe = math.ceil(self.n / s.batch_size)
        self.shuffle_gen = torch.Generator().manual_seed(seed)
        self.opt = build_optimizer(model, s)
        self.sched = build_scheduler(self.opt, s)
        self.tracker = BestEpochTracker(s)
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0
        # CUDA: gather each epoch into pinned buffers, reused; the read at each epoch's last
        # batch syncs the stream, so the previous epoch's asynchronous copies have finished
        # before a reuse.
        sources = (self.train.X, self.train.y, self.train.symbol_idx)
        self.pinned = (
            [torch.empty_like(t).pin_memory() for t in sources] if dev.type == "cuda" else None
        )

    def resume(self, ckpt: Mapping[str, Any]) -> int:
        """Restore everything a checkpoint holds; return the next epoch to run."""
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        if self.sched is not None and ckpt.get("scheduler") is not None:
            self.sched.load_state_dict(ckpt["scheduler"])
        self.tracker.restore(ckpt["tracker"])
        self.history, self.elapsed = list(ckpt["history"]), float(ckpt["elapsed_s"])
        torch.set_rng_state(ckpt["rng_torch"])
        if self.dev.type == "cuda" and ckpt.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng_cuda"], self.dev)
        self.shuffle_gen.set_state(ckpt["rng_shuffle"])
        return int(ckpt["epoch"]) + 1

    def _shuffled(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        perm = torch.randperm(self.n, generator=self.shuffle_gen)
        sources = (self.train.X, self.train.y, self.train.symbol_idx)
        if self.pinned is None:
            return sources[0][perm], sources[1][perm], sources[2][perm]
        for src, buf in zip(sources, self.pinned, strict=True):
            torch.index_select(src, 0, perm, out=buf)
        return self.pinned[0], self.pinned[1], self.pinned[2]

    def train_epoch(
        self,
        epoch: int,
        reporter: TrainingReporter,
        outcome: TrainOutcome,
        read_seconds: float = READ_SECONDS,
    ) -> dict[str, Any]:
        s, dev, model, opt = self.s, self.dev, self.model, self.opt
        model.train()
        X, y, sym = self._shuffled()
        uses_symbols = model.uses_symbols
        figures = EpochFigures(epoch, self.bpe, s.epochs, s.batch_size, self.n, reporter)
        norm_sum: torch.Tensor | None = None
        norm_max: torch.Tensor | None = None
        last_read = time.monotonic()
        for b in range(self.bpe):
            try:
                reporter.check_cancelled()
            except CancellationError:
                figures.read(outcome)  # the batches that ran are in the weights: log them
                raise
            lo, hi = b * s.batch_size, min((b + 1) * s.batch_size, self.n)
            xb, yb = X[lo:hi].to(dev, non_blocking=True), y[lo:hi].to(dev, non_blocking=True)
            sb = sym[lo:hi].to(dev, non_blocking=True) if uses_symbols else None
            opt.zero_grad(set_to_none=True)
            logits = model(xb, sb)
            loss = F.cross_entropy(logits, yb)
            torch.autograd.backward(loss)
            if s.gradient_clip > 0:  # the norm comes free with clipping; read once per epoch
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), s.gradient_clip)
                norm_sum = norm if norm_sum is None else norm_sum + norm
                norm_max = norm if norm_max is None else torch.maximum(norm_max, norm)
            opt.step()
            hits = (logits.detach().argmax(dim=1) == yb).sum().to(loss.dtype)
            figures.pending.append(torch.stack((loss.detach(), hits)))
            now = time.monotonic()
            if b + 1 == self.bpe or now - last_read >= read_seconds:
                figures.read(outcome)
                last_read = now
        stats: dict[str, Any] = {
            "train_loss": figures.loss_sum / figures.seen,
            "train_accuracy": figures.correct / figures.seen,
        }
        if norm_sum is not None and norm_max is not None:
            stats["grad_norm_avg"], stats["grad_norm_max"] = (
                float(norm_sum) / self.bpe,
                float(norm_max),
            )
        return stats

    def end_epoch(
        self, epoch: int, t0: float, stats: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Validate, update best/early stopping and the LR; the epoch record and `stop`."""
        s, tracker = self.s, self.tracker
        val_loss, val_acc = (
            loss_and_accuracy(self.model, self.val)[:2] if len(self.val) else (None, None)
        )
        lr = float(self.opt.param_groups[0]["lr"])  # the rate this epoch trained with
        # without a validation split the monitor falls back to the training figure
        if s.early_stopping.monitor == "val_loss":
            monitored = val_loss if val_loss is not None else stats["train_loss"]
        else:
            monitored = val_acc if val_acc is not None else stats["train_accuracy"]
        stop = tracker.update(epoch, monitored, self.model)
        if isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.sched.step(val_loss if val_loss is not None else stats["train_loss"])
        elif self.sched is not None:
            self.sched.step()
        duration = time.perf_counter() - t0
        self.elapsed += duration
        metrics = {
            "epoch": epoch,
            "train_loss": stats.pop("train_loss"),
            "train_accuracy": stats.pop("train_accuracy"),
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "learning_rate": lr,
            "duration_seconds": duration,
            "batches": self.bpe,
            "samples": self.n,
            "best_epoch": tracker.best_epoch,
            "is_best": tracker.best_epoch == epoch,
            "epochs_without_improvement": tracker.wait,
            **stats,
        }
        self.history.append(metrics)
        return metrics, stop

    def checkpoint(self, epoch: int) -> bytes:
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict() if self.sched is not None else None,
            "tracker": self.tracker.state(),
            "history": self.history,
            "elapsed_s": self.elapsed,
            "rng_torch": torch.get_rng_state(),
            "rng_shuffle": self.shuffle_gen.get_state(),
            # dropout on a GPU draws from that device's generator
            "rng_cuda": torch.cuda.get_rng_state(self.dev) if self.dev.type == "cuda" else None,
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        return buf.getvalue()


def train_model(
    model: TradingMLP,
    dataset: PreparedDataset,
    config: TrainingConfig,
    reporter: TrainingReporter,
    *,
    device: torch.device | str = "cpu",
    seed: int = 0,
    start_epoch: int | None = None,
    initial_state: bytes | Mapping[str, Any] | None = None,
    checkpoint_fn: CheckpointFn | None = None,
    read_seconds: float = READ_SECONDS,
) -> TrainOutcome:
    """Train in place (best weights restored at the end) and say what happened.

    Every setting comes from `config` (see `TrainingConfig.resolve`). Each batch's own loss
    and accuracy go to `reporter.on_batch` (not a running mean), in order. Resumes from `initial_state` (checkpoint bytes from `checkpoint_fn`, or their loaded dict);
    `start_epoch`, if given, must be the epoch after the checkpoint's. Raises
    `TrainingCancelled` (a `CancellationError`) carrying `partial` metrics when the reporter
    reports a cancel, `TrainingDivergedError` on a non-finite loss, and `CheckpointError` on
    a checkpoint that is not one or does not fit. `read_seconds` is how often the per-batch
    figures are read off the device (0 reads after every batch).
    """
    s = config
    seed_everything(seed)
    loop = _Loop(model, dataset, s, torch.device(device), seed)
    first = 1
    if initial_state is not None:
        ckpt = load_checkpoint(initial_state) if isinstance(initial_state, bytes) else initial_state
        first = loop.resume(ckpt)
    if start_epoch is not None and start_epoch != first:
        raise CheckpointError(
            f"start_epoch {start_epoch} does not match the checkpoint (next epoch {first})"
        )
    out = TrainOutcome(
        loop.history, s.epochs, loop.bpe, epochs_completed=first - 1, monitor=s.early_stopping.monitor,
        best_epoch=loop.tracker.best_epoch, best_metric=loop.tracker.best_value,
        training_time_s=loop.elapsed, device=str(loop.dev), start_epoch=first,
    )  # fmt: skip
    try:
        for epoch in range(first, s.epochs + 1):
            t0 = time.perf_counter()
            stats = loop.train_epoch(epoch, reporter, out, read_seconds)
            reporter.check_cancelled()
            metrics, stop = loop.end_epoch(epoch, t0, stats)
            out.epochs_completed, out.training_time_s = epoch, loop.elapsed
            out.best_epoch, out.best_metric = loop.tracker.best_epoch, loop.tracker.best_value
            out.batches_done_in_epoch = 0
            reporter.on_epoch(epoch, s.epochs, metrics)
            if checkpoint_fn is not None:
                checkpoint_fn(epoch, loop.checkpoint(epoch))
            if stop:
                out.early_stopped, out.stop_reason = True, "early_stopping"
                break
    except CancellationError as exc:
        out.stop_reason = "cancelled"
        partial = {"training_metrics": training_section(out), "epochs": list(loop.history)}
        raise TrainingCancelled(exc.reason, exc.operation_id, partial=partial, outcome=out) from exc
    if s.restore_best and loop.tracker.best_state is not None:
        model.load_state_dict(loop.tracker.best_state)
        out.restored_best = True
    return out
