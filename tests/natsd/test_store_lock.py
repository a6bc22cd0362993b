"""One nats-server per JetStream store: the lock refuses a second one and dies with the first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainjet.natsd import EmbeddedNats, StoreInUse

pytestmark = pytest.mark.timeout(60)


def test_a_second_server_on_a_store_in_use_is_refused(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path) as first:
        with pytest.raises(
            StoreInUse, match=f"in use by another nats-server \\(pid {os.getpid()}\\)"
        ):
            EmbeddedNats(tmp_path).start()
        assert first.running
    with EmbeddedNats(tmp_path) as again:  # released on stop
        assert again.running


def test_the_lock_is_held_by_the_server_and_dies_with_it(tmp_path: Path) -> None:
    # The owner is SIGKILLed; with die_with_parent the kernel ends its server, and with the
    # last holder gone the lock is free: nothing stale.
    script = (
        "import sys, time\n"
        "from trainjet.natsd import EmbeddedNats\n"
        f"s = EmbeddedNats({str(tmp_path)!r}, die_with_parent=True); s.start()\n"
        "print(s.pid, flush=True); time.sleep(120)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    server_pid = int(owner.stdout.readline())
    with pytest.raises(StoreInUse):
        EmbeddedNats(tmp_path).start()
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    owner.stdout.close()
    deadline = time.monotonic() + 20
    while Path(f"/proc/{server_pid}").exists():
        stat = Path(f"/proc/{server_pid}/stat").read_text(errors="replace")
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            break
        assert time.monotonic() < deadline, "nats-server outlived its owner"
        time.sleep(0.05)
    # A multi-threaded server's main thread can show as a zombie while its other threads
    # still hold the descriptor for a moment (longer on a loaded machine): retry, bounded.
    while True:
        try:
            after = EmbeddedNats(tmp_path)
            after.start()
            break
        except StoreInUse:
            assert time.monotonic() < deadline, "the lock outlived every holder"
            time.sleep(0.05)
    try:
        assert after.running
    finally:
        after.stop()
