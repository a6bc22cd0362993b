"""`python -m bench [--quick] [--only NAME]...`: run the benchmarks, write
`bench/results/<date>[-quick].json`, print the table; a full run of every benchmark also
regenerates the table in docs/benchmarks.md. `--render FILE` only regenerates the table."""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import MODES, ROOT, Sizes, machine, row
from bench.report import table as render
from bench.report import update_doc, write_json

FIGURES = (
    "overhead",
    "cancel",
    "freshness",
    "append",
    "rebuild",
    "api",
    "scale",
    "startup",
    "restart",
)
RESULTS = ROOT / "bench" / "results"


def run_figure(name: str, sizes: Sizes) -> dict[str, Any]:
    module = importlib.import_module(f"bench.fig_{name}")
    t0 = time.perf_counter()
    try:
        out = module.run(sizes)
        error = None
    except Exception as exc:  # one failing benchmark must not hide the others' figures
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        out = {
            "rows": [
                row(
                    name,
                    f"{FIGURES.index(name) + 1}. {module.TITLE}",
                    figure=f"failed: {error[:200]}",
                    baseline="",
                    ratio="",
                    goal="",
                    met=False,
                )
            ],
            "data": None,
        }
    gc.collect()
    return {
        "title": module.TITLE,
        "seconds": time.perf_counter() - t0,
        "rows": out["rows"],
        "data": out["data"],
        "error": error,
    }


def run(names: list[str], sizes: Sizes, command: str, log: Any = sys.stderr) -> dict[str, Any]:
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    figures: dict[str, Any] = {}
    for name in names:
        print(f"[bench] {name} ({sizes.mode}) ...", file=log, flush=True)
        figures[name] = run_figure(name, sizes)
        for r in figures[name]["rows"]:
            print(
                f"[bench]   {r['title']}: {r['figure']} | baseline {r['baseline']} | "
                f"{r['ratio']} | goal {r['goal']} met={r['met']}",
                file=log,
                flush=True,
            )
        print(f"[bench]   {figures[name]['seconds']:.1f} s", file=log, flush=True)
    return {
        "schema": 1,
        "date": started.isoformat(timespec="seconds"),
        "mode": sizes.mode,
        "command": command,
        "commit": _commit(),
        "machine": machine(),
        "seconds": time.perf_counter() - t0,
        "figures": figures,
        "rows": [r for f in figures.values() for r in f["rows"]],
    }


def _commit() -> str | None:
    """The commit measured, with `+dirty` when the tree had changes (they count too)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--mode", choices=sorted(MODES), help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        action="append",
        choices=FIGURES,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(FIGURES)}",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="regenerate the docs table from a results file and exit",
    )
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
        update_doc(result)
        print(render(result))
        return 0
    mode = args.mode or ("quick" if args.quick else "full")
    names = [n for n in FIGURES if not args.only or n in args.only]
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    result = run(names, MODES[mode], f"python -m bench {argv_text}".strip())
    result["partial"] = bool(args.only)
    path = write_json(result, args.out)
    if mode == "full" and not args.only and not args.no_docs:
        update_doc(result)
    print(render(result))
    print(
        f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
        f" ({result['seconds']:.0f} s)"
    )
    return 1 if any(f["error"] for f in result["figures"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
