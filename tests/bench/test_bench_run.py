"""A tiny but real run of some benchmarks: each figure must come from measurements (counts
checked against the server, figures recomputable from the raw samples) and the results file
must hold every field the docs table is built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report, stats
from bench.__main__ import FIGURES, run
from bench.common import TINY
from bench.fig_freshness import _poll_visibility
from bench.workload import histories


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = run(["overhead", "append", "rebuild"], TINY, "python -m bench --mode tiny")
    path = report.write_json(out, tmp_path_factory.mktemp("results"))
    assert path.name.endswith("-tiny.json")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_results_file_has_every_field(result: dict[str, Any]) -> None:
    for name in report.TOP_FIELDS:
        assert name in result, name
    assert result["schema"] == report.SCHEMA
    for key in ("nproc", "cpu_model", "memory_gib", "os", "versions"):
        assert result["machine"][key], key
    assert result["machine"]["versions"]["nats-server"]
    assert list(result["figures"]) == ["overhead", "append", "rebuild"]
    for fig in result["figures"].values():
        for name in report.FIGURE_FIELDS:
            assert name in fig, name
        assert fig["error"] is None, fig["error"]
        assert fig["seconds"] > 0
        for r in fig["rows"]:
            assert set(report.ROW_FIELDS) <= set(r)
            assert r["figure"] and r["baseline"] and r["ratio"] and r["goal"]
    assert len(result["rows"]) == sum(len(f["rows"]) for f in result["figures"].values())


def test_overhead_figures_come_from_real_training_runs(result: dict[str, Any]) -> None:
    data = result["figures"]["overhead"]["data"]
    assert data["batches_per_run"] > 0 and data["epochs"] == TINY.epochs
    assert data["events_per_instrumented_run"] >= 2  # batch progress + epoch, published
    samples = data["samples_ms"]
    assert all(len(samples[arm]) == TINY.pairs for arm in ("bare", "trainjet", "bare_aa"))
    ratios = [t / b for t, b in zip(samples["trainjet"], samples["bare"], strict=True)]
    assert data["end_to_end"]["ratio_geomean"] == pytest.approx(stats.geomean(ratios))
    assert data["bare_us_per_batch"] == pytest.approx(
        stats.median(samples["bare"]) * 1000 / data["batches_per_run"]
    )
    direct = data["direct"]
    assert direct["timer_ns_per_call"] > 0 and direct["reporter_calls_per_run"] > 0
    assert direct["total_pct"] == pytest.approx(
        (direct["hook_bridge_us_per_batch"] + direct["publisher_us_per_batch"])
        / data["bare_us_per_batch"]
        * 100
    )
    # the loop's host-device reads were counted: every batch read, fewer reads than batches
    reads = data["device_reads"]
    assert reads["every_batch_read"] and reads["batches_per_run"] == data["batches_per_run"]
    assert TINY.epochs <= reads["reads_per_run"] < data["batches_per_run"]


def test_store_figures_match_what_the_server_holds(result: dict[str, Any]) -> None:
    append = result["figures"]["append"]["data"]
    assert append["events"] == TINY.append_events
    assert append["stored"] == {"trainjet": [TINY.append_events], "raw": [TINY.append_events]}
    assert append["trainjet_events_per_s"] == stats.median(append["samples_per_s"]["trainjet"])
    rebuild = result["figures"]["rebuild"]["data"]
    assert rebuild["events"] == TINY.rebuild_events
    assert rebuild["check"]["trainjet"]["applied"] == TINY.rebuild_events
    assert rebuild["check"]["raw"]["decoded"] == TINY.rebuild_events
    assert rebuild["check"]["trainjet"]["rejected"] == 0
    assert rebuild["ratio"] == pytest.approx(rebuild["raw_seconds"] / rebuild["trainjet_seconds"])


def test_table_renders_every_row_and_replaces_only_its_block(
    result: dict[str, Any], tmp_path: Path
) -> None:
    text = report.table(result)
    assert text.count("\n| ") == 2 + len(result["rows"])  # header, rule, rows
    assert "python -m bench --only append" in text
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# B\n\nhand-written\n\n{report.BEGIN}\nold\n{report.END}\n\nafter\n")
    report.update_doc(result, doc)
    updated = doc.read_text()
    assert "old" not in updated and "hand-written" in updated and updated.endswith("after\n")
    assert text in updated


def test_every_figure_module_exists() -> None:
    import importlib

    for name in FIGURES:
        module = importlib.import_module(f"bench.fig_{name}")
        assert name == module.NAME and callable(module.run) and module.TITLE


def test_poll_visibility_uses_the_first_poll_that_includes_the_event() -> None:
    published = {5: 10.0, 6: 10.5}
    polls = [(9.9, 5), (10.02, 5), (10.6, 6), (10.7, 6)]
    assert _poll_visibility(published, polls) == [pytest.approx(20.0), pytest.approx(100.0)]


def test_workload_histories_add_up() -> None:
    sizes = [len(h) for h in histories("t", 1003, 100)]
    assert sum(sizes) == 1003 and min(sizes) >= 3


def test_restart_figure_compares_a_snapshot_start_with_a_full_fold(tmp_path: Path) -> None:
    from bench import fig_restart

    data = fig_restart.run(TINY, tmp_path)["data"]
    snap, full = data["runs"]["snapshot"], data["runs"]["full"]
    assert len(snap) == len(full) == TINY.restart_rounds
    assert all(r["loaded_snapshot_seq"] > 0 and r["folded"] == data["tail_events"] for r in snap)
    events = TINY.restart_events + 2 * TINY.restart_rounds * data["tail_events"]
    assert data["events"] == events
    assert all(r["loaded_snapshot_seq"] == 0 and r["folded"] >= r["operations"] for r in full)
    assert [g["events"] for g in data["growth"]] == [
        TINY.restart_events // 4,
        TINY.restart_events // 2,
        TINY.restart_events,
    ]
    assert all(g["rss_mib"] > 0 and g["folded"] == g["events"] for g in data["growth"])
    assert data["snapshot_seconds"] == stats.median([r["seconds"] for r in snap])
