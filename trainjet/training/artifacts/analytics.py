"""Training analytics: per-epoch exports and alerts in the model's directory.

ktrdr wrote these to a separate `training_analytics/runs/<id>/` tree and ignored the API's
`detailed_analytics` flag; here they live in `<model version>/analytics/`, so they
travel with the model, and `AnalyticsSettings.resolve` honours the flag.

The trend rules (overfitting, plateau, best epoch) are `core.projections.trends`, the same
functions `/operations/{id}/metrics` uses, so the API and the files never disagree.
No torch here.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainjet.core.metric_names import EPOCH_METRICS
from trainjet.core.projections.models import EpochRecord
from trainjet.core.projections.trends import epoch_trends
from trainjet.training.artifacts.json_files import write_json

ANALYTICS_DIR = "analytics"
EXPLODING_FACTOR = 10.0  # train loss this many times its best so far
EXPLODING_GRAD_NORM = 10.0  # ktrdr's threshold for exploding gradients
POOR_ACCURACY = 0.4  # ktrdr: val accuracy below this after POOR_AFTER epochs
POOR_AFTER = 10
_FIRST_COLUMNS = ("epoch", *EPOCH_METRICS)


@dataclass(frozen=True)
class AnalyticsSettings:
    enabled: bool = False
    export_csv: bool = True
    export_json: bool = True
    export_alerts: bool = True

    @classmethod
    def resolve(
        cls,
        *sections: Mapping[str, Any] | None,
        detailed_analytics: bool = False,
    ) -> AnalyticsSettings:
        """On if the request asks for it or any given `analytics` section has `enabled`."""
        merged: dict[str, Any] = {}
        for section in sections:
            if isinstance(section, Mapping):
                merged.update({k: v for k, v in section.items() if v is not None})
        return cls(
            enabled=bool(detailed_analytics or merged.get("enabled", False)),
            export_csv=bool(merged.get("export_csv", True)),
            export_json=bool(merged.get("export_json", True)),
            export_alerts=bool(merged.get("export_alerts", True)),
        )


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _records(epochs: Sequence[Mapping[str, Any]]) -> list[EpochRecord]:
    return [
        EpochRecord(
            epoch=int(e["epoch"]),
            train_loss=float(e.get("train_loss") or 0.0),
            train_accuracy=float(e.get("train_accuracy") or 0.0),
            val_loss=_num(e.get("val_loss")),
            val_accuracy=_num(e.get("val_accuracy")),
            learning_rate=_num(e.get("learning_rate")),
            duration_seconds=float(e.get("duration_seconds", e.get("duration", 0.0)) or 0.0),
        )
        for e in epochs
    ]


def epoch_flags(epochs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`{best_epoch, overfitting, plateau, best_val_loss, best_val_accuracy}` for a history."""
    trends = epoch_trends(_records(epochs))
    return {
        "best_epoch": trends["best_epoch"],
        "overfitting": trends["is_overfitting"],
        "plateau": trends["is_plateaued"],
        "best_val_loss": trends.get("best_val_loss"),
        "best_val_accuracy": trends.get("best_val_accuracy"),
    }


def detect_alerts(epochs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Alerts per epoch; a trend alert is raised when it starts, not again every epoch."""
    records = _records(epochs)
    alerts: list[dict[str, Any]] = []
    was = {"overfitting": False, "plateau": False}
    best_loss = math.inf

    def add(epoch: int, kind: str, severity: str, message: str) -> None:
        alerts.append({"epoch": epoch, "type": kind, "severity": severity, "message": message})

    for i, (raw, rec) in enumerate(zip(epochs, records, strict=True)):
        loss = float(raw.get("train_loss", math.nan))
        if not math.isfinite(loss) or (
            math.isfinite(best_loss) and loss > EXPLODING_FACTOR * best_loss
        ):
            add(
                rec.epoch,
                "exploding_loss",
                "critical",
                f"Training loss jumped to {loss:.4g} (best {best_loss:.4g})",
            )
        best_loss = min(best_loss, loss) if math.isfinite(loss) else best_loss
        grad = _num(raw.get("grad_norm_max"))
        if grad is not None and grad > EXPLODING_GRAD_NORM:
            add(rec.epoch, "exploding_gradients", "critical", f"Gradient norm reached {grad:.4g}")
        trends = epoch_trends(records[: i + 1])
        if trends["is_overfitting"] and not was["overfitting"]:
            add(
                rec.epoch,
                "overfitting",
                "warning",
                "Validation loss rising while training loss falls",
            )
        if trends["is_plateaued"] and not was["plateau"]:
            add(rec.epoch, "plateau", "warning", "Monitored loss has stopped improving")
        was = {"overfitting": trends["is_overfitting"], "plateau": trends["is_plateaued"]}
        if (
            rec.epoch == POOR_AFTER
            and rec.val_accuracy is not None
            and rec.val_accuracy < POOR_ACCURACY
        ):
            add(
                rec.epoch,
                "poor_accuracy",
                "warning",
                f"Validation accuracy {rec.val_accuracy:.3f} after {POOR_AFTER} epochs",
            )
    return alerts


def _write_csv(path: Path, epochs: Sequence[Mapping[str, Any]]) -> None:
    scalar = {
        k
        for e in epochs
        for k, v in e.items()
        if v is None or isinstance(v, int | float | str | bool)
    }
    columns = [c for c in _FIRST_COLUMNS if c in scalar] + sorted(scalar - set(_FIRST_COLUMNS))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(epochs)


def _alerts_text(alerts: Sequence[Mapping[str, Any]]) -> str:
    critical = sum(a["severity"] == "critical" for a in alerts)
    lines = [f"Training alerts - Critical: {critical}, Warnings: {len(alerts) - critical}", ""]
    lines += [
        f"[{a['severity'].upper()}] epoch {a['epoch']}: {a['type']} - {a['message']}"
        for a in alerts
    ]
    return "\n".join(lines) + "\n"


def write_analytics(
    model_dir: Path,
    epochs: Sequence[Mapping[str, Any]],
    *,
    settings: AnalyticsSettings,
    run_info: Mapping[str, Any] | None = None,
    final: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write the enabled exports to `model_dir/analytics/`; return paths relative to it."""
    if not settings.enabled:
        return []
    out = model_dir / ANALYTICS_DIR
    out.mkdir(parents=True, exist_ok=True)
    alerts = detect_alerts(epochs)
    written: list[str] = []
    if settings.export_csv:
        _write_csv(out / "metrics.csv", epochs)
        written.append(f"{ANALYTICS_DIR}/metrics.csv")
    if settings.export_json:
        critical = sum(a["severity"] == "critical" for a in alerts)
        write_json(
            out / "detailed_metrics.json",
            {
                "run": dict(run_info or {}),
                "epochs": list(epochs),
                "alerts": alerts,
                "final_analysis": {
                    **epoch_flags(epochs),
                    **dict(final or {}),
                    "epochs_recorded": len(epochs),
                    "total_alerts": len(alerts),
                    "critical_alerts": critical,
                    "warnings": len(alerts) - critical,
                },
            },
        )
        written.append(f"{ANALYTICS_DIR}/detailed_metrics.json")
    if settings.export_alerts:
        (out / "alerts.txt").write_text(_alerts_text(alerts), encoding="utf-8")
        written.append(f"{ANALYTICS_DIR}/alerts.txt")
    return written
