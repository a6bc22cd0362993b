"""The CLI for looking at runs: list columns and filters, `show` as tables, tags and notes,
`compare`, `tail` with the live display (Ctrl-C detaches, exit 0), and model versions,
promotion and download. Real processes against the package's real API, runner and NATS."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import CliStack, Lines

STRATEGY = "eurusd_rsi_mlp"


def _start(cli_stack: CliStack, epochs: int) -> str:
    op_id = f"cli-runs-{uuid.uuid4().hex[:8]}"
    response = cli_stack.stack.http.post(
        "/trainings/start",
        json={"strategy_name": STRATEGY, "epochs": epochs, "task_id": op_id},
    )
    assert response.status_code == 200, response.text
    return op_id


def _cancel(cli_stack: CliStack, op_id: str) -> None:
    cli_stack.stack.http.post(f"/operations/{op_id}/cancel", json={"force": True})
    cli_stack.finish(op_id)


def test_ops_list_shows_strategy_best_metric_and_runner_and_filters(cli_stack: CliStack) -> None:
    table = cli_stack.run("ops", "list", "--strategy", STRATEGY)
    assert table.returncode == 0, table.stderr
    for column in ("strategy", "best val", "runner"):
        assert column in table.stdout
    [row] = [line for line in table.stdout.splitlines() if cli_stack.completed in line]
    best = json.loads(cli_stack.run("ops", "list", "--json").stdout)["data"]
    [completed] = [r for r in best if r["operation_id"] == cli_stack.completed]
    assert STRATEGY in row
    assert f"{completed['best_val_accuracy'] * 100:.1f}%" in row
    assert completed["runner_id"] in row
    assert "Saving" not in row  # a finished run shows no step
    none = cli_stack.run("ops", "list", "--symbol", "GBPUSD", "--json")
    assert json.loads(none.stdout)["data"] == []


def test_tag_note_and_show_render_tables_not_json(cli_stack: CliStack) -> None:
    op_id = cli_stack.completed
    tagged = cli_stack.run("ops", "tag", op_id, "cli-baseline", "keep")
    assert tagged.returncode == 0, tagged.stderr
    assert "cli-baseline, keep" in tagged.stdout
    assert cli_stack.run("ops", "tag", op_id, "--remove", "keep").returncode == 0
    noted = cli_stack.run("ops", "note", op_id, "compare against the 500-epoch run")
    assert noted.returncode == 0, noted.stderr
    listed = json.loads(cli_stack.run("ops", "list", "--tag", "cli-baseline", "--json").stdout)
    assert [r["operation_id"] for r in listed["data"]] == [op_id]
    shown = cli_stack.run("ops", "show", op_id)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "cli-baseline" in out
    assert "compare against the 500-epoch run" in out
    assert "cli:" in out  # who wrote the note
    for figure in ("Training Results", "Final Validation Accuracy", "Test Accuracy", "F1 Score"):
        assert figure in out, figure
    assert '{"' not in out  # the result is a table, not JSON
    bad = cli_stack.run("ops", "tag", op_id, "Not A Tag!")
    assert bad.returncode == 2
    assert "Invalid tag" in bad.stderr and "Traceback" not in bad.stderr
    unknown = cli_stack.run("ops", "note", "nope", "x")
    assert unknown.returncode == 2
    assert "`trainjet ops list`" in unknown.stderr


def test_compare_prints_metrics_side_by_side_and_the_config_diff(cli_stack: CliStack) -> None:
    a, b = cli_stack.completed, cli_stack.cancelled
    result = cli_stack.run("ops", "compare", a, b)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("Runs compared (2)", "best val accuracy", "Per epoch", "Configuration",
                 "inputs.epochs", "500"):  # fmt: skip
        assert text in out, text
    data = json.loads(cli_stack.run("ops", "compare", a, b, "--json").stdout)
    assert {"path": "inputs.epochs", "values": [2, 500]} in data["config_diff"]
    one = cli_stack.run("ops", "compare", a)
    assert one.returncode == 2
    assert "2 to 5" in one.stderr
    missing = cli_stack.run("ops", "compare", a, "nope")
    assert missing.returncode == 2
    assert "Operation not found: nope" in missing.stderr


def test_tail_draws_the_train_display_and_ctrl_c_detaches(cli_stack: CliStack) -> None:
    done = cli_stack.run("ops", "tail", cli_stack.completed)
    assert done.returncode == 0, done.stderr
    assert "Epoch 2/2" in done.stdout and "Training Results" in done.stdout
    assert "batch_progress" not in done.stdout  # not the raw events
    raw = cli_stack.run("ops", "tail", cli_stack.completed, "--raw")
    assert "batch_progress" in raw.stdout and "operation_completed" in raw.stdout

    op_id = _start(cli_stack, 500)
    try:
        with cli_stack.popen("ops", "tail", op_id) as proc:
            lines = Lines(proc)
            try:
                lines.wait_for("Epoch 1/500")
                proc.send_signal(signal.SIGINT)
                assert proc.wait(timeout=60) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
            assert proc.stderr is not None
            assert "the operation goes on" in proc.stderr.read()
        assert cli_stack.stack.operation(op_id)["status"] == "running"
    finally:
        _cancel(cli_stack, op_id)


TMUX = shutil.which("tmux")


@pytest.mark.skipif(
    TMUX is None,
    reason="tmux is not installed, so there is no real terminal to check the live display in "
    "(.ci/run installs it from Debian's packages)",
)
def test_tail_live_display_in_a_real_terminal(cli_stack: CliStack, tmp_path: Path) -> None:
    assert TMUX is not None
    op_id = _start(cli_stack, 500)
    server = f"trainjet-test-{uuid.uuid4().hex[:8]}"  # a private tmux server, not the user's
    rc_file = tmp_path / "rc"
    env = " ".join(
        shlex.quote(f"{k}={v}") for k, v in cli_stack.env().items() if k.startswith("TRAINJET_")
    )
    command = (
        f"env -u NO_COLOR -u COLUMNS {env} {sys.executable} -m trainjet ops tail {op_id}; "
        f"echo $? > {rc_file}; sleep 60"
    )
    tmux = [TMUX, "-L", server]
    subprocess.run([*tmux, "new-session", "-d", "-x", "160", "-y", "40", "-c",
                    str(cli_stack.root), command], check=True)  # fmt: skip

    def screen(*extra: str) -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", *extra], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip

    wanted = [r"\d{1,3}\.\d%", r"ETA \d\d:\d\d", r"Epoch \d+/500", r"Batch \d+/\d+"]
    shown = ""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            shown = screen()
            if all(re.search(p, shown) for p in wanted):
                break
            time.sleep(0.2)

        missing = [p for p in wanted if not re.search(p, shown)]
        assert not missing, f"not on screen: {missing}\n{shown}"
        subprocess.run([*tmux, "send-keys", "C-c"], check=True)
        deadline = time.monotonic() + 60
        while not rc_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shown = screen("-S", "-200")
        assert rc_file.read_text().strip() == "0", shown
        assert "the operation goes on" in shown
        assert cli_stack.stack.operation(op_id)["status"] == "running"
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
        _cancel(cli_stack, op_id)


def test_models_versions_promote_and_download(cli_stack: CliStack, tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = json.loads(
        cli_stack.run("models", "versions", STRATEGY, "--json").stdout
    )
    [mine] = [r for r in rows if r["operation_id"] == cli_stack.completed]
    promoted = cli_stack.run("models", "promote", STRATEGY, mine["version"])
    assert promoted.returncode == 0, promoted.stderr
    assert f"predict now serves {STRATEGY}/{mine['version']}" in promoted.stdout
    table = cli_stack.run("models", "versions", STRATEGY)
    [line] = [x for x in table.stdout.splitlines() if mine["version"] in x]
    assert "│ promoted │" in line  # the served column
    predicted = json.loads(
        cli_stack.run("models", "predict", STRATEGY, "-s", "EURUSD", "--json").stdout
    )
    assert predicted["model_id"] == f"{STRATEGY}/{mine['version']}"
    target = tmp_path / "model.tar.gz"
    got = cli_stack.run("models", "download", STRATEGY, mine["version"], "-o", str(target))
    assert got.returncode == 0, got.stderr
    with tarfile.open(target, "r:gz") as tar:
        assert "model.pt" in tar.getnames()
    for args in (("promote", STRATEGY, "v999"), ("download", STRATEGY, "v999"),
                 ("versions", "nope")):  # fmt: skip
        bad = cli_stack.run("models", *args)
        assert bad.returncode == 2, args
        assert "not found" in bad.stderr or "has no version" in bad.stderr
        assert "Traceback" not in bad.stderr
