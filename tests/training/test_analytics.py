"""Analytics: trend flags, alerts, exported files, and the settings that switch them on."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from trainjet.training.artifacts.analytics import (
    AnalyticsSettings,
    detect_alerts,
    epoch_flags,
    write_analytics,
)


def epochs(train: list[float], val: list[float | None]) -> list[dict[str, Any]]:
    return [
        {"epoch": i + 1, "train_loss": t, "train_accuracy": 0.5, "val_loss": v, "val_accuracy": 0.5, "learning_rate": 1e-3, "duration_seconds": 0.1}
        for i, (t, v) in enumerate(zip(train, val, strict=True))
    ]  # fmt: skip


OVERFIT = epochs([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], [1.0, 0.8, 0.85, 0.9, 0.95, 1.0])
PLATEAU = epochs([1.0, 0.9, 0.9, 0.9, 0.9, 0.9], [1.0, 0.7, 0.7, 0.7, 0.7, 0.7])
HEALTHY = epochs([1.0, 0.9, 0.8, 0.7], [1.0, 0.9, 0.8, 0.7])


def test_epoch_flags() -> None:
    assert epoch_flags(OVERFIT) | {} == {
        "best_epoch": 2, "overfitting": True, "plateau": False, "best_val_loss": 0.8, "best_val_accuracy": 0.5,
    }  # fmt: skip
    assert epoch_flags(PLATEAU)["plateau"] is True
    flags = epoch_flags(HEALTHY)
    assert (flags["best_epoch"], flags["overfitting"], flags["plateau"]) == (4, False, False)
    assert epoch_flags([])["best_epoch"] is None
    no_val = epoch_flags(epochs([1.0, 0.5, 0.7], [None, None, None]))
    assert no_val["best_epoch"] == 2


def test_alerts_fire_once_when_a_trend_starts() -> None:
    kinds = [(a["epoch"], a["type"]) for a in detect_alerts(OVERFIT)]
    assert kinds == [(5, "overfitting")]
    assert [a["type"] for a in detect_alerts(PLATEAU)] == ["plateau"]
    assert detect_alerts(HEALTHY) == []
    exploding = detect_alerts(epochs([1.0, 0.5, 20.0, float("nan")], [1.0, 1.0, 1.0, 1.0]))
    assert [
        (a["epoch"], a["type"], a["severity"]) for a in exploding if a["type"] == "exploding_loss"
    ] == [
        (3, "exploding_loss", "critical"),
        (4, "exploding_loss", "critical"),
    ]
    grads = [{**e, "grad_norm_max": 50.0} for e in HEALTHY[:1]]
    assert detect_alerts(grads)[0]["type"] == "exploding_gradients"


def test_write_analytics_files(tmp_path: Path) -> None:
    files = write_analytics(
        tmp_path,
        OVERFIT,
        settings=AnalyticsSettings(enabled=True),
        run_info={"seed": 1},
        final={"stop_reason": "completed"},
    )
    assert files == [
        "analytics/metrics.csv",
        "analytics/detailed_metrics.json",
        "analytics/alerts.txt",
    ]
    with (tmp_path / "analytics" / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    assert list(rows[0])[:5] == [
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
    ]
    detail = json.loads((tmp_path / "analytics" / "detailed_metrics.json").read_text())
    assert detail["run"] == {"seed": 1}
    assert len(detail["epochs"]) == 6
    assert detail["final_analysis"]["overfitting"] is True
    assert detail["final_analysis"]["stop_reason"] == "completed"
    assert detail["final_analysis"]["total_alerts"] == len(detail["alerts"]) == 1
    assert "Critical: 0, Warnings: 1" in (tmp_path / "analytics" / "alerts.txt").read_text()
    only_csv = AnalyticsSettings(enabled=True, export_json=False, export_alerts=False)
    assert write_analytics(tmp_path / "b", OVERFIT, settings=only_csv) == ["analytics/metrics.csv"]
    assert write_analytics(tmp_path / "c", OVERFIT, settings=AnalyticsSettings()) == []
    assert not (tmp_path / "c").exists()


def test_settings_honour_the_request_flag() -> None:
    assert not AnalyticsSettings.resolve(None, {}).enabled
    assert AnalyticsSettings.resolve(None, detailed_analytics=True).enabled  # ktrdr ignored this
    assert AnalyticsSettings.resolve({"enabled": True}).enabled
    merged = AnalyticsSettings.resolve({"enabled": True}, {"export_csv": False})
    assert merged.enabled
    assert not merged.export_csv
    assert merged.export_json
