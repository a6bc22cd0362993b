"""The docs that describe the code are generated from it, or checked against it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_events_doc", ROOT / "tools" / "gen_events_doc.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_events_doc_matches_the_code() -> None:
    expected = _load_generator().render()
    actual = (ROOT / "docs" / "events.md").read_text()
    assert actual == expected, "docs/events.md is stale: run `python tools/gen_events_doc.py`"


def test_architecture_doc_names_real_modules() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    for module in (
        "core/events",
        "core/projections",
        "core/store",
        "core/orchestrator.py",
        "core/leases.py",
        "runners/",
        "training/",
        "api/",
        "cli/",
        "natsd/",
        "replay/",
    ):
        assert f"`{module}`" in text
        assert (ROOT / "trainjet" / module.rstrip("/")).exists(), module
