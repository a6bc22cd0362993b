"""The CLI given bad arguments or a bad environment: exit code 2 and a clear message, never
a traceback. Real subprocesses (`python -m trainjet`), as a user's shell runs them; no API is
needed: every case must be refused before anything is contacted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

UNREACHABLE = "http://127.0.0.1:9"  # if a case got as far as calling the API, it would say so


def trainjet(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TRAINJET_API_URL": UNREACHABLE, "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "trainjet", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("TRAINJET_STREAM_REPLICAS", "abc", "an integer from 1 to 5"),
        ("TRAINJET_STREAM_REPLICAS", "0", "an integer from 1 to 5"),
        ("TRAINJET_LEASE_SECONDS", "-5", "above 0"),
        ("TRAINJET_RUNNER_TTL_SECONDS", "nan", "above 0"),
        ("TRAINJET_CANCEL_WAIT_SECONDS", "1e999", "from 0 to 3600"),
        ("TRAINJET_API_MAX_BODY_BYTES", "lots", "number of bytes"),
        ("TRAINJET_API_CORS_ORIGINS", "*", "origins like"),
        ("TRAINJET_API_PROTECT_READS", "perhaps", "true/1/yes/on"),
        ("USE_TRAINING_HOST_SERVICE", "maybe", "false/0/no/off"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_exit_2(
    variable: str, value: str, allowed: str
) -> None:
    result = trainjet("ops", "list", **{variable: value})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and repr(value) in lines[0] and allowed in lines[0]


def test_the_api_and_runner_commands_refuse_a_bad_setting_the_same_way() -> None:
    for command in (("api",), ("runner",)):
        result = trainjet(*command, TRAINJET_LEASE_SECONDS="-5", TRAINJET_NATS_URL="nats://x:1")
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.strip().splitlines() == [
            "error: TRAINJET_LEASE_SECONDS='-5' is not valid: expected a number of seconds "
            "above 0, at most 86400"
        ]


@pytest.mark.parametrize(
    "args",
    [
        ("no-such-command",),
        ("train",),  # the strategy is missing
        ("train", "example", "--epochs", "abc"),
        ("train", "example", "--epochs", "0"),
        ("train", "example", "--mode", "sideways"),
        ("runner", "--pool", "gpu-farm"),
        ("runner", "--concurrency", "-1"),
        ("serve", "--port", "70000"),
        ("ops", "show"),  # the id is missing
        ("ops", "list", "--limit", "many"),
        ("replay",),
    ],
)
def test_bad_arguments_exit_2_without_a_traceback(args: tuple[str, ...]) -> None:
    result = trainjet(*args)
    assert result.returncode == 2, (args, result.returncode, result.stderr[-500:])
    output = result.stderr + result.stdout
    assert "Traceback" not in output
    assert result.stderr.strip(), "a refusal must say why"
