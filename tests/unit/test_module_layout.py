"""Layout rules of the source tree: modules stay small unless they say why, and reasons are
written in words rather than as section numbers of a document that is not in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAX_LINES = 300
SIZE_MARK = "# size:"
SECTION_SIGN = "\N{SECTION SIGN}"
TEXT_SUFFIXES = {".py", ".md", ".js", ".css", ".html", ".toml", ".yaml", ".yml", ".txt", ".cfg"}
THIRD_PARTY = REPO / "trainjet" / "api" / "console" / "static" / "vendor"  # copied as published


def oversized_without_reason(root: Path) -> list[str]:
    """Modules over MAX_LINES whose first three lines give no `# size: <reason>`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) <= MAX_LINES:
            continue
        marks = [ln for ln in lines[:3] if ln.startswith(SIZE_MARK)]
        if not marks or not marks[0][len(SIZE_MARK) :].strip():
            found.append(f"{path.relative_to(root.parent)} ({len(lines)} lines)")
    return found


def section_references(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix not in TEXT_SUFFIXES or path.is_relative_to(THIRD_PARTY):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SECTION_SIGN in line:
                    found.append(f"{path.relative_to(root.parent)}:{n}")
    return found


def test_modules_over_the_limit_say_why() -> None:
    assert oversized_without_reason(REPO / "trainjet") == []


def test_no_section_references() -> None:
    roots = [REPO / d for d in ("trainjet", "tests", "bench", "tools", "docs")]
    assert section_references(*(r for r in roots if r.is_dir())) == []


@pytest.mark.parametrize(
    ("head", "flagged"),
    [("", True), ("# size:\n", True), ("# size: one table of data\n", False)],
)
def test_the_size_rule_itself(tmp_path: Path, head: str, flagged: bool) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "big.py").write_text(head + "x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
    (pkg / "small.py").write_text("x = 1\n", encoding="utf-8")
    assert bool(oversized_without_reason(pkg)) is flagged


def test_the_section_rule_itself(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(f"# see {SECTION_SIGN}2.1\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("# a reason in words\n", encoding="utf-8")
    assert [p.split(":")[0].endswith("a.py") for p in section_references(tmp_path)] == [True]
