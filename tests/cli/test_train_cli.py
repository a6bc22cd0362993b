"""`trainjet train` as a user runs it: real processes against a real API, runner and NATS.

Followed live (plain lines without a terminal), as JSON, quiet, detached, interrupted with
SIGINT, and in a real terminal (tmux) where the rich display must show percentage, ETA, epoch
and batch while the run is going.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import CliStack, Lines

EPOCH_LINE = re.compile(
    r"^\[\s*\d+\.\d%\] Epoch (\d+)/2 loss=\S+ acc=\S+ val_loss=\S+ val_acc=\S+ ETA"
)


def task_id(name: str) -> str:
    return f"cli-{name}-{uuid.uuid4().hex[:8]}"


def test_train_follows_live_and_prints_the_result_table(cli_stack: CliStack) -> None:
    op_id = task_id("live")
    result = cli_stack.run("train", "eurusd_rsi_mlp", "--epochs", "2", "--task-id", op_id)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    # Without a terminal: plain lines, one per epoch (and per phase), none per batch.
    assert [int(m[1]) for m in map(EPOCH_LINE.match, lines) if m] == [1, 2]
    assert not any("Batch" in line for line in lines)
    assert "completed" in result.stdout
    for row in ("Training Results", "Final Training Accuracy", "Final Validation Loss",
                "Test Accuracy", "Epochs Completed", "2/2", "Training Time (min)",
                "Model Size (MB)", "models/eurusd_rsi_mlp/EURUSD_1h_v"):  # fmt: skip
        assert row in result.stdout, row
    assert op_id in result.stderr  # the start notice goes to stderr, not into the output
    assert cli_stack.stack.operation(op_id)["status"] == "completed"


def test_train_json_is_one_object_per_event_then_a_summary(cli_stack: CliStack) -> None:
    op_id = task_id("json")
    result = cli_stack.run("train", "eurusd_rsi_mlp", "--epochs", "2", "--json", "--task-id", op_id)
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    *events, summary = objects
    stream = cli_stack.events(op_id)
    assert len(events) == len(stream)
    assert [e["seq"] for e in events] == [e["seq"] for e in stream]
    assert events[0]["type"] == "operation_created"
    assert events[-1]["type"] == "operation_completed"
    assert summary["type"] == "summary"
    assert summary["status"] == "completed"
    assert summary["events"] == len(stream)
    assert summary["result"]["training_metrics"]["epochs_completed"] == 2


def test_train_quiet_prints_only_the_summary_and_detach_only_the_id(cli_stack: CliStack) -> None:
    quiet = cli_stack.run("train", "eurusd_rsi_mlp", "--epochs", "2", "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert "Epoch 1/2" not in quiet.stdout
    assert "Training Results" in quiet.stdout
    assert quiet.stderr == ""

    detached = cli_stack.run("train", "eurusd_rsi_mlp", "--epochs", "2", "--detach")
    assert detached.returncode == 0, detached.stderr
    op_id = detached.stdout.strip()
    assert re.fullmatch(r"op_training_\w+", op_id)
    tail = cli_stack.run("ops", "tail", op_id, "--json")
    assert tail.returncode == 0, tail.stderr
    assert json.loads(tail.stdout.splitlines()[-1])["type"] == "operation_completed"


def test_ctrl_c_cancels_waits_for_the_confirmation_and_exits_130(cli_stack: CliStack) -> None:
    op_id = task_id("sigint")
    with cli_stack.popen("train", "eurusd_rsi_mlp", "--epochs", "500", "--task-id", op_id) as proc:
        lines = Lines(proc)
        try:
            lines.wait_for("Epoch 1/500")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
        out = "".join(lines.seen) + lines.rest()
    assert "cancelling…" in out
    assert "Training cancelled" in out
    # The exit came after the runner's confirmation: the operation is already cancelled.
    op = cli_stack.stack.operation(op_id)
    assert op["status"] == "cancelled"
    assert op["cancellation_reason"] == "Cancelled from the CLI (Ctrl-C)"


def test_a_failed_training_exits_1(cli_stack: CliStack) -> None:
    tail = cli_stack.run("ops", "tail", cli_stack.failed, "--raw")
    assert tail.returncode == 1
    assert "operation_failed" in tail.stdout


TMUX = shutil.which("tmux")


@pytest.mark.skipif(
    TMUX is None,
    reason="tmux is not installed, so there is no real terminal to check the live display in "
    "(.ci/run installs it from Debian's packages)",
)
def test_live_display_in_a_real_terminal(cli_stack: CliStack, tmp_path: Path) -> None:
    assert TMUX is not None
    op_id = task_id("tmux")
    server = f"trainjet-test-{uuid.uuid4().hex[:8]}"  # a private tmux server, not the user's
    rc_file = tmp_path / "rc"
    env = " ".join(
        shlex.quote(f"{k}={v}") for k, v in cli_stack.env().items() if k.startswith("TRAINJET_")
    )
    command = (
        f"env -u NO_COLOR -u COLUMNS {env} {sys.executable} -m trainjet train eurusd_rsi_mlp "
        f"--epochs 500 --task-id {op_id}; echo $? > {rc_file}; sleep 60"
    )
    tmux = [TMUX, "-L", server]
    subprocess.run([*tmux, "new-session", "-d", "-x", "160", "-y", "40", "-c",
                    str(cli_stack.root), command], check=True)  # fmt: skip
    wanted = {
        "percentage": re.compile(r"\b\d{1,3}\.\d%"),
        "ETA": re.compile(r"ETA \d\d:\d\d"),
        "epoch": re.compile(r"Epoch \d+/500"),
        "batch": re.compile(r"Batch \d+/\d+"),
    }
    screen = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            screen = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True,
                                    text=True, check=True).stdout  # fmt: skip
            if all(p.search(screen) for p in wanted.values()):
                break
            time.sleep(0.2)
        missing = [name for name, p in wanted.items() if not p.search(screen)]
        assert not missing, f"not on screen: {missing}\n{screen}"
        subprocess.run([*tmux, "send-keys", "C-c"], check=True)
        deadline = time.monotonic() + 60
        while not rc_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-S", "-200"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert rc_file.read_text().strip() == "130", screen
        assert "cancelling…" in screen
        assert cli_stack.stack.operation(op_id)["status"] == "cancelled"
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
