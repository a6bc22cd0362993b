"""`trainjet replay` against a real stream: audits pass on completed, cancelled and failed
operations and fail, naming the field, when the served projection is corrupted; `--at` shows
the past; `--export` round-trips; `--plot` draws a PNG; `--all --audit` counts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import CliStack
from trainjet.replay import diff, info_json, read_events, rebuild


def served(cli: CliStack, op_id: str) -> dict[str, Any]:
    return cli.stack.operation(op_id)


@pytest.mark.parametrize("which", ["completed", "cancelled", "failed"])
def test_audit_passes_on_every_kind_of_ending(cli_stack: CliStack, which: str) -> None:
    op_id = getattr(cli_stack, which)
    result = cli_stack.run("replay", op_id, "--audit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit OK" in result.stdout
    report = json.loads(cli_stack.run("replay", op_id, "--audit", "--json").stdout)
    assert report["operation"]["status"] == which
    assert report["audit"] == {**report["audit"], "ok": True, "differences": []}
    assert report["events"] == len(cli_stack.events(op_id))


def test_audit_fails_on_a_tampered_snapshot_and_shows_the_difference(
    cli_stack: CliStack, tmp_path: Path
) -> None:
    report = json.loads(cli_stack.run("replay", cli_stack.completed, "--audit", "--json").stdout)
    snapshot = report["audit"]["served"]
    snapshot["operation"]["progress"]["percentage"] = 99.0
    snapshot["metrics"]["metrics"]["epochs"][1]["val_loss"] = 0.5
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(snapshot))
    result = cli_stack.run("replay", cli_stack.completed, "--against", str(tampered))
    assert result.returncode == 1
    assert "audit FAILED: 2 difference(s)" in result.stdout
    assert "progress.percentage" in result.stdout
    assert "99.0" in result.stdout
    assert "metrics.metrics.epochs[1].val_loss" in result.stdout
    # `ops show --json` (a bare OperationInfo) is a snapshot too
    shown = json.loads(cli_stack.run("ops", "show", cli_stack.failed, "--json").stdout)
    shown["error_message"] = "something else"
    tampered.write_text(json.dumps(shown))
    as_json = cli_stack.run("replay", cli_stack.failed, "--against", str(tampered), "--json")
    assert as_json.returncode == 1
    [difference] = json.loads(as_json.stdout)["audit"]["differences"]
    assert difference["path"] == "error_message"
    assert difference["served"] == "something else"


class CorruptingProxy(BaseHTTPRequestHandler):
    """The real API, except that one operation's served status is wrong."""

    upstream = ""
    corrupt_id = ""

    def do_GET(self) -> None:
        import httpx

        response = httpx.get(self.upstream + self.path, timeout=10)
        body = response.json()
        if self.path.endswith(f"/operations/{self.corrupt_id}"):
            body["data"]["status"] = "completed"
        data = json.dumps(body).encode()
        self.send_response(response.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def corrupting_api(cli_stack: CliStack) -> Iterator[str]:
    CorruptingProxy.upstream = cli_stack.api_url
    CorruptingProxy.corrupt_id = cli_stack.cancelled
    server = ThreadingHTTPServer(("127.0.0.1", 0), CorruptingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_audit_fails_when_the_api_serves_a_corrupted_projection(
    cli_stack: CliStack, corrupting_api: str
) -> None:
    result = cli_stack.run(
        "replay", cli_stack.cancelled, "--audit", TRAINJET_API_URL=corrupting_api
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "status" in result.stdout
    assert "'cancelled'" in result.stdout
    assert "'completed'" in result.stdout
    every = cli_stack.run("replay", "--all", "--audit", "--json", TRAINJET_API_URL=corrupting_api)
    assert every.returncode == 1
    report = json.loads(every.stdout)["audit"]
    assert list(report["differing"]) == [cli_stack.cancelled]


def test_replay_all_audit_reports_counts(cli_stack: CliStack) -> None:
    result = cli_stack.run("replay", "--all", "--audit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit OK" in result.stdout
    report = json.loads(cli_stack.run("replay", "--all", "--audit", "--json").stdout)
    total = cli_stack.stack.http.get("/operations").json()["total_count"]
    assert report["operations"] == total >= 3
    assert report["audit"]["compared"] == report["audit"]["matching"] == total
    assert report["audit"]["missing_in_api"] == report["audit"]["missing_in_stream"] == []
    assert report["by_status"]["failed"] >= 1
    assert report["by_status"]["cancelled"] >= 1


def test_replay_at_a_sequence_and_at_a_time_shows_the_past(cli_stack: CliStack) -> None:
    events = cli_stack.events(cli_stack.cancelled)
    first_epoch = next(e for e in events if e["type"] == "epoch_completed")
    by_seq = json.loads(
        cli_stack.run(
            "replay", cli_stack.cancelled, "--at", str(first_epoch["seq"]), "--json"
        ).stdout
    )
    assert by_seq["operation"]["status"] == "running"
    assert by_seq["operation"]["progress"]["steps_completed"] == 1
    assert [row["epoch"] for row in by_seq["epochs"]] == [1]
    by_time = json.loads(
        cli_stack.run(
            "replay", cli_stack.cancelled, "--at", first_epoch["occurred_at"], "--json"
        ).stdout
    )
    assert by_time["last_sequence"] >= first_epoch["seq"]
    assert by_time["operation"]["progress"]["steps_completed"] >= 1
    assert by_time["operation"]["status"] == "running"
    shown = cli_stack.run("replay", cli_stack.cancelled, "--at", str(first_epoch["seq"]))
    assert f"as of sequence {first_epoch['seq']}" in shown.stdout
    assert "Per-epoch analytics" in shown.stdout
    bad = cli_stack.run("replay", cli_stack.cancelled, "--at", "yesterday")
    assert bad.returncode == 2
    assert "stream sequence" in bad.stderr


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_export_round_trips(cli_stack: CliStack, tmp_path: Path, suffix: str) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow", reason="pyarrow is optional (trainjet[parquet])")
    target = tmp_path / f"events{suffix}"
    result = cli_stack.run("replay", cli_stack.cancelled, "--export", str(target))
    assert result.returncode == 0, result.stderr
    records = read_events(target)
    assert [r.seq for r in records] == [e["seq"] for e in cli_stack.events(cli_stack.cancelled)]
    rebuilt = rebuild(records, cli_stack.cancelled)
    assert rebuilt.info is not None
    assert diff(info_json(rebuilt.info), served(cli_stack, cli_stack.cancelled)) == []


def test_plot_writes_a_png(cli_stack: CliStack, tmp_path: Path) -> None:
    target = tmp_path / "curves.png"
    result = cli_stack.run("replay", cli_stack.cancelled, "--plot", str(target))
    assert result.returncode == 0, result.stderr
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 800 and height > 500
    nothing = cli_stack.run("replay", cli_stack.failed, "--plot", str(tmp_path / "x.png"))
    assert nothing.returncode == 2
    assert "nothing to plot" in nothing.stderr
