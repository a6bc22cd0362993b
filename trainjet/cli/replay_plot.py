"""`trainjet replay ID --plot FILE.png`: the training curves of one run, from its events.

Four panels on one x axis measured in epochs (batch b of epoch e at e - 1 + b/B), so a spike in
the per-batch loss lines up with the epoch it belongs to and with the cancel/resume markers:
each batch's own loss with a moving mean that runs across epochs, per-epoch train/validation
loss, per-epoch accuracy, learning rate. The best epoch (lowest validation loss) is marked on
every panel, and one legend below the panels names every line once.
matplotlib is imported here only, with the file-only Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainjet.core.events import CancelRequested, RunnerLost, type_name
from trainjet.replay.analytics import Curves

MARKER_STYLE = {
    type_name(CancelRequested): {"color": "tab:orange", "linestyle": "--"},
    "cancelled": {"color": "tab:red", "linestyle": "-"},
    type_name(RunnerLost): {"color": "tab:purple", "linestyle": ":"},
    "resumed": {"color": "tab:green", "linestyle": "-."},
    "failed": {"color": "black", "linestyle": "-"},
}
BEST_STYLE = {"color": "goldenrod", "linestyle": "--", "lw": 1.4}


def _present(xs: list[Any], ys: list[float | None]) -> tuple[list[Any], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    return [p[0] for p in pairs], [float(p[1]) for p in pairs]


def plot_curves(curves: Curves, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True, layout="constrained")
    batch_ax, loss_ax, acc_ax, lr_ax = axes.flat
    fig.suptitle(title, fontsize=11)

    if curves.batch_x:
        own_x, own = _present(curves.batch_x, curves.batch_loss)
        batch_ax.plot(own_x, own, color="tab:cyan", alpha=0.55, lw=0.7, label="batch loss")
        batch_ax.plot(
            curves.batch_x,
            curves.batch_smooth_loss,
            color="navy",
            lw=1.5,
            label=f"moving mean of {curves.smooth_window} batches",
        )
    batch_ax.set_title("Training loss of each batch")
    batch_ax.set_ylabel("loss")

    loss_ax.plot(curves.epoch_x, curves.train_loss, "o-", color="tab:blue", label="train")
    val_x, val_loss = _present(curves.epoch_x, curves.val_loss)
    loss_ax.plot(val_x, val_loss, "s-", color="tab:orange", label="validation")
    loss_ax.set_title("Loss per epoch")

    acc_ax.plot(curves.epoch_x, curves.train_accuracy, "o-", color="tab:blue", label="train")
    acc_ax.plot(
        *_present(curves.epoch_x, curves.val_accuracy), "s-", color="tab:orange",
        label="validation",
    )  # fmt: skip
    acc_ax.set_title("Accuracy per epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_xlabel("epoch")

    lr_x, lr_y = _present(curves.epoch_x, curves.learning_rate)
    if lr_y:
        lr_ax.plot(lr_x, lr_y, "d-", color="tab:purple", label="learning rate")
    else:
        lr_ax.text(0.5, 0.5, "no learning rate logged", ha="center", va="center",
                   transform=lr_ax.transAxes, color="gray")  # fmt: skip
    lr_ax.set_title("Learning rate")
    lr_ax.set_xlabel("epoch")

    _mark_best(curves, list(axes.flat))
    for marker in curves.markers:
        style = MARKER_STYLE.get(marker.kind, {"color": "gray", "linestyle": ":"})
        for ax in axes.flat:
            ax.axvline(marker.x, lw=1.2, alpha=0.8, label=marker.label, **style)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    # One legend for the figure: a line drawn on several panels (train, validation, the
    # markers) is named once, below the panels, where it hides no data.
    labels: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labels.setdefault(label, handle)
    if labels:
        fig.legend(labels.values(), labels.keys(), loc="outside lower center",
                   ncols=min(len(labels), 5), fontsize=9, frameon=False)  # fmt: skip
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _mark_best(curves: Curves, axes: list[Any]) -> None:
    best = curves.best_epoch
    if best is None or best not in curves.epoch_x:
        return
    i = curves.epoch_x.index(best)
    val_loss, val_acc = curves.val_loss[i], curves.val_accuracy[i]
    label = f"best epoch {best}" + (f" (val loss {val_loss:.4f})" if val_loss is not None else "")
    for ax in axes:
        ax.axvline(best, label=label, **BEST_STYLE)
    loss_ax, acc_ax = axes[1], axes[2]
    if val_loss is not None:
        loss_ax.plot([best], [val_loss], "*", ms=15, color="goldenrod", zorder=5)
    if val_acc is not None:
        acc_ax.plot([best], [val_acc], "*", ms=15, color="goldenrod", zorder=5)
