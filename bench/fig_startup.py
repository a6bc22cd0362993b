"""8. Start-up: `trainjet serve` (embedded nats-server, API, one local runner) from spawn to
healthy with a runner registered, as `make demo` waits for it; then the demo's training (the
example strategy through the API, as `trainjet demo` starts it), timed by the client and by the
operation's own start/end; and, in full mode, the whole `trainjet demo` command. Baselines
from the same run: a bare nats-server's start, and the same pipeline in-process with a reporter
that does nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.common import PY, ROOT, Sizes, child_env, free_port, nats_server, row

NAME = "startup"
TITLE = "Start-up and demo"
STRATEGY = "eurusd_rsi_mlp"


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        return _run(sizes, Path(workdir or tmp))


def _serve_trial(workdir: Path, train: bool) -> dict[str, Any]:
    import httpx

    port = free_port()
    env = child_env(workdir)
    env.pop("TRAINJET_NATS_URL", None)
    base = f"http://127.0.0.1:{port}/api/v1"
    t0 = time.perf_counter()
    with open(workdir / "serve.log", "ab") as log:
        proc = subprocess.Popen(
            [PY, "-m", "trainjet", "serve", "--port", str(port), "--runners", "1"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    out: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"trainjet serve exited: {(workdir / 'serve.log').read_text()}")
            try:
                health = httpx.get(f"{base}/health", timeout=5)
                if "api_s" not in out:
                    out["api_s"] = time.perf_counter() - t0
                if health.json().get("runners", {}).get("count", 0) >= 1:
                    break
            except (httpx.TransportError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("trainjet serve not healthy after 120 s")
            time.sleep(0.02)
        out["healthy_s"] = time.perf_counter() - t0
        if train:
            t1 = time.perf_counter()
            started = httpx.post(
                f"{base}/trainings/start", json={"strategy_name": STRATEGY}, timeout=60
            )
            started.raise_for_status()
            op_id = started.json()["task_id"]
            while True:
                op = httpx.get(f"{base}/operations/{op_id}", timeout=30).json()["data"]
                if op["status"] in ("completed", "failed", "cancelled"):
                    break
                if time.perf_counter() - t1 > 300:
                    raise TimeoutError("the demo training did not finish in 300 s")
                time.sleep(0.05)
            if op["status"] != "completed":
                raise RuntimeError(f"the demo training ended {op['status']}: {op['error_message']}")
            out["training_client_s"] = time.perf_counter() - t1
            out["training_operation_s"] = op["duration_seconds"]
    finally:
        t2 = time.perf_counter()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out["stop_s"] = time.perf_counter() - t2
    return out


def _pipeline_in_process(workdir: Path) -> float:
    """The demo's training without trainjet around it: same pipeline, a silent reporter."""
    code = (
        "import time, torch; torch.set_num_threads(1)\n"
        "from bench.fig_overhead import NullReporter\n"
        "from trainjet.core.events import TrainingInputs\n"
        "from trainjet.training.pipeline import run_training\n"
        f"spec = TrainingInputs(strategy_name={STRATEGY!r})\n"
        "t = time.perf_counter()\n"
        f"run_training(spec, NullReporter(), models_dir={str(workdir / 'models-bare')!r}, "
        f"data_dir={str(ROOT / 'data')!r}, strategies_dir={str(ROOT / 'strategies')!r})\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [PY, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _nats_alone(workdir: Path) -> float:
    t0 = time.perf_counter()
    with nats_server(workdir / "nats-alone"):
        return time.perf_counter() - t0


def _demo_command(workdir: Path) -> dict[str, Any]:
    env = child_env(workdir / "demo")
    (workdir / "demo").mkdir(exist_ok=True)
    t0 = time.perf_counter()
    with open(workdir / "demo.log", "wb") as log:
        code = subprocess.run(
            [PY, "-m", "trainjet", "demo"],
            env=env,
            cwd=workdir / "demo",
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=600,
        ).returncode
    return {"exit_code": code, "wall_s": time.perf_counter() - t0}


def _run(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    trials = []
    for i in range(sizes.serve_trials):
        trial_dir = workdir / f"serve{i}"
        trial_dir.mkdir()
        trials.append(_serve_trial(trial_dir, train=i == sizes.serve_trials - 1))
    nats_s = _nats_alone(workdir)
    bare_training_s = _pipeline_in_process(workdir)
    demo = _demo_command(workdir) if sizes.demo_command else None
    if demo is not None and demo["exit_code"] != 0:
        raise RuntimeError(
            f"`trainjet demo` exited {demo['exit_code']}: "
            f"{(workdir / 'demo.log').read_text()[-2000:]}"
        )

    healthy = stats.median([t["healthy_s"] for t in trials])
    last = trials[-1]
    rows = [
        row(
            "startup_serve",
            "8a. `trainjet serve` to healthy (runner registered)",
            figure=f"{healthy:.2f} s (API answering after "
            f"{stats.median([t['api_s'] for t in trials]):.2f} s; "
            f"{len(trials)} start{'s' if len(trials) > 1 else ''})",
            baseline=f"bare nats-server ready in {nats_s:.2f} s",
            ratio=f"{healthy / nats_s:.1f}×",
            goal="(report)",
            met=None,
        ),
        row(
            "startup_demo",
            "8b. `make demo` training wall time",
            figure=f"{last['training_client_s']:.2f} s request to completed "
            f"(operation {last['training_operation_s']:.2f} s)"
            + (f"; whole `trainjet demo` {demo['wall_s']:.1f} s" if demo else ""),
            baseline=f"same pipeline in-process, silent reporter {bare_training_s:.2f} s",
            ratio=f"{last['training_client_s'] / bare_training_s:.2f}×",
            goal="(report)",
            met=None,
            note="the runner process imports torch on its first training: counted here",
        ),
    ]
    return {
        "rows": rows,
        "data": {
            "serve_trials": trials,
            "nats_alone_s": nats_s,
            "pipeline_in_process_s": bare_training_s,
            "demo_command": demo,
        },
    }
