"""`GET /metrics`: Prometheus text, read from what the API already knows.

Nothing is counted twice: every figure is read at scrape time from the projections (which
fold the whole log, so they survive an API restart), from the stream's own state, and from
the runners' heartbeats in the registry (runners are other processes; their outbox figures
arrive with each heartbeat). The async reads happen first, in parallel and bounded, like
`/health`; then a plain `Collector` turns that snapshot into metric families.

Each app has its own `CollectorRegistry` (no module-level registry), so several apps can live
in one process, as they do in the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from trainjet.core.events import OperationStatus
from trainjet.core.projections.models import OperationInfo
from trainjet.core.store.port import RunnerInfo
from trainjet.system import ApiSystem

T = TypeVar("T")
READ_SECONDS = 0.8  # each async read's budget: a scrape must not hang on a NATS outage
# Cancel latency (request to confirmation): sub-second when a runner is healthy, up to the
# cancel wait when it is not.
CANCEL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
router = APIRouter(tags=["Metrics"])


@dataclass
class Snapshot:
    """What one scrape read, before it becomes metric families."""

    backend: ApiSystem | None = None
    runners: list[RunnerInfo] = field(default_factory=list)
    streams: dict[str, Any] = field(default_factory=dict)
    lag: int | None = None
    up: dict[str, bool] = field(default_factory=dict)


class TrainjetCollector(Collector):
    """The trainjet_* families of the latest snapshot."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()
        # operation id -> (monotonic time, batches done) at the previous scrape, for rates
        self._last: dict[str, tuple[float, int]] = {}

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        for name, ok in sorted(snap.up.items()):
            up = GaugeMetricFamily(
                "trainjet_dependency_up", "1 when the dependency answered", labels=["dependency"]
            )
            up.add_metric([name], 1.0 if ok else 0.0)
            yield up
        backend = snap.backend
        if backend is None:
            return
        query = backend.projector.query
        stats = query.stats(rejected_latest=0)
        yield from self._operations(query.operations(), backend)
        yield CounterMetricFamily(
            "trainjet_events_applied",
            "Events folded into the projections",
            value=stats.events_applied,
        )
        yield CounterMetricFamily(
            "trainjet_events_rejected",
            "Messages on the events stream that could not be folded (recorded, skipped)",
            value=stats.rejected_messages,
        )
        yield GaugeMetricFamily(
            "trainjet_projector_last_sequence",
            "Stream sequence the projections reflect",
            value=stats.last_sequence,
        )
        if snap.lag is not None:
            yield GaugeMetricFamily(
                "trainjet_projector_lag_events",
                "Events stored but not yet folded by this API",
                value=snap.lag,
            )
        yield CounterMetricFamily(
            "trainjet_runners_lost",
            "Operations the lease monitor found without a live runner",
            value=backend.leases.failed_total,
        )
        yield from self._streams(snap.streams)
        yield from self._runners(snap.runners)

    def _operations(self, ops: list[OperationInfo], backend: ApiSystem) -> Iterator[Metric]:
        counts = GaugeMetricFamily(
            "trainjet_operations",
            "Operations by type and status",
            labels=["operation_type", "status"],
        )
        for (status, op_type), n in sorted(backend.projector.query.counts().items()):
            counts.add_metric([op_type.value, status.value], n)
        yield counts
        latency: list[float] = []
        for op in ops:
            if (
                op.status is OperationStatus.CANCELLED
                and op.cancel_requested_at
                and op.completed_at
            ):
                with contextlib.suppress(TypeError):  # one bad timestamp must not fail a scrape
                    latency.append((op.completed_at - op.cancel_requested_at).total_seconds())
        yield _histogram(
            "trainjet_cancel_latency_seconds",
            "Seconds from a cancel request to the operation's cancelled event",
            latency,
            CANCEL_BUCKETS,
        )
        rates = GaugeMetricFamily(
            "trainjet_operation_batches_per_second",
            "Batches per second of each running operation (iterations for dummy operations)",
            labels=["operation_id", "operation_type"],
        )
        now, wall = time.monotonic(), datetime.now(UTC)
        seen: dict[str, tuple[float, int]] = {}
        for op in ops:
            if op.status is not OperationStatus.RUNNING:
                continue
            metrics = backend.projector.query.metrics(op.operation_id)
            done = metrics.batches_recorded if metrics and metrics.batches_recorded else 0
            done = done or op.progress.items_processed
            seen[op.operation_id] = (now, done)
            previous = self._last.get(op.operation_id)
            if previous is not None and now > previous[0]:
                rate = (done - previous[1]) / (now - previous[0])
            else:  # first sight: the average since the start
                try:
                    elapsed = op.duration_seconds(wall) or 0.0
                except TypeError:  # a start time without a zone (a foreign writer's event)
                    elapsed = 0.0
                rate = done / elapsed if elapsed > 0 else 0.0
            rates.add_metric([op.operation_id, op.operation_type.value], max(0.0, rate))
        self._last = seen
        yield rates

    def _streams(self, streams: dict[str, Any]) -> Iterator[Metric]:
        consumers = GaugeMetricFamily(
            "trainjet_stream_consumers", "Consumers on each stream", labels=["stream"]
        )
        messages = GaugeMetricFamily(
            "trainjet_stream_messages", "Messages stored in each stream", labels=["stream"]
        )
        for role, info in sorted(streams.items()):
            if info.get("consumers") is not None:
                consumers.add_metric([role], info["consumers"])
            messages.add_metric([role], info.get("messages", 0))
        yield consumers
        yield messages
        events = streams.get("events", {})
        if events.get("last_seq") is not None:
            yield CounterMetricFamily(
                "trainjet_events_appended",
                "Events stored in the events stream (its last sequence)",
                value=events["last_seq"],
            )

    def _runners(self, runners: list[RunnerInfo]) -> Iterator[Metric]:
        by_state = GaugeMetricFamily(
            "trainjet_runners", "Live runners by pool and state", labels=["pool", "state"]
        )
        counted: dict[tuple[str, str], int] = {}
        for runner in runners:
            key = (runner.pool, "busy" if runner.current_operations else "idle")
            counted[key] = counted.get(key, 0) + 1
        for (pool, state), n in sorted(counted.items()):
            by_state.add_metric([pool, state], n)
        yield by_state
        depth = GaugeMetricFamily(
            "trainjet_outbox_depth",
            "Events waiting in a runner's outbox (from its last heartbeat)",
            labels=["runner_id", "pool"],
        )
        dropped = CounterMetricFamily(
            "trainjet_outbox_dropped",
            "Events a runner's outbox dropped (from its last heartbeat)",
            labels=["runner_id", "pool"],
        )
        for runner in runners:
            depth.add_metric([runner.runner_id, runner.pool], runner.outbox_depth)
            dropped.add_metric([runner.runner_id, runner.pool], runner.outbox_dropped)
        yield depth
        yield dropped


def _histogram(
    name: str, doc: str, values: list[float], bounds: tuple[float, ...]
) -> HistogramMetricFamily:
    buckets: list[tuple[str, float]] = []
    for bound in bounds:
        buckets.append((repr(bound), float(sum(1 for v in values if v <= bound))))
    buckets.append(("+Inf", float(len(values))))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum(values))


def install_metrics(app: Any) -> None:
    """Give `app` its own registry and collector, and the `/metrics` route."""
    registry = CollectorRegistry(auto_describe=False)
    collector = TrainjetCollector()
    registry.register(collector)
    app.state.metrics_registry = registry
    app.state.metrics_collector = collector
    app.include_router(router)


async def _read(name: str, call: Awaitable[T], default: T, up: dict[str, bool]) -> T:
    try:
        result = await asyncio.wait_for(call, READ_SECONDS)
    except Exception:
        up[name] = False
        return default
    up.setdefault(name, True)
    return result


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    collector: TrainjetCollector = request.app.state.metrics_collector
    backend: ApiSystem | None = getattr(request.app.state, "backend", None)
    snap = Snapshot(backend=backend)
    if backend is not None:

        async def no_details() -> dict[str, Any]:
            return {}

        details, snap.lag, snap.runners = await asyncio.gather(
            _read("nats", (backend.describe or no_details)(), {}, snap.up),
            _read("event_store", backend.projector.lag(), None, snap.up),
            _read("runner_registry", backend.registry.list(), [], snap.up),
        )
        snap.streams = details.get("streams", {})
    collector.snapshot = snap
    body = generate_latest(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
