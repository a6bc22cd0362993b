"""Typed operation inputs through the log, and the v1 -> v2 upcast of `operation_created`."""

from __future__ import annotations

import json

import msgspec
import pytest

from trainjet.core.events import (
    EventFactory,
    MalformedEvent,
    OperationCreated,
    OperationType,
    decode,
    encode,
)
from trainjet.core.events.examples import inputs_examples
from trainjet.core.events.inputs import DummyInputs, TrainingInputs


def _v1(operation_type: str, inputs: dict) -> bytes:
    return json.dumps(
        {
            "type": "operation_created",
            "event_id": "e1",
            "operation_id": "op1",
            "occurred_at": "2026-01-01T00:00:00Z",
            "schema_version": 1,
            "operation_type": operation_type,
            "inputs": inputs,
        }
    ).encode()


def test_typed_inputs_round_trip_through_the_wire() -> None:
    for event in inputs_examples():
        back = decode(encode(event))
        assert back == event
        assert isinstance(back, OperationCreated)
        assert type(back.inputs) is type(event.inputs)
    training = inputs_examples()[0]
    assert isinstance(training, OperationCreated)
    assert isinstance(training.inputs, TrainingInputs)
    assert training.inputs.resume_from is not None


def test_v1_training_inputs_decode_typed_with_every_field() -> None:
    old = {
        "strategy_name": "s",
        "strategy_yaml": "name: s\n",
        "symbols": ["EURUSD"],
        "timeframes": ["1h"],
        "start_date": "2017-01-02",
        "end_date": None,
        "epochs": 3,
        "seed": 7,
        "detailed_analytics": True,
        "training_mode": "host",
        "data_hashes": {"EURUSD_1h": "ab"},
        "data_bars": {"EURUSD_1h": 10},
        "resolved": {"model": {"type": "mlp"}, "labels": {}, "data_split": {"train": 1.0}},
        "versions": {"trainjet": "0.1", "torch": None},
        "warnings": ["w"],
        "resume_from": "op0",
    }
    event = decode(_v1("training", old))
    assert isinstance(event, OperationCreated) and event.schema_version == 2
    assert isinstance(event.inputs, TrainingInputs)
    back = msgspec.to_builtins(event.inputs)
    assert back.pop("kind") == "training"
    assert back == old  # every v1 key has its typed field


def test_v1_dummy_and_empty_inputs() -> None:
    dummy = decode(_v1("dummy", {"iterations": 3}))
    assert isinstance(dummy, OperationCreated)
    assert dummy.inputs == DummyInputs(iterations=3, interval_seconds=2.0)
    empty = decode(_v1("training", {}))
    assert isinstance(empty, OperationCreated) and empty.inputs is None


def test_inputs_of_another_kind_are_refused() -> None:
    with pytest.raises(ValueError, match="dummy inputs on a training operation"):
        EventFactory("op1").make(
            OperationCreated, operation_type=OperationType.TRAINING, inputs=DummyInputs()
        )
    payload = json.loads(encode(inputs_examples()[1]))
    payload["operation_type"] = "training"
    with pytest.raises(MalformedEvent):
        decode(json.dumps(payload).encode())
    with pytest.raises(MalformedEvent):  # a wrong-typed field is not silently coerced
        decode(_v1("training", {"strategy_name": "s", "epochs": "3"}))
