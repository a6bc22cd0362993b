"""Restart in O(tail) on a real nats-server: `trainjet api` saves its projection snapshot at a
clean stop, the next start loads it and folds only the events after it, and
`trainjet replay --verify-snapshot` finds 0 differences against the full fold."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.stack import TERMINAL, Stack


def verify(stack: Stack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainjet", "replay", "--verify-snapshot", "--json"],
        env=stack.env,
        cwd=stack.workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_api_restarts_from_its_snapshot_and_the_snapshot_verifies(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()
    ops = [stack.start_dummy(iterations=3, interval=0.01) for _ in range(4)]
    for op in ops:
        stack.wait_status(op, TERMINAL)
    assert verify(stack).returncode == 2  # no snapshot yet: the API writes one at stop
    before = stack.http.get("/health").json()["projector"]
    assert before["snapshot"]["loaded_at_start"] == 0  # the first start folded everything
    stack.stop_api()  # clean stop: snapshot saved

    check = verify(stack)
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert report["differences"] == [] and report["operations"] == len(ops)
    covered = report["covered_seq"]

    stack.start_api()
    projector = stack.http.get("/health").json()["projector"]
    assert projector["snapshot"]["loaded_at_start"] == covered == before["last_sequence"]
    # only what was appended after the snapshot is folded: nothing was, while the API was down
    assert projector["snapshot"]["records_folded_at_start"] == 0
    # what the restarted API serves is the same fold: every operation, terminal
    listed = stack.http.get("/operations", params={"limit": 100}).json()["data"]
    assert {row["operation_id"] for row in listed} == set(ops)
    assert all(row["status"] in TERMINAL for row in listed)
    # new work after the restart is folded on top of the snapshot
    new = stack.start_dummy(iterations=2, interval=0.01)
    assert stack.wait_status(new, TERMINAL)["status"] == "completed"
    with httpx.Client() as client:
        assert client.get(f"{stack.base}/operations/{new}").status_code == 200
