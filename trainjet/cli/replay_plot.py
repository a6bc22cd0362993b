"""`trainjet replay ID --plot FILE.png`: the training curves of one run, from its events.

Four panels on one x axis measured in epochs (batch b of epoch e at e - 1 + b/B), so a spike in
the per-batch loss lines up with the epoch it belongs to and with the cancel/resume markers:
per-batch loss (each batch's own, and the epoch's running mean the trainer logs), per-epoch
train/validation loss, per-epoch accuracy, learning rate.
matplotlib is imported here only, with the file-only Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainjet.replay.analytics import Curves

MARKER_STYLE = {
    "cancel_requested": {"color": "tab:orange", "linestyle": "--"},
    "cancelled": {"color": "tab:red", "linestyle": "-"},
    "runner_lost": {"color": "tab:purple", "linestyle": ":"},
    "resumed": {"color": "tab:green", "linestyle": "-."},
    "failed": {"color": "black", "linestyle": "-"},
}


def _present(xs: list[Any], ys: list[float | None]) -> tuple[list[Any], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    return [p[0] for p in pairs], [float(p[1]) for p in pairs]


def plot_curves(curves: Curves, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True, constrained_layout=True)
    batch_ax, loss_ax, acc_ax, lr_ax = axes.flat
    fig.suptitle(title, fontsize=11)

    if curves.batch_x:
        own_x, own = _present(curves.batch_x, curves.batch_loss)
        batch_ax.plot(own_x, own, color="tab:blue", alpha=0.35, lw=0.8, label="batch loss")
        batch_ax.plot(
            curves.batch_x,
            curves.batch_mean_loss,
            color="tab:blue",
            lw=1.6,
            label="epoch running mean",
        )
    batch_ax.set_title("Per-batch training loss")
    batch_ax.set_ylabel("loss")

    loss_ax.plot(curves.epoch_x, curves.train_loss, "o-", label="train")
    loss_ax.plot(*_present(curves.epoch_x, curves.val_loss), "s-", label="validation")
    loss_ax.set_title("Loss per epoch")

    acc_ax.plot(curves.epoch_x, curves.train_accuracy, "o-", label="train")
    acc_ax.plot(*_present(curves.epoch_x, curves.val_accuracy), "s-", label="validation")
    acc_ax.set_title("Accuracy per epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_xlabel("epoch")

    lr_x, lr_y = _present(curves.epoch_x, curves.learning_rate)
    if lr_y:
        lr_ax.plot(lr_x, lr_y, "d-", color="tab:purple")
    else:
        lr_ax.text(
            0.5,
            0.5,
            "no learning rate logged",
            ha="center",
            va="center",
            transform=lr_ax.transAxes,
            color="gray",
        )
    lr_ax.set_title("Learning rate")
    lr_ax.set_xlabel("epoch")

    seen: set[str] = set()
    for marker in curves.markers:
        style = MARKER_STYLE.get(marker.kind, {"color": "gray", "linestyle": ":"})
        for ax in axes.flat:
            ax.axvline(
                marker.x,
                lw=1.2,
                alpha=0.8,
                label=None if marker.kind in seen else marker.label,
                **style,
            )
        seen.add(marker.kind)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    fig.savefig(path, dpi=110)
    plt.close(fig)
