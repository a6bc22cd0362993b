"""4. Event append throughput: trainjet's `JetStreamEventStore.append_many` against raw
nats-py `publish_async` of the same messages (same subjects, payload bytes and `Nats-Msg-Id`
headers, encoded beforehand), in chunks of 256 (the outbox's bound), each arm on a fresh stream
of its own, arms interleaved."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.common import Sizes, fmt_rate, nats_server, row

NAME = "append"
TITLE = "Event append throughput"
CHUNK = 256
GOAL = 0.8


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-append-") as tmp:
        return asyncio.run(_run(sizes, Path(workdir or tmp)))


async def _run(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    from bench.workload import histories
    from trainjet.core.events import encode
    from trainjet.core.events.subjects import event_subject
    from trainjet.core.store import JetStreamEventStore, StoreSettings, ensure_streams
    from trainjet.natsd import connect

    events = [e for h in histories("append", sizes.append_events, 100) for e in h]
    payload_bytes = sum(len(encode(e)) for e in events) / len(events)
    rates: dict[str, list[float]] = {"trainjet": [], "raw": []}
    stored: dict[str, list[int]] = {"trainjet": [], "raw": []}
    with nats_server(workdir) as server:
        nc = await connect(server.url, name="bench-append")
        js = nc.jetstream(timeout=10)
        for r, arm in stats.interleave(["trainjet", "raw"], sizes.append_rounds, seed=4):
            layout = StoreSettings(namespace=f"{arm}{r}")
            await ensure_streams(js, layout)
            if arm == "trainjet":
                store = JetStreamEventStore(nc, layout)
                t0 = time.perf_counter()
                for i in range(0, len(events), CHUNK):
                    await store.append_many(events[i : i + CHUNK])
                seconds = time.perf_counter() - t0
            else:
                # encoded beforehand: raw is the client's ceiling for these very messages
                msgs = [
                    (layout.wire(event_subject(e)), encode(e), {"Nats-Msg-Id": e.event_id})
                    for e in events
                ]
                t0 = time.perf_counter()
                for i in range(0, len(msgs), CHUNK):
                    futures = [
                        await js.publish_async(s, d, headers=h) for s, d, h in msgs[i : i + CHUNK]
                    ]
                    await asyncio.gather(*futures)
                seconds = time.perf_counter() - t0
            info = await js.stream_info(layout.events_stream_name)
            stored[arm].append(int(info.state.messages))
            rates[arm].append(len(events) / seconds)
            await js.delete_stream(layout.events_stream_name)
        await nc.close()

    for arm, counts in stored.items():
        if any(c != len(events) for c in counts):
            raise RuntimeError(f"{arm}: stored {counts}, sent {len(events)} each round")
    ours, raw = stats.median(rates["trainjet"]), stats.median(rates["raw"])
    ratio = ours / raw
    return {
        "rows": [
            row(
                NAME,
                "4. Event append throughput",
                figure=f"{fmt_rate(ours)} events/s ({len(events):,} events, "
                f"{payload_bytes:.0f} B avg, chunks of {CHUNK})",
                baseline=f"raw nats-py publish_async {fmt_rate(raw)} msg/s",
                ratio=f"{ratio:.2f}×",
                goal=f"≥ {GOAL:.0%} of raw",
                met=ratio >= GOAL,
            )
        ],
        "data": {
            "events": len(events),
            "payload_bytes_avg": payload_bytes,
            "chunk": CHUNK,
            "rounds": sizes.append_rounds,
            "trainjet_events_per_s": ours,
            "raw_msgs_per_s": raw,
            "ratio": ratio,
            "samples_per_s": rates,
            "stored": stored,
        },
    }
