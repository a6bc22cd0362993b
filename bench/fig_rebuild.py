"""5. Projection rebuild: replaying the whole stream into the read models (`Projector.start`,
exactly what the API does on start-up) against a raw nats-py ordered push consumer that only
decodes each message with the same msgspec decoder, over the same stream, arms interleaved."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.common import Sizes, fmt_rate, nats_server, row

NAME = "rebuild"
TITLE = "Projection rebuild"
PER_OPERATION = 500
GOAL = 0.8


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        return asyncio.run(_run(sizes, Path(workdir or tmp)))


async def load(js: Any, layout: Any, total: int, prefix: str, per_operation: int) -> int:
    """Fill the events stream with `total` events (pipelined raw publishes: not measured)."""
    from bench.workload import histories
    from trainjet.core.events import encode
    from trainjet.core.events.subjects import event_subject

    sent = 0
    pending: list[Any] = []
    for history in histories(prefix, total, per_operation):
        for event in history:
            pending.append(
                await js.publish_async(
                    layout.wire(event_subject(event)),
                    encode(event),
                    headers={"Nats-Msg-Id": event.event_id},
                )
            )
            sent += 1
        if len(pending) >= 2048:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    return sent


async def _run(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    import msgspec
    from nats.js import api

    from trainjet.core.events import AnyEvent
    from trainjet.core.projections.projector import Projector
    from trainjet.core.store import JetStreamEventStore, StoreSettings, ensure_streams
    from trainjet.natsd import connect

    total = sizes.rebuild_events
    per_op = min(PER_OPERATION, max(3, total // 4))
    layout = StoreSettings()
    seconds: dict[str, list[float]] = {"trainjet": [], "raw": []}
    check: dict[str, Any] = {}
    with nats_server(workdir) as server:
        nc = await connect(server.url, name="bench-rebuild")
        js = nc.jetstream(timeout=30)
        await ensure_streams(js, layout)
        t0 = time.perf_counter()
        sent = await load(js, layout, total, "rebuild", per_op)
        load_s = time.perf_counter() - t0
        info = await js.stream_info(layout.events_stream_name)
        stream_bytes = int(info.state.bytes)
        decoder = msgspec.json.Decoder(AnyEvent)
        store = JetStreamEventStore(nc, layout)

        for _, arm in stats.interleave(["trainjet", "raw"], sizes.rebuild_rounds, seed=5):
            if arm == "trainjet":
                projector = Projector(store)
                t0 = time.perf_counter()
                await projector.start()
                seconds[arm].append(time.perf_counter() - t0)
                await projector.stop()
                view = projector.view
                check["trainjet"] = {
                    "applied": view.applied,
                    "last_seq": view.last_seq,
                    "operations": len(view.operations),
                    "rejected": len(view.rejected),
                }
            else:
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                count = 0

                async def on_msg(msg: Any, done: asyncio.Future[None] = done) -> None:
                    nonlocal count
                    decoder.decode(msg.data)
                    count += 1
                    if count == sent and not done.done():
                        done.set_result(None)

                t0 = time.perf_counter()
                sub = await js.subscribe(
                    layout.events_subjects[0],
                    stream=layout.events_stream_name,
                    cb=on_msg,
                    ordered_consumer=True,
                    config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL),
                    pending_msgs_limit=-1,
                    pending_bytes_limit=-1,
                )
                await asyncio.wait_for(done, 600)
                seconds[arm].append(time.perf_counter() - t0)
                await sub.unsubscribe()
                check["raw"] = {"decoded": count}
        await nc.close()

    if check["trainjet"]["applied"] != sent or check["raw"]["decoded"] != sent:
        raise RuntimeError(f"rebuild counts differ from the {sent} events stored: {check}")
    ours, raw = stats.median(seconds["trainjet"]), stats.median(seconds["raw"])
    ratio = raw / ours  # throughput ratio
    return {
        "rows": [
            row(
                NAME,
                "5. Projection rebuild",
                figure=f"{fmt_rate(sent / ours)} events/s, {ours:.1f} s for {sent:,} events "
                f"({check['trainjet']['operations']:,} operations)",
                baseline=f"raw ordered consumer + decode {fmt_rate(sent / raw)} msg/s, {raw:.1f} s",
                ratio=f"{ratio:.2f}×",
                goal=f"≥ {GOAL:.0%} of raw",
                met=ratio >= GOAL,
            )
        ],
        "data": {
            "events": sent,
            "events_per_operation": per_op,
            "stream_bytes": stream_bytes,
            "load_seconds": load_s,
            "rounds": sizes.rebuild_rounds,
            "trainjet_seconds": ours,
            "raw_seconds": raw,
            "trainjet_events_per_s": sent / ours,
            "raw_msgs_per_s": sent / raw,
            "ratio": ratio,
            "samples_s": seconds,
            "check": check,
        },
    }
