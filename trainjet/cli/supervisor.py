"""What keeps `trainjet serve`'s children alive, and dead when serve is.

Two small watchers, each a thread that polls its processes:

- `RunnerSupervisor` restarts a runner that exits (logging its exit status) with a backoff that
  doubles up to `max_backoff`, and resets once a runner has stayed up a while, so a runner that
  crashes at start does not spin and one that crashes once a day restarts at once.
- `NatsWatch` notices when the embedded nats-server dies. It restarts it on the same port and
  store: every client (API, runners, CLI tails) reconnects to that URL for ever, so a restart
  heals everything without touching them. Only when the restart itself fails does it stop
  serve, because an API and runners with no server behind them would only pretend to work.

Children are started with a parent-death signal, and Linux ties that signal to the *thread*
that forked the child. So each watcher both (re)starts and stops its children from its own
thread, and stops them before the thread ends.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from trainjet.natsd.embedded import EmbeddedNats, NatsServerError

log = logging.getLogger("trainjet.serve")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """SIGKILL this child when its parent thread dies (serve SIGKILLed). Not SIGTERM: the
    embedded nats-server dies in the same instant, so a graceful stop would wait for ever to
    flush events to a server that is gone. The lease monitor settles its operations later."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


def describe_exit(code: int) -> str:
    """`exit status 3` or `killed by SIGKILL`, as an operator reads it."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


@dataclass
class _Slot:
    """One runner position: its current process and its restart schedule."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class RunnerSupervisor:
    """`count` runner processes of `pool`, kept running until `stop()`."""

    env: dict[str, str]
    count: int
    pool: str = "local"
    min_backoff: float = 1.0
    max_backoff: float = 30.0
    stable_after: float = 30.0  # a runner up this long has its backoff reset
    stop_grace: float = 10.0
    poll_interval: float = 0.2
    argv: list[str] | None = None  # default: `python -m trainjet runner --pool <pool>`
    _slots: list[_Slot] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: threading.Event = field(default_factory=threading.Event)
    _quiet: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def pids(self) -> list[int]:
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.poll() is None]

    def start(self) -> list[int]:
        """Spawn the runners (from the supervising thread) and return their pids."""
        self._thread = threading.Thread(target=self._run, name="runner-supervisor", daemon=True)
        self._thread.start()
        self._started.wait()
        return self.pids

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def quiesce(self) -> None:
        """serve is stopping: runners that exit now (Ctrl-C reaches them too) stay down."""
        self._quiet.set()

    def _spawn(self, slot: _Slot) -> None:
        slot.proc = subprocess.Popen(
            self.argv or [sys.executable, "-m", "trainjet", "runner", "--pool", self.pool],
            env=self.env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        slot.started_at = time.monotonic()
        slot.restart_at = None

    def _run(self) -> None:
        try:
            self._slots = [_Slot(i) for i in range(self.count)]
            for slot in self._slots:
                self._spawn(slot)
        finally:
            self._started.set()
        try:
            while not self._stop.wait(self.poll_interval):
                for slot in self._slots:
                    self._check(slot)
        finally:
            self._terminate()

    def _check(self, slot: _Slot) -> None:
        now = time.monotonic()
        if slot.proc is not None:
            code = slot.proc.poll()
            if code is None:
                return
            up = now - slot.started_at
            if self._quiet.is_set():
                log.info(
                    "runner %d (pid %d) stopped: %s", slot.index, slot.proc.pid, describe_exit(code)
                )
                slot.proc = None
                return
            if up >= self.stable_after:
                slot.backoff = 0.0
            slot.backoff = min(self.max_backoff, max(self.min_backoff, slot.backoff * 2))
            log.warning(
                "runner %d (pid %d) exited after %.1fs: %s; restarting in %.1fs",
                slot.index,
                slot.proc.pid,
                up,
                describe_exit(code),
                slot.backoff,
            )
            slot.proc = None
            slot.restart_at = now + slot.backoff
        if slot.restart_at is not None and now >= slot.restart_at:
            self._spawn(slot)
            slot.restarts += 1
            assert slot.proc is not None
            log.info("runner %d restarted (pid %d)", slot.index, slot.proc.pid)

    def _terminate(self) -> None:
        procs = [s.proc for s in self._slots if s.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "runner pid %d did not stop in %.0fs; killing it", proc.pid, self.stop_grace
                )
                proc.kill()
                proc.wait()


@dataclass
class NatsWatch:
    """Restart the embedded server on the same port when it dies; `on_fatal` when it can't."""

    nats: EmbeddedNats
    on_fatal: Callable[[str], None]
    poll_interval: float = 0.2
    restarts: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        # Pin the port the clients know, so a restart is invisible to them.
        self.nats.port = int(self.nats.url.rsplit(":", 1)[1])
        self._thread = threading.Thread(target=self._run, name="nats-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.poll_interval):
                code = self.nats.exit_code
                if code is not None:
                    self._restart(describe_exit(code))
        finally:
            # A server this thread started dies with the thread (parent-death signal): stop
            # it gracefully first. One started by the main thread is stopped by serve.
            if self.restarts:
                self.nats.stop()

    def _restart(self, how: str) -> None:
        log.error(
            "nats-server (pid %s) died: %s; restarting it on %s with the same store, so the "
            "API and runners reconnect",
            self.nats.pid,
            how,
            self.nats.url if self.nats.running else f"port {self.nats.port}",
        )
        last = ""
        for _attempt in range(3):
            if self._stop.is_set():
                return
            try:
                self.nats.start()
                self.restarts += 1
                log.warning("nats-server restarted (pid %s) at %s", self.nats.pid, self.nats.url)
                return
            except NatsServerError as exc:
                last = str(exc).splitlines()[0]
                time.sleep(1.0)
        self.on_fatal(f"nats-server could not be restarted ({last}); stopping serve")
