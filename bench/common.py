"""What every benchmark shares: run sizes, the machine's description, result rows, a private
nats-server, and the child processes of a real deployment (API, runners, serve)."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does. `full` is the published run; `quick` a check under two
    minutes; `tiny` only proves the code path works (the bench's own tests)."""

    mode: str
    # 1 overhead
    pairs: int = 30
    epochs: int = 24
    profiled_runs: int = 4
    mlflow_rounds: int = 5
    # 2 cancel latency, 3 freshness
    cancel_trials: int = 50
    freshness_seconds: float = 20.0
    # 4 append, 5 rebuild
    append_events: int = 100_000
    append_rounds: int = 3
    rebuild_events: int = 1_000_000
    rebuild_rounds: int = 2
    # 6 API
    api_operations: int = 10_000
    api_seconds: float = 8.0
    api_rounds: int = 2
    # 7 scale
    scale_operations: int = 10_000
    scale_runners: int = 4
    scale_iterations: int = 10
    scale_interval: float = 2.0  # long enough that all operations overlap
    # 8 start-up
    serve_trials: int = 3
    demo_command: bool = True
    # 9 restart with a long log
    restart_events: int = 1_000_000
    restart_rounds: int = 2
    extra: dict[str, Any] = field(default_factory=dict)


FULL = Sizes("full")
QUICK = Sizes(
    "quick",
    pairs=5,
    epochs=8,
    profiled_runs=2,
    mlflow_rounds=1,
    cancel_trials=6,
    freshness_seconds=3.5,
    append_events=20_000,
    append_rounds=2,
    rebuild_events=100_000,
    rebuild_rounds=1,
    api_operations=1_000,
    api_seconds=1.5,
    api_rounds=1,
    scale_operations=200,
    scale_interval=0.5,
    serve_trials=1,
    demo_command=False,
    restart_events=40_000,
    restart_rounds=1,
)
TINY = Sizes(
    "tiny",
    pairs=1,
    epochs=1,
    profiled_runs=1,
    mlflow_rounds=0,
    cancel_trials=1,
    freshness_seconds=2.0,
    append_events=500,
    append_rounds=1,
    rebuild_events=3_000,
    rebuild_rounds=1,
    api_operations=50,
    api_seconds=0.5,
    api_rounds=1,
    scale_operations=8,
    scale_runners=2,
    scale_iterations=2,
    scale_interval=0.05,
    serve_trials=1,
    demo_command=False,
    restart_events=2_000,
    restart_rounds=1,
)
MODES = {"full": FULL, "quick": QUICK, "tiny": TINY}


def row(
    key: str,
    title: str,
    *,
    figure: str,
    baseline: str,
    ratio: str,
    goal: str,
    met: bool | None,
    note: str = "",
) -> dict[str, Any]:
    """One line of the results table. `met` is None when the run cannot decide the goal."""
    return {
        "key": key,
        "title": title,
        "figure": figure,
        "baseline": baseline,
        "ratio": ratio,
        "goal": goal,
        "met": met,
        "note": note,
    }


# -- the machine --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean nothing without it."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = match.group(1).strip() if match else cpu
    mem_gib = None
    with contextlib.suppress(OSError, AttributeError, ValueError):
        kb = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        mem_gib = round(int(kb.group(1)) / 1024**2, 1)  # type: ignore[union-attr]
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("torch", "nats", "msgspec", "fastapi", "uvicorn", "httpx", "mlflow"):
        versions[name] = _version(name)
    versions["nats-server"] = _nats_server_version()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": mem_gib,
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
    }


def machine_line(m: dict[str, Any]) -> str:
    v = m["versions"]
    return (
        f"{m['nproc']} × {m['cpu_model']}, {m['memory_gib']} GiB, Python {v['python']}, "
        f"torch {v['torch']}, nats-server {v['nats-server']}, nats-py {v['nats']}"
    )


def _version(dist: str) -> str | None:
    from importlib import metadata

    names = {"nats": "nats-py", "mlflow": "mlflow-skinny"}
    for candidate in (names.get(dist, dist), dist):
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(candidate)
    return None


def _nats_server_version() -> str | None:
    from trainjet.natsd import find_nats_server

    try:
        out = subprocess.run(
            [str(find_nats_server()), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v(\d+\.\d+\.\d+)", out)
    return match.group(1) if match else out.strip() or None


# -- a private server and real processes -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def nats_server(workdir: Path) -> Iterator[Any]:
    """A fresh nats-server (JetStream, file store) on a free port, only for this benchmark."""
    from trainjet.natsd import EmbeddedNats

    with EmbeddedNats(workdir / "nats-data") as server:
        yield server


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), 0.0 where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Deployment:
    """`trainjet api` and `trainjet runner` child processes on one nats-server, like a real
    installation (each its own interpreter), with logs in the work directory."""

    def __init__(self, nats_url: str, workdir: Path, **env: str) -> None:
        self.nats_url = nats_url
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.env = child_env(workdir, TRAINJET_NATS_URL=nats_url, **env)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.api_proc: subprocess.Popen[bytes] | None = None
        self.provisioned = False

    def spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        if not self.provisioned:  # as deployed: `trainjet setup` lays out the streams first
            subprocess.run(
                [PY, "-m", "trainjet", "setup"], env=self.env, cwd=self.workdir,
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            self.provisioned = True
        with open(self.workdir / log, "ab") as out:
            proc = subprocess.Popen(
                [PY, "-m", "trainjet", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        self.procs.append(proc)
        return proc

    def start_api(self, timeout: float = 60.0) -> float:
        """Start the API; returns seconds until /health answered."""
        t0 = time.perf_counter()
        self.api_proc = self.spawn("api", "--port", str(self.port), log="api.log")
        wait_http(f"{self.base}/health", self.api_proc, timeout, self.log("api.log"))
        return time.perf_counter() - t0

    def start_runner(self, *args: str) -> subprocess.Popen[bytes]:
        return self.spawn("runner", *args, log=f"runner{len(self.procs)}.log")

    def wait_runners(self, count: int, timeout: float = 60.0, pool: str | None = None) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = httpx.get(f"{self.base}/runners", timeout=10).json()["data"]
            if len([r for r in data if pool is None or r["pool"] == pool]) >= count:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{count} runner(s) not registered in {timeout}s")

    def log(self, name: str) -> str:
        try:
            return (self.workdir / name).read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def close(self) -> None:
        stop_all(self.procs)


def child_env(workdir: Path, **env: str) -> dict[str, str]:
    return {
        **os.environ,
        "TRAINJET_DATA_DIR": str(workdir / ".trainjet"),
        "TRAINJET_MODELS_DIR": str(workdir / "models"),
        "TRAINJET_STRATEGIES_DIR": str(ROOT / "strategies"),
        "TRAINJET_MARKET_DATA_DIR": str(ROOT / "data"),
        "PYTHONUNBUFFERED": "1",
        **env,
    }


def wait_http(
    url: str, proc: subprocess.Popen[bytes] | None, timeout: float, log: str = ""
) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({proc.returncode}). {log}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=5).status_code < 500:
                return
        time.sleep(0.02)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s. {log}")


def stop_all(procs: list[subprocess.Popen[bytes]], grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `grace`: the same stop `trainjet serve` gives its runners."""
    from trainjet.cli.serve import stop_processes

    stop_processes(procs, grace)


def fmt_pct(value: float) -> str:
    return f"{value:+.2f} %"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"
