"""Write the chaos suite's figures into docs/reliability.md.

    python tools/chaos_report.py REPORT.jsonl [docs/reliability.md]

REPORT.jsonl holds one JSON line per scenario (`tests/chaos/report.py` writes them during
`make chaos`). The table, with the machine (CPU count and model) and the date, replaces what
stands between the two markers of the page, so the rest of the page is left as written.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

BEGIN = "<!-- chaos-table:begin -->"
END = "<!-- chaos-table:end -->"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _value(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def table(lines: list[dict[str, object]], now: datetime) -> str:
    passed = sum(1 for line in lines if line.get("ok"))
    out = [
        f"Run of {now:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs ({cpu_model()}), "
        f"Python {platform.python_version()}: {passed} of {len(lines)} scenarios held.",
        "",
        "| scenario | figure | value | held |",
        "| --- | --- | --- | --- |",
    ]
    for line in lines:
        scenario = str(line.get("scenario", "?")).replace("|", "\\|")
        figure = str(line.get("figure", "")).replace("|", "\\|")
        held = "yes" if line.get("ok") else "**no**"
        out.append(f"| {scenario} | {figure} | {_value(line.get('value'))} | {held} |")
    return "\n".join(out)


def rewrite(page: str, body: str) -> str:
    if BEGIN not in page or END not in page:
        raise SystemExit(f"the page has no {BEGIN} ... {END} markers to write between")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{body}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    report = Path(argv[0])
    page = Path(argv[1] if len(argv) > 1 else "docs/reliability.md")
    if not report.is_file():
        print(f"no chaos report at {report}: run `make chaos` first", file=sys.stderr)
        return 2
    lines = [json.loads(t) for t in report.read_text().splitlines() if t.strip()]
    page.write_text(rewrite(page.read_text(), table(lines, datetime.now(UTC))))
    print(f"{page}: {len(lines)} scenario figures written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
