"""Strategy files both ways between trainjet and ktrdr.

Every bundled strategy must pass ktrdr's validation rules (a v2 file needs `decisions`, every
indicator a `feature_id`, plus the sections ktrdr's validators require), and a strategy
written for ktrdr, with every section and field ktrdr knows, must be accepted by trainjet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from trainjet.training.strategy.loader import load_strategy, parse_strategy, validate_strategy
from trainjet.training.strategy.validation import is_v2, normalise

REPO = Path(__file__).resolve().parents[2]
BUNDLED = sorted((REPO / "strategies").glob("*.yaml"))
KTRDR_FULL = Path(__file__).with_name("ktrdr_v2_full.yaml")

# ktrdr's required top-level sections (its v2 model; the v1 validator's list)
V2_REQUIRED = ("name", "version", "scope", "training_data", "deployment", "indicators",
               "fuzzy_sets", "model", "decisions", "training")  # fmt: skip
V1_REQUIRED = ("name", "indicators", "fuzzy_sets", "model", "decisions", "training")
DECISION_KEYS = ("output_format", "confidence_threshold", "position_awareness")


def test_there_are_bundled_strategies() -> None:
    assert len(BUNDLED) >= 4


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_strategy_passes_ktrdrs_rules(path: Path) -> None:
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    required = V2_REQUIRED if is_v2(raw) else V1_REQUIRED
    assert [k for k in required if k not in raw] == []
    decisions = raw["decisions"]
    assert [k for k in DECISION_KEYS if k not in decisions] == []
    assert isinstance(decisions["confidence_threshold"], float | int)
    assert isinstance(decisions["position_awareness"], bool)
    for indicator in raw["indicators"]:
        assert indicator.get("feature_id"), f"{path.name}: {indicator['name']} has no feature_id"
    # fuzzy sets are keyed by feature_id (`.output` picks one output of a multi-output one)
    ids = {i["feature_id"] for i in raw["indicators"]}
    keys = {str(k).split(".")[0] for k in raw["fuzzy_sets"]}
    assert keys <= ids | {"bb_width", "volume_ratio", "squeeze_intensity"}
    for section in ("type", "architecture", "training", "features"):
        assert section in raw["model"]
    for section in ("method", "labels", "data_split"):
        assert section in raw["training"]
    assert validate_strategy(path, REPO / "strategies").is_valid


def test_a_full_ktrdr_v2_file_is_accepted() -> None:
    """decisions with filters, deployment restrictions, feature_ids, nested params, an
    Indicator-suffixed type, input_transform, and the backtesting/risk sections."""
    config = load_strategy(KTRDR_FULL, KTRDR_FULL.parent)
    assert config.format == "v2"
    assert [i.id for i in config.indicators] == ["rsi_14", "macd_12_26_9", "ema_20"]
    assert config.symbols == ["EURUSD", "GOOG"]
    assert config.decisions["filters"]["min_signal_separation"] == 4
    result = validate_strategy(KTRDR_FULL, KTRDR_FULL.parent)
    assert result.is_valid, result.errors


@pytest.mark.parametrize(
    ("section", "key", "value", "used"),
    [("architecture", "activation", "elu", "relu"), ("training", "optimizer", "adagrad", "adam")],
)
def test_names_ktrdr_falls_back_on_are_warnings_naming_the_fix(
    section: str, key: str, value: str, used: str
) -> None:
    raw = yaml.safe_load(KTRDR_FULL.read_text())
    raw["model"][section][key] = value
    norm, result = normalise(raw, "ktrdr_full")
    assert result.is_valid, result.errors
    warning = next(w for w in result.warnings if f"model.{section}.{key}" in w)
    assert repr(value) in warning and repr(used) in warning and "set one of" in warning
    assert norm.model[section][key] == used


def test_missing_feature_id_and_decisions_are_still_accepted_by_trainjet() -> None:
    """trainjet is the more lenient side: what ktrdr's older files lack is defaulted."""
    raw = yaml.safe_load(KTRDR_FULL.read_text())
    del raw["decisions"]
    for indicator in raw["indicators"]:
        indicator.pop("feature_id")
    raw["fuzzy_sets"] = {"rsi": raw["fuzzy_sets"]["rsi_14"]}
    config = parse_strategy(yaml.safe_dump(raw), name="ktrdr_full")
    assert config.decisions["output_format"] == "classification"


def test_validation_messages_name_the_field_and_the_fix() -> None:
    raw = yaml.safe_load(KTRDR_FULL.read_text())
    raw["indicators"].append({"name": "rsi", "feature_id": "rsi_14", "period": 7})
    _, result = normalise(raw, "ktrdr_full")
    [message] = result.errors
    assert "Duplicate indicator id 'rsi_14'" in message and "give one a 'feature_id'" in message
