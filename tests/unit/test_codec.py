"""Wire format, golden events and the upcaster hook."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from trainjet.core.events import (
    CURRENT_VERSION,
    EVENT_TYPES,
    EventCodec,
    MalformedEvent,
    PhaseChanged,
    UpcasterRegistry,
    decode,
    encode,
    event_subject,
    type_name,
)
from trainjet.core.events.examples import examples, golden

GOLDEN = Path(__file__).parent.parent / "golden" / "events_v1.jsonl"


def test_every_type_has_an_example() -> None:
    assert {type(e) for e in examples()} == set(EVENT_TYPES)


def test_envelope_fields_on_the_wire() -> None:
    for event in examples():
        payload = json.loads(encode(event))
        assert payload["type"] == type_name(type(event))
        assert payload["schema_version"] == CURRENT_VERSION[payload["type"]]
        assert payload["event_id"] and payload["operation_id"]
        assert payload["occurred_at"].endswith("Z")  # RFC 3339, UTC
        assert event_subject(event) == f"trainjet.ops.{event.operation_id}.{payload['type']}"


def test_golden_events_still_decode_identically() -> None:
    """Stored events of every schema version must keep decoding to the same values for ever."""
    lines = GOLDEN.read_bytes().splitlines()
    assert len(lines) == len(golden())
    for line, expected in zip(lines, golden(), strict=True):
        assert decode(line) == expected
    # the file keeps the old versions it was frozen with: v1 created, then the v2 ones
    versions = [json.loads(line)["schema_version"] for line in lines]
    assert versions[0] == 1 and versions[len(EVENT_TYPES) :] == [2, 2]


def test_malformed_payloads_raise_malformed_event() -> None:
    for bad in (
        b"not json",
        b"[1,2]",
        b'{"type":"nope","event_id":"x"}',
        b'{"type":"phase_changed"}',
    ):
        with pytest.raises(MalformedEvent):
            decode(bad)


def test_newer_schema_version_is_refused_with_advice() -> None:
    payload = json.loads(encode(examples()[2]))
    payload["schema_version"] = 99
    with pytest.raises(MalformedEvent, match="upgrade trainjet"):
        decode(json.dumps(payload).encode())


def test_upcaster_runs_before_decoding() -> None:
    """The hook a breaking change would use: phase_changed v1 had `name` instead of `phase`
    (a hypothetical history, registered on a private registry for this test)."""
    registry = UpcasterRegistry({**CURRENT_VERSION, "phase_changed": 2})

    def v1_to_v2(payload: dict) -> dict:
        payload["phase"] = payload.pop("name")
        return payload

    registry.register("phase_changed", 1, v1_to_v2)
    codec = EventCodec(registry)
    old = {
        "type": "phase_changed",
        "schema_version": 1,
        "event_id": "e1",
        "operation_id": "op1",
        "occurred_at": "2026-01-01T00:00:00Z",
        "name": "loading",
    }
    event = codec.decode(msgspec.json.encode(old))
    assert isinstance(event, PhaseChanged)
    assert event.phase == "loading" and event.schema_version == 2
    registry.current["phase_changed"] = 3
    with pytest.raises(MalformedEvent, match="no upcaster"):
        codec.decode(msgspec.json.encode(old))
