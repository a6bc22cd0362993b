"""Regenerate docs/events.md from the event catalogue (`python tools/gen_events_doc.py`).

tests/unit/test_docs.py fails when the committed page differs from what this writes, so the
catalogue in the docs cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from trainjet.core.events import OperationCreated, encode, type_name
from trainjet.core.events.examples import examples, inputs_examples
from trainjet.core.events.model import TERMINAL_TYPES
from trainjet.core.store.settings import StoreSettings

HEADER = """# Event catalogue

Every event of an operation is an immutable JSON message on JetStream, on the subject
`trainjet.ops.<operation_id>.<type>`. `trainjet.ops.<id>.>` tails one operation and
`trainjet.ops.>` all of them; any NATS client can read them.

## Envelope

| field | meaning |
| --- | --- |
| `type` | the event type, also the last subject token |
| `schema_version` | version of this type's schema (1; `operation_created` is 2) |
| `event_id` | unique id; also the `Nats-Msg-Id` header, so a retried publish is stored once |
| `operation_id` | the operation; also the third subject token |
| `occurred_at` | RFC 3339 UTC time at the writer |

The first terminal event (`operation_completed`, `operation_cancelled`, `operation_failed`)
of an operation wins; events after it change nothing in the read models.

## Schema evolution

- New fields always get a default, so old events still decode and old readers ignore them.
- A field is never renamed, retyped or given a new meaning.
- A change that cannot follow those rules bumps that type's `schema_version` and registers an
  upcaster (`trainjet.core.events.codec.UPCASTERS.register(type, from_version, fn)`) that
  rewrites the old JSON before decoding. Readers refuse events newer than they know, saying
  to upgrade, and record-and-skip anything undecodable.
- `tests/golden/events_v1.jsonl` holds one stored event of every type, then the lines of
  later versions; the suite decodes it on every run.
- `operation_created` v2 types its `inputs` by `kind`, the operation type: `training`
  (`TrainingInputs`: the request resolved, the strategy YAML text, data hashes, versions,
  `resume_from` on a retry) or `dummy` (`DummyInputs`); `null` when an operation has none.
  v1 stored the same fields untagged (`{}` for none); its upcaster tags them from
  `operation_type`.
"""


def streams_section() -> str:
    s = StoreSettings()
    return f"""
## Streams and consumers

Created idempotently by `trainjet setup` with admin credentials, or by an embedded `trainjet
serve`; other processes only check they exist (an existing stream with an incompatible
configuration is reported, not silently changed). The events stream refuses message deletes
and purges to everyone (`deny_delete`, `deny_purge`; see security.md).

| stream | subjects | retention | storage | duplicate window | replicas |
| --- | --- | --- | --- | --- | --- |
| `{s.events_stream_name}` | `trainjet.ops.>` | limits (max age {s.max_age or "unlimited"}) | {s.storage} | {s.duplicate_window:g} s | {s.replicas} (`TRAINJET_STREAM_REPLICAS`) |
| `{s.commands_stream_name}` | `trainjet.cmd.>` | work queue | {s.storage} | {s.duplicate_window:g} s | {s.replicas} |

- Start commands go to `trainjet.cmd.start.<pool>` (`{{"operation_id", "operation_type",
  "pool"}}`, `Nats-Msg-Id` = `start-<operation_id>`). Each pool has one durable pull consumer,
  `runners-<pool>`, shared by its runners: explicit ack, `ack_wait` = the lease
  ({s.lease_seconds:g} s, `TRAINJET_LEASE_SECONDS`). A runner renews the lease with
  `+WPI` (in progress) while it works and acknowledges only after the terminal event.
- Runners heartbeat into the KV bucket `{s.bucket_name}` (entries expire after
  {s.runner_ttl_seconds:g} s, `TRAINJET_RUNNER_TTL_SECONDS`).
- Readers use ordered push consumers (replay, projections, the CLI's tail) with
  deliver-policy all or by start sequence; they hold no server-side state.
"""


def render() -> str:
    parts = [HEADER, streams_section(), "\n## Types\n"]
    for event in examples():
        name = type_name(type(event))
        doc = (type(event).__doc__ or "").strip().splitlines()
        summary = " ".join(line.strip() for line in doc) if doc else ""
        terminal = (
            " Terminal." if isinstance(event, TERMINAL_TYPES) and "Terminal" not in summary else ""
        )
        body = json.dumps(json.loads(encode(event)), indent=2)
        parts.append(f"\n### `{name}`\n\n{summary}{terminal}\n\n```json\n{body}\n```\n")
    parts.append("\n## Inputs\n\nEvery training input filled in (a retry), and a dummy's:\n")
    for event in inputs_examples():
        assert isinstance(event, OperationCreated)
        body = json.dumps(msgspec.to_builtins(event.inputs), indent=2)
        parts.append(f"\n### `{event.operation_type.value}`\n\n```json\n{body}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/events.md")
    target.write_text(render())
    print(f"wrote {target}")
