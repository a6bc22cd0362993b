"""`/symbols` must stay cheap: ktrdr's CLI calls it before every operations command."""

from __future__ import annotations

import os
from pathlib import Path

from trainjet.api.routes.market_data import MarketDataCatalogue, scan_market_data


def test_scan_reads_names_only_and_splits_on_the_last_underscore(tmp_path: Path) -> None:
    (tmp_path / "EURUSD_1h.csv").write_bytes(b"\x00 not a csv at all")  # never opened
    (tmp_path / "EURUSD_15m.csv").write_text("")
    (tmp_path / "BRK_B_1d.csv").write_text("")
    (tmp_path / "BTCUSD_1M.csv").write_text("")
    for junk in ("README.md", "EURUSD.csv", "EURUSD_1x.csv", "bad name_1h.csv", "X_1h.csv.bak"):
        (tmp_path / junk).write_text("")
    assert scan_market_data(tmp_path) == {
        "BRK_B": ["1d"],
        "BTCUSD": ["1M"],
        "EURUSD": ["15m", "1h"],
    }
    assert scan_market_data(tmp_path / "missing") == {}


def test_catalogue_rescans_only_when_the_directory_changes(tmp_path: Path) -> None:
    (tmp_path / "EURUSD_1h.csv").write_text("")
    catalogue = MarketDataCatalogue(tmp_path)
    first = catalogue.symbols()
    assert catalogue.symbols() is first  # cached: no second scan
    (tmp_path / "GOOG_1d.csv").write_text("")
    stamp = os.stat(tmp_path).st_mtime_ns
    os.utime(tmp_path, ns=(stamp, stamp + 1_000_000))  # coarse clocks: make the change visible
    assert set(catalogue.symbols()) == {"EURUSD", "GOOG"}
