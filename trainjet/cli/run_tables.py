"""Tables for looking at runs: an operation's result, and 2-5 runs side by side.

Values are formatted, never cut: a table cell wraps at spaces, so nothing is ever read as
half a word or half a number (the old `ops show` printed the result as JSON cut at 500
characters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

MAX_INLINE_ITEMS = 6  # a short list is shown; a longer one says how many items it holds


def fmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    if isinstance(value, list | tuple):
        if len(value) <= MAX_INLINE_ITEMS and all(not isinstance(v, dict | list) for v in value):
            return ", ".join(fmt_value(v) for v in value) or "-"
        return f"{len(value)} items"
    if isinstance(value, Mapping):
        return f"{len(value)} entries" if value else "-"
    return str(value)


def _rows(prefix: str, value: Any, out: list[tuple[str, str]], depth: int = 0) -> None:
    if isinstance(value, Mapping) and value and depth < 2:
        for key, item in value.items():
            _rows(f"{prefix}.{key}" if prefix else str(key), item, out, depth + 1)
    else:
        out.append((prefix, fmt_value(value)))


def result_table(result: Mapping[str, Any], title: str = "Result") -> Table:
    """One row per figure of a result summary: section, name, value. Empty sections and
    figures without a value are left out, so a dummy's result is as short as it is."""
    table = Table(title=title)
    table.add_column("section", style="bold")
    table.add_column("figure", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    for section, body in result.items():
        rows: list[tuple[str, str]] = []
        _rows("", body, rows) if isinstance(body, Mapping) else rows.append(("", fmt_value(body)))
        rows = [(name, value) for name, value in rows if value not in ("-", "")]
        for i, (name, value) in enumerate(rows):
            table.add_row(str(section) if i == 0 else "", name, value)
    return table


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def training_result_table(result: dict[str, Any]) -> Table:
    """ktrdr's "Training Results" table, plus the losses and where the model went."""
    training = result.get("training_metrics") or {}
    test = result.get("test_metrics") or {}
    model = result.get("model_info") or {}
    artifacts = result.get("artifacts") or {}
    usage = result.get("resource_usage") or {}
    table = Table(title="Training Results", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    size = model.get("model_size_bytes") or artifacts.get("model_size_bytes")
    minutes = training.get("training_time_minutes")
    epochs = f"{training.get('epochs_completed', '-')}/{training.get('total_epochs', '-')}"
    rows = [
        ("Final Training Accuracy", _pct(training.get("final_train_accuracy"))),
        ("Final Training Loss", _num(training.get("final_train_loss"))),
        ("Final Validation Accuracy", _pct(training.get("final_val_accuracy"))),
        ("Final Validation Loss", _num(training.get("final_val_loss"))),
        ("Epochs Completed", epochs),
        ("Best Epoch", str(training.get("best_epoch", "-"))),
        ("Early Stopped", str(training.get("early_stopped", "-"))),
        ("Training Time (min)", "-" if minutes is None else f"{minutes:.2f}"),
        ("Test Accuracy", _pct(test.get("test_accuracy"))),
        ("Test Loss", _num(test.get("test_loss"))),
        ("Precision", _pct(test.get("precision"))),
        ("Recall", _pct(test.get("recall"))),
        ("F1 Score", _pct(test.get("f1_score"))),
        ("Device", str(usage.get("device", "-"))),
        ("Model Parameters", str(model.get("parameters_count", "-"))),
        ("Model Size (MB)", f"{size / 1e6:.3f}" if size else "-"),
        ("Model Path", str(artifacts.get("model_path") or "-")),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def compare_summary_table(operations: list[dict[str, Any]]) -> Table:
    """The runs' headline figures, one column per run."""
    table = Table(title=f"Runs compared ({len(operations)})")
    table.add_column("", style="bold")
    for op in operations:
        table.add_column(op["operation_id"], justify="right", overflow="fold")
    duration = [op.get("duration_seconds") for op in operations]

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    row("status", [str(op["status"]) for op in operations])
    row("strategy", [op.get("strategy") or "-" for op in operations])
    row("symbols", [", ".join(op.get("symbols") or []) or "-" for op in operations])
    row("timeframes", [", ".join(op.get("timeframes") or []) or "-" for op in operations])
    row("tags", [", ".join(op.get("tags") or []) or "-" for op in operations])
    row("epochs", [f"{op['epochs']}/{op.get('total_epochs') or '?'}" for op in operations])
    row("duration", ["-" if d is None else f"{d:.1f}s" for d in duration])
    row("best epoch", [str(op.get("best_epoch") or "-") for op in operations])
    row("best val accuracy", [_pct(op.get("best_val_accuracy")) for op in operations])
    row("best val loss", [_num(op.get("best_val_loss")) for op in operations])
    for key, label in (("train_loss", "final train loss"), ("train_accuracy", "final train acc"),
                       ("val_loss", "final val loss"), ("val_accuracy", "final val acc")):  # fmt: skip
        fmt = _pct if "acc" in key else _num
        row(label, [fmt((op.get("final") or {}).get(key)) for op in operations])
    row("test accuracy", [_pct((op.get("test_metrics") or {}).get("test_accuracy"))
                          for op in operations])  # fmt: skip
    return table


def compare_epochs_table(ids: list[str], metrics: Mapping[str, Mapping[str, list[Any]]]) -> Table:
    """Validation loss and accuracy per epoch, the runs side by side."""
    table = Table(title="Per epoch: val loss / val accuracy")
    table.add_column("epoch", justify="right", style="bold")
    for op_id in ids:
        table.add_column(op_id, justify="right", overflow="fold")
    longest = max((len(metrics[i]["epoch"]) for i in ids), default=0)
    for index in range(longest):
        cells = []
        for op_id in ids:
            series = metrics[op_id]
            if index < len(series["epoch"]):
                cells.append(f"{_num(series['val_loss'][index])} / "
                             f"{_pct(series['val_accuracy'][index])}")  # fmt: skip
            else:
                cells.append("")
        table.add_row(str(index + 1), *cells)
    return table


def config_diff_table(ids: list[str], diff: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Configuration differences ({len(diff)})")
    table.add_column("setting", style="bold", overflow="fold")
    for op_id in ids:
        table.add_column(op_id, overflow="fold")
    for item in diff:
        table.add_row(item["path"], *(fmt_value(v) for v in item["values"]))
    return table
