"""Tags, notes, promotions and the compare view: the pure folds and the write-side checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.test_projection_fold import Clock
from trainjet.config import Settings
from trainjet.core.errors import NotFound, Unprocessable
from trainjet.core.events import (
    EpochCompleted,
    ModelPromoted,
    NoteAdded,
    OperationCompleted,
    OperationCreated,
    OperationStarted,
    OperationStatus,
    OperationTagged,
    OperationType,
    ResolvedStrategy,
    TrainingInputs,
)
from trainjet.core.events.subjects import event_subject
from trainjet.core.projections import OperationMetrics, fold
from trainjet.core.projections.compare import (
    RunRecord,
    compare_runs,
    config_diff,
    config_record,
)
from trainjet.core.projections.view import OperationsView
from trainjet.core.store.port import StoredEvent
from trainjet.system import memory_api

T0 = datetime(2026, 1, 1, tzinfo=UTC)
YAML_A = "name: demo\nmodel:\n  training:\n    learning_rate: 0.001\n    epochs: 2\n"
YAML_B = "name: demo\nmodel:\n    training:\n        epochs: 2\n        learning_rate: 0.01\n"


def created(make, op="op1", yaml_text=YAML_A, seed=1, **inputs):
    return make(
        OperationCreated,
        operation_id=op,
        operation_type=OperationType.TRAINING,
        metadata={"parameters": {"strategy_name": "demo", "symbols": ["EURUSD"]}},
        inputs=TrainingInputs(
            **{
                "strategy_name": "demo",
                "strategy_yaml": yaml_text,
                "seed": seed,
                "epochs": 2,
                "data_hashes": {"EURUSD_1h": "abc"},
                "versions": {"torch": "2.13.0"},
                "resolved": ResolvedStrategy(model={"note": "derived from the YAML, not diffed"}),
                **inputs,
            }
        ),
    )


def finished_run(make, op="op1", **kw):
    return [
        created(make, op, **kw),
        make(OperationStarted, operation_id=op, runner_id="r1"),
        make(
            EpochCompleted,
            operation_id=op,
            epoch=1,
            total_epochs=2,
            train_loss=1.0,
            train_accuracy=0.4,
            val_loss=0.9,
            val_accuracy=0.5,
        ),
        make(
            EpochCompleted,
            operation_id=op,
            epoch=2,
            total_epochs=2,
            train_loss=0.8,
            train_accuracy=0.5,
            val_loss=0.95,
            val_accuracy=0.45,
        ),
        make(OperationCompleted, operation_id=op),
    ]


def test_tags_and_notes_apply_after_the_terminal_event() -> None:
    make = Clock()
    events = [
        *finished_run(make),
        make(OperationTagged, add=["baseline", "rsi"], by="alice"),
        make(NoteAdded, text="looks good", by="bob"),
        make(OperationTagged, add=["keep"], remove=["rsi"]),
        # a late terminal event still changes nothing (first terminal wins)
        make(OperationCompleted, result_summary={"late": True}),
    ]
    info = fold(events)
    assert info is not None
    assert info.status is OperationStatus.COMPLETED
    assert info.tags == ["baseline", "keep"]
    assert [(n.text, n.by, n.at) for n in info.notes] == [
        ("looks good", "bob", events[6].occurred_at)
    ]
    assert info.result_summary == {}


def test_the_view_folds_promotions_even_of_an_operation_it_never_saw() -> None:
    make = Clock()
    view = OperationsView()
    events = [
        make(ModelPromoted, operation_id="gone", model_name="demo", version="EURUSD_1h_v1"),
        make(
            ModelPromoted,
            operation_id="gone",
            model_name="demo",
            version="EURUSD_1h_v2",
            previous_version="EURUSD_1h_v1",
            by="alice",
        ),
        make(ModelPromoted, operation_id="x", model_name="other", version="GBPUSD_1h_v1"),
    ]
    for seq, event in enumerate(events, start=1):
        view.apply(StoredEvent(seq=seq, subject=event_subject(event), event=event))
    assert view.promotions["demo"].version == "EURUSD_1h_v2"
    assert view.promotions["demo"].by == "alice"
    assert view.promotions["other"].operation_id == "x"
    assert view.last_seq == 3
    assert "gone" not in view.operations


def test_config_diff_parses_the_yaml_and_keeps_only_differences() -> None:
    make = Clock()
    a = created(make, "a", YAML_A, seed=1)
    b = created(make, "b", YAML_B, seed=2)
    c = created(make, "c", YAML_A, seed=1, data_hashes={"EURUSD_1h": "def"})
    diff = config_diff([config_record(e) for e in (a, b, c)])
    assert diff == [
        {"path": "inputs.data_hashes.EURUSD_1h", "values": ["abc", "abc", "def"]},
        {"path": "inputs.seed", "values": [1, 2, 1]},
        # re-indented YAML is no difference; the changed value is
        {"path": "strategy.model.training.learning_rate", "values": [0.001, 0.01, 0.001]},
    ]
    # a path only one run has reads None for the others
    d = created(make, "d", YAML_A, resume_from="a")
    assert config_diff([config_record(a), config_record(d)]) == [
        {"path": "inputs.resume_from", "values": [None, "a"]}
    ]


def test_compare_summarises_each_run_and_its_curves() -> None:
    make = Clock()
    view = OperationsView()
    events = [*finished_run(make, "a"), *finished_run(make, "b", seed=7)]
    for seq, event in enumerate(events, start=1):
        view.apply(StoredEvent(seq=seq, subject=event_subject(event), event=event))
    runs = [
        RunRecord(view.operations[op], view.metrics.get(op), events[i])
        for op, i in (("a", 0), ("b", 5))
    ]
    data = compare_runs(runs, T0 + timedelta(hours=1))
    first = data["operations"][0]
    assert first["best_val_accuracy"] == 0.5  # the best epoch, not the last one
    assert first["best_epoch"] == 1
    assert first["final"]["val_accuracy"] == 0.45
    assert first["epochs"] == 2
    assert first["strategy"] == "demo"
    assert first["duration_seconds"] == 3.0
    assert data["metrics"]["b"]["val_loss"] == [0.9, 0.95]
    assert data["config_diff"] == [{"path": "inputs.seed", "values": [1, 7]}]
    assert isinstance(runs[0].metrics, OperationMetrics)


async def _backend_with_finished_run():
    backend = memory_api(Settings())
    make = Clock()
    await backend.store.append_many(finished_run(make))
    await backend.start(lease_monitor=False)
    return backend


async def test_tag_and_note_use_cases_read_their_writes() -> None:
    backend = await _backend_with_finished_run()
    try:
        info = await backend.annotations.tag("op1", add=[" Baseline ", "v1.2_b"], by="alice")
        assert info.tags == ["baseline", "v1.2_b"]
        before = await backend.store.last_sequence()
        # adding what is there already records nothing
        assert (await backend.annotations.tag("op1", add=["baseline"])).tags == info.tags
        assert await backend.store.last_sequence() == before
        info = await backend.annotations.tag("op1", remove=["baseline"])
        assert info.tags == ["v1.2_b"]
        info = await backend.annotations.note("op1", "  promising  ", by="bob")
        assert [(n.text, n.by) for n in info.notes] == [("promising", "bob")]
    finally:
        await backend.close()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda a: a.tag("nope", add=["x"]), NotFound, "Operation not found: nope"),
        (lambda a: a.tag("op1", add=["has space"]), Unprocessable, "Invalid tag 'has space'"),
        (lambda a: a.tag("op1", add=["-lead"]), Unprocessable, "starting with a letter"),
        (lambda a: a.tag("op1", add=["x" * 41]), Unprocessable, "1-40 characters"),
        (lambda a: a.tag("op1"), Unprocessable, "Nothing to do"),
        (lambda a: a.tag("op1", add=["a"], remove=["a"]), Unprocessable, "both added"),
        (lambda a: a.tag("op1", remove=["never"]), Unprocessable, "has no tag never"),
        (
            lambda a: a.tag("op1", add=[f"t{i}" for i in range(33)]),
            Unprocessable,
            "at most 32",
        ),
        (lambda a: a.note("op1", "   "), Unprocessable, "Empty note"),
        (lambda a: a.note("op1", "x" * 2001), Unprocessable, "at most 2000"),
        (lambda a: a.note("nope", "hello"), NotFound, "Operation not found"),
        (lambda a: a.note("op1", "hi", by="\x00evil"), Unprocessable, "Invalid 'by'"),
    ],
)
async def test_bad_annotations_are_refused_and_append_nothing(call, error, message) -> None:
    backend = await _backend_with_finished_run()
    try:
        before = await backend.store.last_sequence()
        with pytest.raises(error, match=message):
            await call(backend.annotations)
        assert await backend.store.last_sequence() == before
    finally:
        await backend.close()


async def test_tags_notes_and_promotion_need_the_token_when_one_is_set() -> None:
    import httpx

    from trainjet.api.app import create_app

    backend = await _backend_with_finished_run()
    app = create_app(Settings(api_token="s3cret"))
    app.state.backend = backend  # the lifespan would build it; ASGITransport does not run it
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            before = await backend.store.last_sequence()
            for path, body in (
                ("/operations/op1/tags", {"add": ["x"]}),
                ("/operations/op1/notes", {"text": "x"}),
                ("/models/demo/promote", {"version": "v1"}),
            ):
                refused = await c.post(path, json=body)
                assert refused.status_code == 401, path
            assert await backend.store.last_sequence() == before
            ok = await c.post(
                "/operations/op1/tags",
                json={"add": ["x"]},
                headers={"Authorization": "Bearer s3cret"},
            )
            assert ok.status_code == 200, ok.text
            assert ok.json()["data"]["tags"] == ["x"]
            # reads stay open
            compare = await c.get("/operations/compare", params=[("ids", "op1")])
            assert compare.status_code == 422
    finally:
        await backend.close()
