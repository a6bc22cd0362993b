"""Strategy YAML texts that tests write into a copy of strategies/ to provoke one error each."""

from __future__ import annotations


def unknown_indicator(name: str) -> str:
    """Valid in every way but one: its indicator does not exist."""
    return f"""name: {name}
training_data: {{symbols: {{mode: single, symbol: EURUSD}}, timeframes: {{mode: single, timeframe: 1h}}}}
indicators:
  - {{name: not_an_indicator, period: 3}}
fuzzy_sets:
  not_an_indicator:
    low: {{type: triangular, parameters: [0, 10, 20]}}
model: {{type: mlp, architecture: {{hidden_layers: [4]}}, training: {{epochs: 1}}}}
training: {{labels: {{source: zigzag, zigzag_threshold: 0.01}}}}
"""
