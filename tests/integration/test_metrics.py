"""`GET /metrics`: Prometheus text from the projections, the streams and the runners'
heartbeats; scraped by a real Prometheus; the Grafana dashboard asks only for what it serves."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.stack import Stack, free_port
from trainjet.api.app import create_app

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "trainjet.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(stack: Stack) -> Samples:
    """sample name -> [(labels, value)]"""
    response = httpx.get(f"http://127.0.0.1:{stack.port}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        samples.setdefault(family.name, [])  # declared, even with no sample right now
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    found = [
        v for lab, v in samples.get(name, []) if all(lab.get(k) == w for k, w in labels.items())
    ]
    assert found, f"{name}{labels} not exported; have {sorted(samples)}"
    return sum(found)


def test_two_apps_in_one_process_have_their_own_registries() -> None:
    one, two = create_app(), create_app()
    assert one.state.metrics_registry is not two.state.metrics_registry


@pytest.fixture
def busy_stack(stack: Stack) -> Stack:
    stack.start_api()
    stack.start_runner("--concurrency", "2")
    stack.wait_runners(1)
    return stack


def test_metrics_follow_operations_runners_and_streams(busy_stack: Stack) -> None:
    stack = busy_stack
    done = stack.start_dummy(iterations=3, interval=0.01)
    stack.wait_status(done, {"completed"})
    cancelled = stack.start_dummy(iterations=10_000, interval=0.05)
    stack.wait_status(cancelled, {"running"})
    assert stack.http.post(f"/operations/{cancelled}/cancel").status_code == 200
    stack.wait_status(cancelled, {"cancelled"})
    running = stack.start_dummy(iterations=10_000, interval=0.02)
    stack.wait_status(running, {"running"})
    deadline = time.monotonic() + 30
    while stack.operation(running)["progress"]["items_processed"] < 5:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    samples = scrape(stack)
    assert value(samples, "trainjet_operations", operation_type="dummy", status="completed") == 1
    assert value(samples, "trainjet_operations", operation_type="dummy", status="cancelled") == 1
    assert value(samples, "trainjet_operations", operation_type="dummy", status="running") == 1
    assert value(samples, "trainjet_cancel_latency_seconds_count") == 1
    assert 0 < value(samples, "trainjet_cancel_latency_seconds_sum") < 30
    assert value(samples, "trainjet_operation_batches_per_second", operation_id=running) > 0
    # the runner reports what it runs with its next heartbeat
    samples = eventually(stack, "trainjet_runners", 1, pool="local", state="busy")
    assert value(samples, "trainjet_events_applied_total") > 10
    assert value(samples, "trainjet_projector_lag_events") >= 0
    assert value(samples, "trainjet_stream_consumers", stream="events") >= 1
    assert value(samples, "trainjet_outbox_depth") >= 0
    assert value(samples, "trainjet_outbox_dropped_total") == 0
    assert value(samples, "trainjet_dependency_up", dependency="nats") == 1

    # quiet again: everything appended has been folded
    stack.http.post(f"/operations/{running}/cancel")
    stack.wait_status(running, {"cancelled"})
    deadline = time.monotonic() + 30
    while True:
        samples = scrape(stack)
        appended = value(samples, "trainjet_events_appended_total")
        if appended == value(samples, "trainjet_projector_last_sequence"):
            break
        assert time.monotonic() < deadline, "the projector never caught up with the stream"
        time.sleep(0.2)
    assert value(samples, "trainjet_projector_lag_events") == 0
    assert value(samples, "trainjet_operations", operation_type="dummy", status="cancelled") == 2
    assert value(samples, "trainjet_cancel_latency_seconds_count") == 2
    eventually(stack, "trainjet_runners", 1, pool="local", state="idle")


def eventually(stack: Stack, name: str, want: float, **labels: str) -> Samples:
    deadline = time.monotonic() + 30
    while True:
        samples = scrape(stack)
        got = [
            v for lab, v in samples.get(name, []) if all(lab.get(k) == w for k, w in labels.items())
        ]
        if sum(got) == want:
            return samples
        assert time.monotonic() < deadline, f"{name}{labels} is {got}, not {want}"
        time.sleep(0.2)


def _metric_names(expr: str) -> set[str]:
    import re

    return set(re.findall(r"\btrainjet_[a-z_]+\b", expr))


def test_every_dashboard_query_names_an_exported_metric(busy_stack: Stack) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs and all(_metric_names(e) for e in exprs), "a panel queries no trainjet metric"
    op = busy_stack.start_dummy(iterations=2, interval=0.01)
    busy_stack.wait_status(op, {"completed"})
    exported = set(scrape(busy_stack))
    for expr in exprs:
        for name in _metric_names(expr):
            assert name in exported or any(name + s in exported for s in SUFFIXES), (
                f"dashboard query {expr!r} names {name}, which /metrics does not export"
            )


def test_a_real_prometheus_scrapes_the_api(busy_stack: Stack, tmp_path: Path) -> None:
    if not Path(PROMETHEUS).is_file():
        pytest.skip(f"no Prometheus binary at {PROMETHEUS} (Debian: apt-get install prometheus)")
    op = busy_stack.start_dummy(iterations=2, interval=0.01)
    busy_stack.wait_status(op, {"completed"})
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: trainjet\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{busy_stack.port}']}}]\n"
    )
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 90
        result: list[dict[str, object]] = []
        while not result:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.5)
            try:
                targets = httpx.get(f"{base}/targets", timeout=5).json()["data"]["activeTargets"]
                if not targets or targets[0]["health"] != "up":
                    continue
                query = 'trainjet_operations{operation_type="dummy",status="completed"}'
                result = httpx.get(f"{base}/query", params={"query": query}, timeout=5).json()[
                    "data"
                ]["result"]
            except httpx.HTTPError:
                continue
        assert float(result[0]["value"][1]) == 1  # type: ignore[index]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
