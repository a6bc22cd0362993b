"""tools/chaos_report.py writes the chaos figures between the page's markers, nowhere else."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "chaos_report", Path(__file__).resolve().parents[2] / "tools" / "chaos_report.py"
)
assert _spec is not None and _spec.loader is not None
chaos_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chaos_report)


def test_the_table_replaces_only_what_stands_between_the_markers(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    lines = [
        {"scenario": "a | b", "figure": "seconds", "value": 1.23456, "ok": True},
        {"scenario": "c", "figure": "count", "value": None, "ok": False},
    ]
    report.write_text("".join(json.dumps(line) + "\n" for line in lines))
    page = tmp_path / "page.md"
    page.write_text(f"# head\n{chaos_report.BEGIN}\nold table\n{chaos_report.END}\ntail\n")
    assert chaos_report.main([str(report), str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# head\n") and text.endswith(f"{chaos_report.END}\ntail\n")
    assert "old table" not in text
    assert "| a \\| b | seconds | 1.23 | yes |" in text
    assert "| c | count | n/a | **no** |" in text
    assert "1 of 2 scenarios held" in text and "CPUs" in text


def test_a_page_without_markers_is_refused(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    report.write_text(json.dumps({"scenario": "a", "figure": "f", "value": 1, "ok": True}))
    page = tmp_path / "page.md"
    page.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        chaos_report.main([str(report), str(page)])
    assert page.read_text() == "no markers\n"


def test_a_missing_report_says_to_run_make_chaos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert chaos_report.main([str(tmp_path / "none.jsonl"), str(tmp_path / "p.md")]) == 2
    assert "make chaos" in capsys.readouterr().err
