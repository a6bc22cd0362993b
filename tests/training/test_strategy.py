"""Strategy lookup, parsing, normalisation and the catalogue."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from trainjet.api.errors import http_error
from trainjet.training.errors import StrategyNotFoundError, StrategyValidationError
from trainjet.training.strategy.loader import (
    StrategyConfig,
    list_strategies,
    load_strategy,
    parse_strategy,
    validate_strategy,
)

EXAMPLES = (
    "eurusd_rsi_mlp",
    "eurusd_multi_timeframe",
    "multi_symbol_daily",
    "eurusd_early_stopping",
)
MINIMAL = """\
name: {name}
indicators:
  - name: rsi
    period: 7
fuzzy_sets:
  rsi:
    low: {{type: triangular, parameters: [0, 20, 40]}}
"""


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load_and_validate(name: str, strategies_dir: Path) -> None:
    cfg = load_strategy(name, strategies_dir)
    assert cfg.name == name
    assert cfg.symbols
    assert cfg.timeframes
    assert cfg.indicators
    assert cfg.fuzzy_sets
    assert cfg.path == (strategies_dir / f"{name}.yaml").resolve()
    assert cfg.raw_yaml == (strategies_dir / f"{name}.yaml").read_text(encoding="utf-8")
    assert cfg.model["training"]["epochs"] <= 20
    result = validate_strategy(name, strategies_dir)
    assert result.is_valid, result.errors
    json.dumps(cfg.to_dict())  # JSON-safe normal form


def test_name_with_yaml_suffix_and_path_inside_dir(strategies_dir: Path) -> None:
    assert load_strategy("eurusd_rsi_mlp.yaml", strategies_dir).name == "eurusd_rsi_mlp"
    assert load_strategy(strategies_dir / "eurusd_rsi_mlp.yaml", strategies_dir).format == "v2"


@pytest.mark.parametrize(
    "bad", ["../eurusd_rsi_mlp", "/etc/passwd", "sub/x", "..\\x", "..", "../../data/EURUSD_1h"]
)
def test_path_traversal_rejected(bad: str, strategies_dir: Path) -> None:
    with pytest.raises(StrategyValidationError) as err:
        load_strategy(bad, strategies_dir)
    assert "Strategy name must be a file name without directory components" in err.value.message
    assert http_error(err.value).status == 400
    assert not isinstance(err.value, StrategyNotFoundError)


@pytest.mark.parametrize("bad", ["bad name", "x;rm", "_hidden", "-x", "ünïcode", ""])
def test_unsafe_characters_rejected(bad: str, strategies_dir: Path) -> None:
    with pytest.raises(StrategyValidationError) as err:
        load_strategy(bad, strategies_dir)
    assert http_error(err.value).status == 400
    assert (
        "may only contain alphanumerics, dashes, or underscores" in err.value.message
        or "without directory components" in err.value.message
    )


def test_path_outside_dir_and_symlink_escape(tmp_path: Path, strategies_dir: Path) -> None:
    outside = tmp_path / "evil.yaml"
    outside.write_text(MINIMAL.format(name="evil"))
    with pytest.raises(StrategyValidationError, match="inside the strategies directory"):
        load_strategy(outside, strategies_dir)
    root = tmp_path / "strategies"
    root.mkdir()
    os.symlink(outside, root / "link.yaml")
    with pytest.raises(StrategyValidationError, match="inside the strategies directory"):
        load_strategy("link", root)


def test_not_found_lists_what_exists(strategies_dir: Path) -> None:
    with pytest.raises(StrategyNotFoundError) as err:
        load_strategy("nope", strategies_dir)
    msg = err.value.message
    assert msg.startswith("Strategy file not found: nope.yaml (searched: ")
    assert "eurusd_rsi_mlp.yaml" in msg
    assert (
        http_error(err.value).status == 400
    )  # training start; the strategy endpoints map it to 404


def test_yaml_errors(write_strategy: Callable[[str, str], Path]) -> None:
    root = write_strategy("broken", "name: [unclosed\n")
    with pytest.raises(
        StrategyValidationError, match=r"Failed to parse strategy YAML broken\.yaml"
    ):
        load_strategy("broken", root)
    write_strategy("alist", "- a\n- b\n")
    with pytest.raises(StrategyValidationError, match="Strategy configuration must be a mapping"):
        load_strategy("alist", root)
    # unsafe tags are refused: safe_load only
    write_strategy("tagged", "name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(StrategyValidationError, match="Failed to parse"):
        load_strategy("tagged", root)
    (root / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(StrategyValidationError, match=r"Unable to read strategy file latin\.yaml"):
        load_strategy("latin", root)
    with pytest.raises(StrategyValidationError, match="Missing required section: 'name'"):
        parse_strategy("indicators: []\nfuzzy_sets: {}\n")
    result = validate_strategy("broken", root)
    assert not result.is_valid
    assert result.issues[0].category == "structure"


def test_v1_defaults_injected(write_strategy: Callable[[str, str], Path]) -> None:
    cfg = load_strategy("mini", write_strategy("mini", MINIMAL.format(name="mini")))
    assert cfg.format == "v1"
    assert (cfg.symbols, cfg.timeframes, cfg.history_required) == (["AAPL"], ["1h"], 200)
    assert cfg.labels == {"source": "zigzag", "zigzag_threshold": 0.03, "label_lookahead": 20}
    assert cfg.data_split == {"train": 0.7, "validation": 0.15, "test": 0.15}
    m = cfg.model
    assert m["type"] == "mlp"
    assert m["architecture"] == {"hidden_layers": [50, 25], "activation": "relu", "dropout": 0.2}
    t = m["training"]
    assert (t["learning_rate"], t["batch_size"], t["epochs"], t["optimizer"]) == (
        0.001,
        32,
        100,
        "adam",
    )
    assert t["early_stopping"] == {
        "enabled": False,
        "patience": 10,
        "monitor": "val_loss",
        "min_delta": 1e-4,
    }
    assert t["scheduler"] is None
    assert m["features"]["lookback_periods"] == 2
    assert m["symbol_embedding_dim"] == 16
    assert cfg.decisions["confidence_threshold"] == 0.6
    assert cfg.analytics["enabled"] is False
    assert cfg.seed is None


def test_flat_and_nested_indicator_params(write_strategy: Callable[[str, str], Path]) -> None:
    text = MINIMAL.format(name="p") + "  macd.signal:\n    up: [0, 1, 2]\n"
    text = text.replace(
        "    period: 7\n",
        "    period: 7\n  - name: macd\n    params:\n      fast_period: 5\n    slow_period: 10\n",
    )
    cfg = load_strategy("p", write_strategy("p", text))
    rsi, macd = cfg.indicators
    assert (rsi.id, rsi.type, rsi.params) == ("rsi", "RSI", {"period": 7, "source": "close"})
    assert macd.params["fast_period"] == 5
    assert macd.params["slow_period"] == 10
    assert macd.params["signal_period"] == 9
    # bare-list shorthand becomes a triangular set
    assert cfg.fuzzy_sets["macd.signal"]["up"] == {
        "type": "triangular",
        "parameters": [0.0, 1.0, 2.0],
    }


V2 = """\
name: v2
version: "2.0"
scope: universal
training_data:
  symbols: {{mode: multi_symbol, {sym_key}: [EURUSD, GOOG]}}
  timeframes: {{mode: multi_timeframe, {tf_key}: [1d, 1h, 4h], base_timeframe: 1h}}
indicators: [{{name: rsi}}]
fuzzy_sets: {{rsi: {{low: {{type: triangular, parameters: [0, 20, 40]}}}}}}
"""


@pytest.mark.parametrize(
    ("sym_key", "tf_key"), [("list", "list"), ("symbols", "timeframes"), ("list", "timeframes")]
)
def test_list_alias_is_honoured(sym_key: str, tf_key: str) -> None:
    cfg = parse_strategy(V2.format(sym_key=sym_key, tf_key=tf_key), name="v2")
    assert cfg.format == "v2"
    assert cfg.symbols == ["EURUSD", "GOOG"]
    assert cfg.timeframes == ["1h", "4h", "1d"]  # finest first
    assert cfg.base_timeframe == "1h"
    assert cfg.version == "2.0"


def test_v2_single_modes_and_conflicting_alias() -> None:
    text = V2.replace(
        "{mode: multi_symbol, {sym_key}: [EURUSD, GOOG]}", "{mode: single, symbol: EURUSD}"
    )
    cfg = parse_strategy(text.format(tf_key="list"), name="v2")
    assert cfg.symbols == ["EURUSD"]
    bad = V2.format(sym_key="list", tf_key="list").replace(
        "list: [EURUSD, GOOG]", "list: [EURUSD], symbols: [GOOG]"
    )
    with pytest.raises(StrategyValidationError, match="both 'symbols' and 'list'"):
        parse_strategy(bad, name="v2")


def test_early_stopping_and_scheduler_normal_form(strategies_dir: Path) -> None:
    t = load_strategy("eurusd_early_stopping", strategies_dir).model["training"]
    assert t["early_stopping"] == {
        "enabled": True,
        "patience": 3,
        "monitor": "val_loss",
        "min_delta": 0.001,
    }
    assert t["scheduler"] == {
        "type": "reduce_on_plateau",
        "factor": 0.5,
        "patience": 1,
        "mode": "min",
    }
    assert "lr_scheduler" not in t
    assert t["gradient_clip"] == 1.0


def test_seed_and_frozen(strategies_dir: Path) -> None:
    cfg = load_strategy("eurusd_rsi_mlp", strategies_dir)
    assert cfg.seed == 42
    assert isinstance(cfg, StrategyConfig)
    with pytest.raises(AttributeError):
        cfg.name = "other"  # type: ignore[misc]


def test_list_strategies_skips_unparseable(tmp_path: Path, strategies_dir: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    for name in EXAMPLES:
        (root / f"{name}.yaml").write_text((strategies_dir / f"{name}.yaml").read_text())
    (root / "broken.yaml").write_text("name: [oops\n")
    (root / "invalid.yaml").write_text(
        "name: invalid\nindicators: [{name: nosuch}]\nfuzzy_sets: {}\n"
    )
    (root / "notes.txt").write_text("not a strategy")
    skipped: list[tuple[Path, str]] = []
    rows = list_strategies(root, on_skip=lambda p, why: skipped.append((p, why)))
    names = [r.name for r in rows]
    assert names == sorted([*EXAMPLES, "invalid"])
    assert [p.name for p, _ in skipped] == ["broken.yaml"]
    invalid = next(r for r in rows if r.name == "invalid")
    assert not invalid.is_valid
    assert invalid.errors
    demo = next(r for r in rows if r.name == "eurusd_rsi_mlp")
    assert (demo.symbol, demo.timeframe, demo.is_valid) == ("EURUSD", "1h", True)
    assert [i["type"] for i in demo.indicators] == ["RSI", "MACD"]
    assert "rsi" in demo.fuzzy_config
