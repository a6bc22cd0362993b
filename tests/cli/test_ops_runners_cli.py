"""`trainjet ops ...`, `trainjet runners`, shell completion and the fast `--help`: tables by
default, `--json` for scripts, and errors that say what was tried and how to fix it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import CliStack
from tests.stack import free_port


def test_ops_list_show_events_tables_and_json(cli_stack: CliStack) -> None:
    table = cli_stack.run("ops", "list")
    assert table.returncode == 0, table.stderr
    for op_id in (cli_stack.completed, cli_stack.cancelled, cli_stack.failed):
        assert op_id in table.stdout
    listed = json.loads(cli_stack.run("ops", "list", "--status", "failed", "--json").stdout)
    assert cli_stack.failed in [row["operation_id"] for row in listed["data"]]
    shown = cli_stack.run("ops", "show", cli_stack.cancelled)
    assert "cancelled" in shown.stdout
    assert (
        json.loads(cli_stack.run("ops", "show", cli_stack.cancelled, "--json").stdout)["status"]
        == "cancelled"
    )
    events = cli_stack.run("ops", "events", cli_stack.completed, "--json")
    assert len(events.stdout.splitlines()) == len(cli_stack.events(cli_stack.completed))


def test_runners_table_and_json(cli_stack: CliStack) -> None:
    table = cli_stack.run("runners")
    assert table.returncode == 0, table.stderr
    assert "Runners (1 live)" in table.stdout
    assert "local" in table.stdout
    [runner] = json.loads(cli_stack.run("runners", "--json").stdout)
    assert runner["pool"] == "local"
    assert runner["runner_id"] in table.stdout


def test_unknown_ids_say_how_to_find_the_right_one(cli_stack: CliStack) -> None:
    for args in (("ops", "show", "nope"), ("ops", "tail", "nope"), ("ops", "cancel", "nope")):
        result = cli_stack.run(*args)
        assert result.returncode == 2, args
        assert "Operation not found: nope" in result.stderr
        assert "`trainjet ops list`" in result.stderr
        assert "Traceback" not in result.stderr
    replay = cli_stack.run("replay", "nope")
    assert replay.returncode == 2
    assert "no events for operation nope" in replay.stderr
    bad = cli_stack.run("replay", "not.an.id")
    assert bad.returncode == 2
    assert "not a valid operation id" in bad.stderr


def test_unreachable_api_and_nats_say_what_was_tried(cli_stack: CliStack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    api = cli_stack.run("runners", TRAINJET_API_URL=dead)
    assert api.returncode == 1
    assert f"cannot reach the trainjet API at {dead}" in api.stderr
    # No NATS URL anywhere: the CLI says where it looked.
    lost = cli_stack.run("replay", cli_stack.completed, TRAINJET_API_URL=dead, TRAINJET_NATS_URL="")
    assert lost.returncode == 1
    for place in ("TRAINJET_NATS_URL (unset)", "runtime.json", f"{dead}/api/v1/health"):
        assert place in lost.stderr.replace("\n", " "), place
    wrong = cli_stack.run(
        "replay", cli_stack.completed, TRAINJET_NATS_URL=f"nats://127.0.0.1:{free_port()}"
    )
    assert wrong.returncode == 1
    assert "cannot connect to NATS" in wrong.stderr
    assert "Traceback" not in wrong.stderr + lost.stderr + api.stderr


def test_shell_completion_offers_operation_ids(cli_stack: CliStack) -> None:
    # Completion is keyed on the program name, so this runs the installed `trainjet` script.
    script = Path(sys.executable).with_name("trainjet")
    env = cli_stack.env(_TRAINJET_COMPLETE="complete_bash", COMP_WORDS="trainjet replay op_",
                        COMP_CWORD="2")  # fmt: skip
    result = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=False)
    assert cli_stack.completed in result.stdout.split(), result.stdout + result.stderr
    shown = subprocess.run([str(script), "--show-completion", "bash"], env=cli_stack.env(),
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert "_TRAINJET_COMPLETE" in shown.stdout, shown.stdout + shown.stderr


def test_help_stays_fast_without_heavy_imports() -> None:
    probe = (
        "import sys; from typer.testing import CliRunner; from trainjet.cli.app import app; "
        "CliRunner().invoke(app, ['--help']); CliRunner().invoke(app, ['replay', '--help']); "
        "print([m for m in ('torch', 'matplotlib', 'nats', 'pyarrow', 'uvicorn') "
        "if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.strip() == "[]"


def test_tail_falls_back_to_the_api_stream_when_nats_is_unreachable(cli_stack: CliStack) -> None:
    dead_nats = f"nats://127.0.0.1:{free_port()}"
    tail = cli_stack.run("ops", "tail", cli_stack.cancelled, "--json", TRAINJET_NATS_URL=dead_nats)
    assert tail.returncode == 130, tail.stderr  # the operation was cancelled
    seqs = [json.loads(line)["seq"] for line in tail.stdout.splitlines()]
    assert seqs == [e["seq"] for e in cli_stack.events(cli_stack.cancelled)]
