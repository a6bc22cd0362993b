"""A strategy using every indicator of ktrdr's registry trains on the bundled data: one short
epoch of a tiny model on a slice of EURUSD 1h, each indicator feeding a fuzzy set (through its
primary output, and a secondary output where it has one), and each indicator's features are
what the stored model was trained on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.fakes import FakeReporter
from tests.training.test_pipeline import DATA
from trainjet.core.events import TrainingInputs
from trainjet.training.indicators.registry import REGISTRY
from trainjet.training.pipeline import run_training

PRICE = (1.0, 1.1, 1.3)  # EURUSD's 2017 range, for the indicators that are prices
# a triangular set (low, peak, high) in each indicator's own units
RANGES: dict[str, tuple[float, float, float]] = {
    "RSI": (0, 50, 100),
    "SMA": PRICE,
    "EMA": PRICE,
    "MACD": (-0.005, 0, 0.005),
    "BollingerBands": PRICE,
    "BollingerBandWidth": (0, 0.01, 0.05),
    "ATR": (0, 0.001, 0.005),
    "Stochastic": (0, 50, 100),
    "WilliamsR": (-100, -50, 0),
    "ROC": (-1, 0, 1),
    "Momentum": (-0.01, 0, 0.01),
    "CCI": (-200, 0, 200),
    "OBV": (-1e5, 0, 1e5),
    "ADX": (0, 25, 100),
    "MFI": (0, 50, 100),
    "VWAP": PRICE,
    "Aroon": (0, 50, 100),
    "DonchianChannels": PRICE,
    "KeltnerChannels": PRICE,
    "ADLine": (-1e5, 0, 1e5),
    "CMF": (-1, 0, 1),
    "VolumeRatio": (0, 1, 3),
    "DistanceFromMA": (-0.01, 0, 0.01),
    "RVI": (-1, 0, 1),
    "Ichimoku": PRICE,
    "ParabolicSAR": PRICE,
    "SuperTrend": PRICE,
    "FisherTransform": (-3, 0, 3),
    "SqueezeIntensity": (0, 0.5, 1),
    "ZigZag": PRICE,
}
# a secondary output per multi-output indicator, in its units (`None`: same as the primary)
SECONDARY: dict[str, tuple[float, float, float] | None] = {"direction": (-1, 0, 1)}


def strategy() -> dict[str, Any]:
    indicators, fuzzy = [], {}
    for name, definition in REGISTRY.items():
        fid = name.lower()
        # spelled as ktrdr strategies do; ZigZag with a threshold the slice has swings for
        params = {"threshold": 0.005} if name == "ZigZag" else {}
        indicators.append({"name": f"{name}Indicator", "feature_id": fid, **params})
        low, peak, high = RANGES[name]
        fuzzy[fid] = {"low": [low, low, peak], "high": [peak, high, high]}
        second = next(iter(definition.outputs[1:]), None)
        if second is not None:
            low, peak, high = SECONDARY.get(second) or RANGES[name]
            fuzzy[f"{fid}.{second}"] = {"mid": [low, peak, high]}
    return {
        "name": "every_indicator",
        "version": "1.0",
        "scope": "symbol_specific",
        "training_data": {
            "symbols": {"mode": "single", "symbol": "EURUSD"},
            "timeframes": {"mode": "single", "timeframe": "1h"},
            "history_required": 200,
        },
        "deployment": {
            "target_symbols": {"mode": "training_only"},
            "target_timeframes": {"mode": "single", "timeframe": "1h"},
        },
        "indicators": indicators,
        "fuzzy_sets": fuzzy,
        "model": {
            "type": "mlp",
            "architecture": {"hidden_layers": [8], "activation": "relu", "dropout": 0.0},
            "features": {"lookback_periods": 0},
            "training": {
                "epochs": 1,
                "learning_rate": 0.01,
                "batch_size": 256,
                "optimizer": "adam",
            },
        },
        "decisions": {
            "output_format": "classification",
            "confidence_threshold": 0.6,
            "position_awareness": True,
        },
        "training": {
            "method": "supervised",
            "labels": {"source": "zigzag", "zigzag_threshold": 0.005, "label_lookahead": 20},
            "data_split": {"train": 0.7, "validation": 0.15, "test": 0.15},
        },
        "seed": 1,
    }


def test_a_strategy_with_every_indicator_trains(tmp_path: Path) -> None:
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "every_indicator.yaml").write_text(yaml.safe_dump(strategy()))
    request = TrainingInputs(
        strategy_name="every_indicator",
        epochs=1,
        start_date="2017-05-01",
        end_date="2017-07-31",
    )
    reporter = FakeReporter()
    summary = run_training(request, reporter, models_dir=tmp_path / "models", data_dir=DATA,
                           strategies_dir=strategies)  # fmt: skip
    assert summary["training_metrics"]["epochs_completed"] == 1 == len(reporter.epochs)
    assert summary["data_summary"]["train_samples"] > 500
    features = json.loads((Path(summary["artifacts"]["model_path"]) / "features.json").read_text())
    names = json.dumps(features)
    for name in REGISTRY:
        assert f'"{name.lower()}_' in names, f"{name} gave the model no feature"
