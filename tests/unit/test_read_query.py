"""The read side's query facade (`Projector.query`) and the retry use case, on the in-memory
backend; and the rule that keeps them the only way in: no route or service reads the view."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.test_console_api import training
from trainjet.core.errors import InvalidRequest, NotFound
from trainjet.core.events import (
    DummyInputs,
    EventFactory,
    OperationCreated,
    OperationFailed,
    OperationStatus,
    OperationType,
    TrainingInputs,
    utcnow,
)
from trainjet.core.projections.listing import SortKey, SortOrder
from trainjet.core.projections.query import OperationFilter
from trainjet.system import ApiSystem

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


async def _failed(backend: ApiSystem, op_id: str, op_type: OperationType) -> None:
    f = EventFactory(op_id)
    await backend.store.append(
        f.make(
            OperationCreated,
            operation_type=op_type,
            pool="gpu",
            inputs=TrainingInputs(strategy_name="s", epochs=4)
            if op_type is OperationType.TRAINING
            else DummyInputs(),
            total_steps=4,
        )
    )
    seq = await backend.store.append(f.make(OperationFailed, error="boom"))
    await backend.projector.wait_until(seq)


async def test_page_filters_counts_and_walks_newest_first(backend: ApiSystem) -> None:
    await training(backend, "op-a", strategy="alpha", epochs=[(0.9, 0.4)])
    await training(backend, "op-b", strategy="beta", epochs=[(0.8, 0.7)], finish=False)
    await training(backend, "op-c", strategy="alpha", epochs=[(0.7, 0.6)])
    query, now = backend.projector.query, utcnow()

    page = query.page(OperationFilter(), offset=0, limit=2, now=now)
    assert [op.operation_id for op, _ in page.rows] == ["op-c", "op-b"]
    assert (page.total_count, page.active_count) == (3, 1)
    newest_metrics = page.rows[0][1]
    assert newest_metrics is not None and len(newest_metrics.epochs) == 1

    alpha = query.page(OperationFilter(strategy="alpha"), offset=1, limit=5, now=now)
    assert [op.operation_id for op, _ in alpha.rows] == ["op-a"]
    assert alpha.total_count == 2  # all pages together

    done = OperationFilter(status=OperationStatus.COMPLETED)
    best = query.page(done, offset=0, limit=5, sort=SortKey.BEST_VAL_ACCURACY, now=now)
    assert [op.operation_id for op, _ in best.rows] == ["op-c", "op-a"]
    worst = query.page(
        done, offset=0, limit=5, sort=SortKey.BEST_VAL_ACCURACY, order=SortOrder.ASC, now=now
    )
    assert [op.operation_id for op, _ in worst.rows] == ["op-a", "op-c"]
    active = query.page(OperationFilter(active_only=True), offset=0, limit=5, now=now)
    assert [op.operation_id for op, _ in active.rows] == ["op-b"]

    stats = query.stats()
    assert (stats.operations, stats.active_operations) == (3, 1)
    assert stats.last_sequence == stats.events_applied > 0
    assert query.get("nope") is None and query.metrics("nope") is None


async def test_retry_of_a_failed_training_names_it_in_resume_from(backend: ApiSystem) -> None:
    await _failed(backend, "op-t", OperationType.TRAINING)
    retried = await backend.orchestrator.retry("op-t")
    new = retried.operation
    assert new.retry_of == "op-t" and new.pool == "gpu" and new.status is OperationStatus.PENDING
    assert retried.resume_from == "op-t" and retried.checkpoint_epoch is None
    assert "starts from the first epoch" in retried.message
    records = await backend.store.read_operation(new.operation_id)
    created = records[0].event  # type: ignore[union-attr]
    assert isinstance(created, OperationCreated)
    assert created.inputs == TrainingInputs(strategy_name="s", epochs=4, resume_from="op-t")


async def test_retry_refuses_all_but_failed_operations(backend: ApiSystem) -> None:
    await _failed(backend, "op-d", OperationType.DUMMY)
    dummy = await backend.orchestrator.retry("op-d")
    assert dummy.resume_from is None and "with the same inputs" in dummy.message
    await training(backend, "op-ok", strategy="alpha", epochs=[(0.9, 0.4)])
    with pytest.raises(InvalidRequest, match="only a failed operation can be retried"):
        await backend.orchestrator.retry("op-ok")
    with pytest.raises(InvalidRequest, match="still pending"):
        await backend.orchestrator.retry(dummy.operation.operation_id)
    with pytest.raises(NotFound):
        await backend.orchestrator.retry("op-none")


def test_no_route_or_service_reads_the_projectors_view() -> None:
    """Routes, services, the API's metrics and the runners ask `Projector.query`; the view's
    dicts are the projector's own (snapshots replace them)."""
    reaching = re.compile(r"\.view\b(?!_)")
    offenders = []
    for folder in ("api", "services", "runners", "cli", "core"):
        for path in sorted((ROOT / "trainjet" / folder).rglob("*.py")):
            if path.name == "projector.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if reaching.search(line) and "projector" in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
