"""Every ktrdr strategy validation message that trainjet implements, plus its own checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainjet.api.errors import http_error
from trainjet.training.errors import StrategyValidationError
from trainjet.training.strategy.loader import parse_strategy, validate_strategy
from trainjet.training.strategy.normal_form import ValidationResult
from trainjet.training.strategy.validation import normalise

BASE: dict[str, Any] = {
    "name": "t",
    "indicators": [{"name": "rsi", "period": 14}, {"name": "macd"}],
    "fuzzy_sets": {
        "rsi": {"low": {"type": "triangular", "parameters": [0, 20, 40]}},
        "macd": {"neg": {"type": "gaussian", "parameters": [-1, 1]}},
    },
}


def check(**changes: Any) -> ValidationResult:
    raw = {**BASE, **changes}
    for key in [k for k, v in changes.items() if v is ...]:
        del raw[key]
    return normalise(raw, "t")[1]


def only_error(result: ValidationResult) -> str:
    assert not result.is_valid
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def test_base_is_valid() -> None:
    result = check()
    assert result.is_valid
    assert not result.warnings, result.warnings


@pytest.mark.parametrize("section", ["indicators", "fuzzy_sets"])
def test_missing_required_section(section: str) -> None:
    result = check(**{section: ...})
    assert f"Missing required section: '{section}'" in result.errors


def test_indicator_structure_messages() -> None:
    assert "'indicators' section must be a list" in check(indicators={"rsi": {}}).errors
    result = check(indicators=["rsi", {"period": 3}, *BASE["indicators"]])
    assert "Indicator at index 0 must be a dictionary" in result.errors
    assert "Indicator at index 1 missing 'name' field" in result.errors


def test_unknown_indicators_are_one_error_with_details() -> None:
    result = check(
        indicators=[*BASE["indicators"], {"name": "foo"}, {"name": "rsii"}],
        fuzzy_sets={**BASE["fuzzy_sets"], "foo": {"a": [0, 1, 2]}},
    )
    msg = only_error(result)
    assert msg.startswith(
        "Missing indicators: foo, rsii referenced by the strategy. Available indicators are: "
    )
    assert "RSI" in msg
    assert "BollingerBands" in msg
    issue = result.issues[0]
    assert issue.category == "indicators"
    assert issue.details["missing_indicators"] == ["foo", "rsii"]
    assert "RSI" in issue.details["available_indicators"]
    assert any("did you mean 'rsi'" in s for s in result.suggestions)


def test_zigzag_accepted_as_a_causal_feature() -> None:
    result = check(
        indicators=[*BASE["indicators"], {"name": "zigzag", "threshold": 0.02}],
        fuzzy_sets={**BASE["fuzzy_sets"], "zigzag.direction": {"up": [0, 1, 2]}},
    )
    assert result.is_valid, result.errors
    bad = check(indicators=[*BASE["indicators"], {"name": "zigzag", "threshold": 5}])
    assert (
        "parameter 'threshold' has invalid value 5 (expected a number from 0.0001 to 0.99)"
        in only_error(bad)
    )


def test_indicator_names_case_insensitive_and_aliases() -> None:
    result = check(
        indicators=[
            {"name": "RSI"},
            {"name": "BollingerBands", "feature_id": "bb"},
            {"name": "williams_r"},
            {"name": "rsi_7", "period": 7},
        ],
        fuzzy_sets={
            "RSI": {"a": [0, 1, 2]},
            "bb.percent_b": {"a": [0, 1, 2]},
            "williams_r": {"a": [-100, -50, 0]},
            "rsi_7": {"a": [0, 1, 2]},
        },
    )
    assert result.is_valid, result.errors


def test_bad_indicator_params() -> None:
    result = check(
        indicators=[
            {"name": "rsi", "perod": 14},
            {"name": "macd", "fast_period": 30},
            {"name": "sma", "period": 0},
        ],
        fuzzy_sets={"rsi": {"a": [0, 1, 2]}, "macd": {"a": [0, 1, 2]}, "sma": {"a": [0, 1, 2]}},
    )
    assert (
        "Indicator 'rsi' (RSI): unknown parameter 'perod' (valid: period, source)" in result.errors
    )
    assert "Indicator 'macd' (MACD): fast_period must be smaller than slow_period" in result.errors
    assert any("parameter 'period' has invalid value 0" in e for e in result.errors)


def test_duplicate_indicator_ids() -> None:
    msg = only_error(
        check(
            indicators=[{"name": "rsi"}, {"name": "rsi", "period": 7}],
            fuzzy_sets={"rsi": {"a": [0, 1, 2]}},
        )
    )
    assert "Duplicate indicator id 'rsi'" in msg


def test_fuzzy_sets_structure_messages() -> None:
    assert "'fuzzy_sets' section must be a mapping" in only_error(check(fuzzy_sets=[1]))
    result = check(fuzzy_sets={**BASE["fuzzy_sets"], "rsii": {"a": [0, 1, 2]}})
    msg = only_error(result)
    assert msg.startswith(
        "Fuzzy sets reference invalid indicators/metrics: rsii. Valid targets are: "
    )
    assert "macd.histogram" in msg
    assert any("did you mean 'rsi'" in s for s in result.suggestions)


def test_fuzzy_entry_messages() -> None:
    result = check(fuzzy_sets={"rsi": "low", "macd": {}})
    assert "Fuzzy set 'rsi' must be a dictionary of membership functions" in result.errors
    assert "Fuzzy set 'macd' is empty" in result.warnings
    result = check(
        fuzzy_sets={
            "rsi": {"low": {"parameters": [0, 1, 2]}, "high": {"type": "triangular"}, "mid": 5}
        }
    )
    assert "Fuzzy set 'rsi' membership 'low' missing 'type' field" in result.errors
    assert "Fuzzy set 'rsi' membership 'high' missing 'parameters' field" in result.errors
    assert any("membership 'mid' must be a dictionary" in e for e in result.errors)


@pytest.mark.parametrize(
    ("mf", "fragment"),
    [
        ({"type": "triangular", "parameters": [0, 20]}, "needs exactly 3 parameters"),
        ({"type": "triangular", "parameters": [30, 20, 40]}, "must be ordered"),
        ({"type": "trapezoidal", "parameters": [0, 1, 2]}, "needs exactly 4 parameters"),
        ({"type": "gaussian", "parameters": [50, 0]}, "sigma must be > 0"),
        ({"type": "gaussian", "parameters": [50, "x"]}, "must be a list of 2 numbers"),
        ({"type": "sigmoid", "parameters": [1, 2]}, "unknown type 'sigmoid'"),
    ],
)
def test_malformed_membership(mf: dict[str, Any], fragment: str) -> None:
    msg = only_error(check(fuzzy_sets={**BASE["fuzzy_sets"], "rsi": {"bad": mf}}))
    assert msg.startswith("Fuzzy set 'rsi' membership 'bad': ")
    assert fragment in msg


def test_unused_indicator_warns() -> None:
    result = check(fuzzy_sets={"rsi": BASE["fuzzy_sets"]["rsi"]})
    assert result.is_valid
    assert (
        "Indicator 'macd' has no fuzzy set, so it contributes no features "
        "(it is not computed)" in result.warnings
    )


def test_derived_targets_and_input_transform() -> None:
    result = check(
        indicators=[{"name": "bollinger_bands"}, {"name": "volume_sma"}, {"name": "sma"}],
        fuzzy_sets={
            "bb_width": {"a": [0, 1, 2]},
            "volume_ratio": {"a": [0, 1, 2]},
            "sma": {
                "input_transform": {"type": "price_ratio"},
                "near": {"type": "gaussian", "parameters": [1, 0.01]},
            },
        },
    )
    assert result.is_valid, result.errors
    bad = check(
        fuzzy_sets={
            **BASE["fuzzy_sets"],
            "rsi": {"input_transform": {"type": "log"}, "a": [0, 1, 2]},
        }
    )
    assert "input_transform must be" in only_error(bad)


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ({"type": "transformer"}, "Unknown model type 'transformer' (supported: mlp)"),
        ({"architecture": {"hidden_layers": []}}, "model.architecture.hidden_layers must be"),
        ({"architecture": {"activation": 5}}, "model.architecture.activation must be one of"),
        ({"training": {"optimizer": ["adam"]}}, "model.training.optimizer must be one of"),
        ({"training": {"epochs": 0}}, "model.training.epochs must be a positive integer"),
        ({"training": {"learning_rate": -1}}, "model.training.learning_rate must be a number > 0"),
        ({"training": {"early_stopping": {"monitor": "loss"}}}, "early_stopping.monitor must be"),
        ({"training": {"lr_scheduler": {"type": "cosine"}}}, "scheduler type must be one of"),
        ({"features": {"lookback_periods": -1}}, "features.lookback_periods must be"),
    ],
)
def test_model_section_errors(model: dict[str, Any], fragment: str) -> None:
    assert fragment in only_error(check(model=model))


@pytest.mark.parametrize(
    ("training", "fragment"),
    [
        (
            {"labels": {"source": "triple_barrier"}},
            "Label source 'triple_barrier' is not supported",
        ),
        ({"labels": {"zigzag_threshold": 3}}, "zigzag_threshold must be a fraction in (0, 1)"),
        (
            {"data_split": {"train": 0.7, "validation": 0.2, "test": 0.2}},
            "data_split fractions must sum to 1",
        ),
        ({"data_split": {"train": 0, "validation": 0.5, "test": 0.5}}, "train > 0"),
        ({"method": "reinforcement"}, "training.method 'reinforcement' is not supported"),
    ],
)
def test_training_section_errors(training: dict[str, Any], fragment: str) -> None:
    assert fragment in only_error(check(training=training))


def test_s2_split_keys_are_converted_loudly() -> None:
    norm, result = normalise(
        {**BASE, "training": {"data_split": {"test_size": 0.1, "validation_size": 0.2}}}, "t"
    )
    assert result.is_valid
    assert norm.data_split == pytest.approx({"train": 0.72, "validation": 0.18, "test": 0.1})
    assert any("converted to train 0.72" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("training_data", "fragment"),
    [
        (
            {"symbols": {"mode": "single"}, "timeframes": {"mode": "single", "timeframe": "1h"}},
            "mode 'single' needs 'symbol'",
        ),
        (
            {"symbols": ["EURUSD"], "timeframes": {"mode": "multi_timeframe", "list": ["1h"]}},
            "needs at least 2 timeframes",
        ),
        (
            {
                "symbols": ["EURUSD"],
                "timeframes": {
                    "mode": "multi_timeframe",
                    "list": ["1h", "4h"],
                    "base_timeframe": "15m",
                },
            },
            "base_timeframe '15m'",
        ),
        (
            {"symbols": ["EURUSD"], "timeframes": ["1h"], "history_required": 10},
            "History required must be at least 50 bars",
        ),
        ({"symbols": ["../etc"], "timeframes": ["1h"]}, "invalid symbol '../etc'"),
        ({"symbols": ["EURUSD"], "timeframes": ["1 hour"]}, "invalid timeframe '1 hour'"),
    ],
)
def test_training_data_errors(training_data: dict[str, Any], fragment: str) -> None:
    assert fragment in only_error(check(scope="universal", training_data=training_data))


def test_v2_without_training_data() -> None:
    assert only_error(check(scope="universal")) == "Missing required section: 'training_data'"


def test_parse_error_joins_category_lines() -> None:
    raw = {**BASE, "indicators": [{"name": "foo"}], "fuzzy_sets": {"bar": {}}}
    with pytest.raises(StrategyValidationError) as err:
        parse_strategy(yaml.safe_dump(raw), name="t")
    assert err.value.message.startswith(
        "Strategy validation failed:\nindicators: Missing indicators: foo"
    )
    assert err.value.errors[0].startswith("indicators: ")
    assert err.value.errors[1] == (
        "fuzzy_sets: Fuzzy sets reference invalid indicators/metrics: bar. Valid targets are: none"
    )
    assert http_error(err.value).status == 400


def test_validate_strategy_reports_without_raising(
    write_strategy: Callable[[str, str], Path],
) -> None:
    root = write_strategy("x", yaml.safe_dump({**BASE, "name": "x", "model": {"type": "cnn"}}))
    result = validate_strategy("x", root)
    assert not result.is_valid
    assert result.error_lines() == ["model: Unknown model type 'cnn' (supported: mlp)"]


def test_typo_in_top_level_key_is_suggested() -> None:
    result = check(fuzzy_set={"rsi": {}})
    assert any("did you mean 'fuzzy_sets'" in s for s in result.suggestions)


def test_result_message() -> None:
    assert check().message("t") == "Strategy 't' is valid"
    assert (
        check(fuzzy_sets={"rsi": BASE["fuzzy_sets"]["rsi"]}).message("t")
        == "Strategy 't' is valid with 1 warning(s)"
    )
    assert (
        check(indicators=[{"name": "foo"}], fuzzy_sets={"macd": {}}).message("t")
        == "Strategy 't' has 2 error(s) and 1 warning(s)"
    )


def test_activation_list_matches_the_network_builder() -> None:
    net = pytest.importorskip(
        "trainjet.training.model.network"
    )  # imports torch; skipped without it
    from trainjet.training.strategy.defaults import ACTIVATIONS

    assert set(ACTIVATIONS) == set(net.ACTIVATIONS)
