"""serve's runner supervisor: an exiting runner is logged with its status and restarted with
a doubling backoff; once serve is stopping, nothing is restarted."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

import pytest

from trainjet.cli.supervisor import RunnerSupervisor, describe_exit

pytestmark = pytest.mark.timeout(60)


def test_exit_statuses_read_as_an_operator_reads_them() -> None:
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"


def test_a_crashing_runner_is_restarted_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trainjet.serve")
    sup = RunnerSupervisor(
        env=dict(os.environ),
        count=1,
        min_backoff=0.1,
        max_backoff=0.4,
        poll_interval=0.02,
        argv=[sys.executable, "-c", "import sys; sys.exit(3)"],
    )
    sup.start()
    try:
        deadline = time.monotonic() + 30
        while sup._slots[0].restarts < 3:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
    finally:
        sup.stop()
    exits = [r.getMessage() for r in caplog.records if "exited after" in r.getMessage()]
    assert all("exit status 3" in line for line in exits)
    delays = [line.rsplit("restarting in ", 1)[1] for line in exits[:4]]
    assert delays == ["0.1s", "0.2s", "0.4s", "0.4s"][: len(delays)]  # doubling, capped
    assert len(delays) >= 3


def test_nothing_is_restarted_once_serve_is_stopping() -> None:
    sup = RunnerSupervisor(
        env=dict(os.environ),
        count=2,
        min_backoff=0.05,
        poll_interval=0.02,
        argv=[sys.executable, "-c", "import time; time.sleep(60)"],
    )
    pids = sup.start()
    try:
        assert len(pids) == 2
        sup.quiesce()
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        time.sleep(0.5)
        assert sup.pids == []  # both gone, neither restarted
        assert all(slot.restarts == 0 for slot in sup._slots)
    finally:
        sup.stop()


def test_stop_terminates_running_runners() -> None:
    sup = RunnerSupervisor(
        env=dict(os.environ),
        count=1,
        poll_interval=0.02,
        argv=[sys.executable, "-c", "import time; time.sleep(60)"],
    )
    (pid,) = sup.start()
    started = time.monotonic()
    sup.stop()
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
