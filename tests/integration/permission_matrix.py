"""The permission matrix: what each NATS user of trainjet may do, verb by verb.

One table serves twice: `test_permissions.py` tries every cell against a nats-server running
the shipped `nats.conf` + `deploy/nats/users.conf`, and `docs/security.md` shows it (a test
checks the page carries exactly `render()`; `python -m tests.integration.permission_matrix`
rewrites it). Each verb is the real call trainjet (or a NATS client) makes for it.

Outcomes: `yes` the server did it; `no` the user's permissions refused it (a permissions
violation, the request never reaches JetStream); `stream` the permissions let it through
but the stream's own configuration refused it (deny_delete / deny_purge on the log).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext, api

from trainjet.core.store import (
    JetStreamBlobStore,
    JetStreamCommandQueue,
    JetStreamEventStore,
    JetStreamRunnerRegistry,
    RunnerInfo,
    StoreSettings,
)
from trainjet.core.store.jetstream import events_stream_config

Outcome = Literal["yes", "no", "stream"]
ROLES = ("api", "runner", "viewer", "admin")
LAYOUT = StoreSettings()
E, C = LAYOUT.events_stream_name, LAYOUT.commands_stream_name
KV = f"KV_{LAYOUT.bucket_name}"
CKPT, MODELS = LAYOUT.checkpoints_bucket_name, LAYOUT.models_bucket_name
SNAPS = LAYOUT.snapshots_bucket_name
PROBE_OP = "op_probe"  # an operation with one event, seeded before every verb
PROBE_KEY = "probe"  # a registry key and an object in both object buckets, seeded too


@dataclass
class Ctx:
    """A connection as the role under test, plus what the admin fetched for it."""

    nc: Client
    js: JetStreamContext
    configs: dict[str, api.StreamConfig]  # stream name -> current config (admin's view)
    last: dict[str, int]  # stream name -> its last sequence (admin's view)
    admin_publish: Callable[[str], Awaitable[None]]


Verb = Callable[[Ctx], Awaitable[Any]]


def blobs(ctx: Ctx, bucket: str) -> JetStreamBlobStore:
    return JetStreamBlobStore(ctx.nc, bucket, LAYOUT)


async def read_events(ctx: Ctx) -> None:
    records = await JetStreamEventStore(ctx.nc, LAYOUT).read_operation(PROBE_OP)
    assert records, "the seeded event was not read"


async def plain_subscribe(ctx: Ctx) -> None:
    sub = await ctx.nc.subscribe("trainjet.ops.>")
    await ctx.nc.flush()
    for _ in range(60):  # re-sent until seen: no guess at when the interest has spread
        await ctx.admin_publish("trainjet.ops.op_probe.probe")
        try:
            await sub.next_msg(timeout=0.5)
            return
        except TimeoutError:
            continue
    raise AssertionError("subscribed, yet no event arrived")


async def claim(ctx: Ctx) -> None:
    got = await JetStreamCommandQueue(ctx.nc, LAYOUT).next_claim("local", 10)
    assert got is not None, "the seeded start command was not delivered"
    await got.complete()


async def raw(ctx: Ctx, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JetStream API request as any client would send it; an API error is raised."""
    reply = await ctx.nc.request(subject, json.dumps(body or {}).encode(), timeout=10)
    data: dict[str, Any] = json.loads(reply.data)
    if "error" in data:
        nats.js.errors.APIError.from_error(data["error"])  # raises the matching APIError
    return data


def heartbeat() -> RunnerInfo:
    return RunnerInfo(runner_id=PROBE_KEY, pool="local", host="probe", pid=1)


def update(stream: str) -> Verb:
    """Re-send the stream's current configuration: a no-op that still needs the right."""
    return lambda ctx: ctx.js.update_stream(ctx.configs[stream])


def delete_last(stream: str) -> Verb:
    """Delete the stream's newest message (the admin seeded one before every verb)."""
    return lambda ctx: ctx.js.delete_msg(stream, ctx.last[stream])


def new_consumer(stream: str, name: str, **extra: Any) -> Verb:
    config = api.ConsumerConfig(name=name, durable_name=name, ack_policy=api.AckPolicy.EXPLICIT,
                                **extra)  # fmt: skip
    return lambda ctx: ctx.js.add_consumer(stream, config)


# (id, what it is, api, runner, viewer, admin)
ROWS: list[tuple[str, str, Verb, Outcome, Outcome, Outcome, Outcome]] = [
    ("events-info", f"{E}: stream info", lambda c: c.js.stream_info(E), "yes", "yes", "yes", "yes"),
    ("events-append", f"{E}: append an event (publish `trainjet.ops.<id>.<type>`)",
     lambda c: c.js.publish("trainjet.ops.op_probe.probe", b"{}"), "yes", "yes", "no", "yes"),
    ("events-read", f"{E}: read an operation (ordered consumer)", read_events,
     "yes", "yes", "yes", "yes"),
    ("events-subscribe", "plain subscribe to `trainjet.ops.>` (live tail without JetStream)",
     plain_subscribe, "no", "no", "yes", "yes"),
    ("events-direct-get", f"{E}: direct get of a message (an operation's history)",
     lambda c: c.js.get_msg(E, seq=1, direct=True), "yes", "yes", "yes", "yes"),
    ("events-durable", f"{E}: create a durable consumer", new_consumer(E, "rogue"),
     "no", "no", "no", "yes"),
    ("events-consumer-delete", f"{E}: delete a consumer",
     lambda c: c.js.delete_consumer(E, "audit"), "no", "no", "no", "yes"),
    ("events-update", f"{E}: update the stream (how `max_msgs=1` cut the log)", update(E),
     "no", "no", "no", "yes"),
    ("events-purge", f"{E}: purge", lambda c: c.js.purge_stream(E), "no", "no", "no", "stream"),
    ("events-msg-delete", f"{E}: delete a message", lambda c: c.js.delete_msg(E, 1),
     "no", "no", "no", "stream"),
    ("events-delete", f"{E}: delete the stream", lambda c: c.js.delete_stream(E),
     "no", "no", "no", "yes"),
    ("commands-info", f"{C}: stream info", lambda c: c.js.stream_info(C), "yes", "yes", "no", "yes"),
    ("commands-submit", f"{C}: queue a start command (publish `trainjet.cmd.start.local`)",
     lambda c: c.js.publish("trainjet.cmd.start.local", b"{}", stream=C),
     "yes", "no", "no", "yes"),
    ("commands-claim", f"{C}: take and ack a command from `runners-local`", claim,
     "no", "yes", "no", "yes"),
    ("commands-consumer-info", f"{C}: pool consumer info (backlog)",
     lambda c: c.js.consumer_info(C, "runners-local"), "yes", "yes", "no", "yes"),
    ("commands-consumer-create", f"{C}: create a consumer (a new pool)",
     new_consumer(C, "runners-rogue", filter_subject="trainjet.cmd.start.rogue"),
     "no", "no", "no", "yes"),
    ("commands-consumer-delete", f"{C}: delete the pool consumer `runners-local`",
     lambda c: c.js.delete_consumer(C, "runners-local"), "no", "no", "no", "yes"),
    ("commands-msg-delete", f"{C}: delete a message", delete_last(C), "no", "no", "no", "yes"),
    ("commands-update", f"{C}: update the stream", update(C), "no", "no", "no", "yes"),
    ("commands-purge", f"{C}: purge", lambda c: c.js.purge_stream(C), "no", "no", "no", "yes"),
    ("commands-delete", f"{C}: delete the stream", lambda c: c.js.delete_stream(C),
     "no", "no", "no", "yes"),
    ("runners-info", f"registry `{LAYOUT.bucket_name}`: bucket info",
     lambda c: c.js.stream_info(KV), "yes", "yes", "no", "yes"),
    ("runners-list", "registry: list runners (KV get)",
     lambda c: JetStreamRunnerRegistry(c.nc, LAYOUT).list(), "yes", "no", "no", "yes"),
    ("runners-put", "registry: heartbeat (KV put)",
     lambda c: JetStreamRunnerRegistry(c.nc, LAYOUT).heartbeat(heartbeat()),
     "no", "yes", "no", "yes"),
    ("runners-remove", "registry: remove a key (KV purge marker)",
     lambda c: JetStreamRunnerRegistry(c.nc, LAYOUT).remove(PROBE_KEY), "no", "yes", "no", "yes"),
    ("runners-msg-delete", "registry: delete a message (API, not a KV delete)", delete_last(KV),
     "no", "no", "no", "stream"),
    ("runners-update", "registry: change the bucket (its TTL)", update(KV),
     "no", "no", "no", "yes"),
    ("runners-purge", "registry: purge the bucket", lambda c: c.js.purge_stream(KV),
     "no", "no", "no", "yes"),
    ("runners-delete", "registry: delete the bucket", lambda c: c.js.delete_stream(KV),
     "no", "no", "no", "yes"),
    ("checkpoints-info", f"`{CKPT}`: bucket info", lambda c: c.js.stream_info(f"OBJ_{CKPT}"),
     "no", "yes", "no", "yes"),
    ("checkpoints-put", f"`{CKPT}`: put a checkpoint (replaces the seeded one)",
     lambda c: blobs(c, CKPT).put(PROBE_KEY, b"epoch 2"), "no", "yes", "no", "yes"),
    ("checkpoints-get", f"`{CKPT}`: get a checkpoint", lambda c: blobs(c, CKPT).get(PROBE_KEY),
     "no", "yes", "no", "yes"),
    ("checkpoints-delete", f"`{CKPT}`: delete a checkpoint",
     lambda c: blobs(c, CKPT).delete(PROBE_KEY), "no", "yes", "no", "yes"),
    ("checkpoints-purge", f"`{CKPT}`: purge the bucket (see below)",
     lambda c: c.js.purge_stream(f"OBJ_{CKPT}"), "no", "yes", "no", "yes"),
    ("checkpoints-update", f"`{CKPT}`: change the bucket", update(f"OBJ_{CKPT}"),
     "no", "no", "no", "yes"),
    ("models-info", f"`{MODELS}`: bucket info", lambda c: c.js.stream_info(f"OBJ_{MODELS}"),
     "yes", "yes", "no", "yes"),
    ("models-put", f"`{MODELS}`: upload a model package (a new key)",
     lambda c: blobs(c, MODELS).put(f"op_{uuid.uuid4().hex}/1", b"model"),
     "no", "yes", "no", "yes"),
    ("models-replace", f"`{MODELS}`: replace a package (purges its old chunks)",
     lambda c: blobs(c, MODELS).put(PROBE_KEY, b"other model"), "no", "no", "no", "yes"),
    ("models-get", f"`{MODELS}`: download a model package (API import)",
     lambda c: blobs(c, MODELS).get(PROBE_KEY), "yes", "no", "no", "yes"),
    ("models-delete", f"`{MODELS}`: delete a package (see below)",
     lambda c: blobs(c, MODELS).delete(PROBE_KEY), "no", "no", "no", "yes"),
    ("models-msg-delete", f"`{MODELS}`: delete a message", delete_last(f"OBJ_{MODELS}"),
     "no", "no", "no", "yes"),
    ("models-purge", f"`{MODELS}`: purge the bucket", lambda c: c.js.purge_stream(f"OBJ_{MODELS}"),
     "no", "no", "no", "yes"),
    ("models-update", f"`{MODELS}`: change the bucket", update(f"OBJ_{MODELS}"),
     "no", "no", "no", "yes"),
    ("snapshots-info", f"`{SNAPS}`: bucket info", lambda c: c.js.stream_info(f"OBJ_{SNAPS}"),
     "yes", "no", "yes", "yes"),
    ("snapshots-get", f"`{SNAPS}`: read the projection snapshot (start-up, verify)",
     lambda c: blobs(c, SNAPS).get(PROBE_KEY), "yes", "no", "yes", "yes"),
    ("snapshots-replace", f"`{SNAPS}`: replace the snapshot (purges its old chunks)",
     lambda c: blobs(c, SNAPS).put(PROBE_KEY, b"newer snapshot"), "yes", "no", "no", "yes"),
    ("snapshots-msg-delete", f"`{SNAPS}`: delete a message", delete_last(f"OBJ_{SNAPS}"),
     "no", "no", "no", "yes"),
    ("snapshots-update", f"`{SNAPS}`: change the bucket", update(f"OBJ_{SNAPS}"),
     "no", "no", "no", "yes"),
    ("stream-create", "create any other stream",
     lambda c: c.js.add_stream(api.StreamConfig(name="ROGUE", subjects=["rogue.>"])),
     "no", "no", "no", "yes"),
    ("stream-names", "list stream names (an object read finds its stream so)",
     lambda c: raw(c, "$JS.API.STREAM.NAMES"), "yes", "yes", "yes", "yes"),
    ("account-info", "JetStream account info", lambda c: raw(c, "$JS.API.INFO"),
     "no", "no", "no", "yes"),
]  # fmt: skip

VERBS: dict[str, Verb] = {row[0]: row[2] for row in ROWS}
CASES = [(row[0], role, row[3 + i]) for row in ROWS for i, role in enumerate(ROLES)]
_MARK = {"yes": "yes", "no": "no", "stream": "no (stream)"}
DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BEGIN, END = "<!-- permission-matrix:begin -->", "<!-- permission-matrix:end -->"


def events_config() -> api.StreamConfig:
    return events_stream_config(LAYOUT)


def render() -> str:
    """The matrix as the Markdown table docs/security.md shows."""
    head = "| what | " + " | ".join(f"`trainjet-{r}`" for r in ROLES) + " |"
    lines = [head, "| --- |" + " :-: |" * len(ROLES)]
    for _id, what, _verb, *cells in ROWS:
        lines.append(f"| {what} | " + " | ".join(_MARK[c] for c in cells) + " |")
    return "\n".join(lines)


_SECTION = re.compile(re.escape(BEGIN) + r"\n(?:(.*?)\n)?" + re.escape(END), re.S)


def doc_table(text: str) -> str:
    found = _SECTION.search(text)
    return (found.group(1) or "") if found else ""


def write_doc() -> None:
    section = f"{BEGIN}\n{render()}\n{END}"
    DOC.write_text(_SECTION.sub(lambda _: section, DOC.read_text()))


if __name__ == "__main__":
    write_doc()
