"""The endpoints behind the web console, on the in-memory backend: sorted lists, curves,
the audit, the export, the all-operations stream, and the pages with their offline assets."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from trainjet.api.console import STATIC_DIR
from trainjet.api.routes import live
from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    EventFactory,
    OperationCompleted,
    OperationCreated,
    OperationStarted,
    OperationType,
)
from trainjet.replay.export import read_jsonl
from trainjet.system import ApiSystem

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api_base_url() -> str:
    return "http://console.test"


async def training(
    backend: ApiSystem,
    op_id: str,
    *,
    strategy: str,
    epochs: list[tuple[float, float]],
    batches_per_epoch: int = 10,
    runner: str | None = "runner-a",
    finish: bool = True,
) -> None:
    """Append a training's events as a runner would: created, started, batches, epochs."""
    f = EventFactory(op_id)
    events: list[Any] = [
        f.make(
            OperationCreated,
            operation_type=OperationType.TRAINING,
            metadata={
                "symbol": "EURUSD",
                "timeframe": "1h",
                "parameters": {"strategy_name": strategy, "symbols": ["EURUSD"], "epochs": 9},
            },
            total_steps=len(epochs),
        )
    ]
    if runner:
        events.append(f.make(OperationStarted, runner_id=runner))
    total = len(epochs) * batches_per_epoch
    for n, (val_loss, val_acc) in enumerate(epochs, 1):
        events.append(
            f.make(
                BatchProgress,
                batches=[
                    BatchRecord(n, b, loss=val_loss + b / 100, accuracy=val_acc)
                    for b in range(1, batches_per_epoch + 1)
                ],
                total_epochs=len(epochs),
                batches_per_epoch=batches_per_epoch,
                items_processed=n * batches_per_epoch,
                items_total=total,
                percentage=100 * n / len(epochs) - 1,
            )
        )
        events.append(
            f.make(
                EpochCompleted,
                epoch=n,
                total_epochs=len(epochs),
                train_loss=val_loss,
                train_accuracy=val_acc,
                val_loss=val_loss,
                val_accuracy=val_acc,
            )
        )
    if finish:
        events.append(f.make(OperationCompleted, result_summary={"ok": True}))
    seq = 0
    for event in events:
        seq = await backend.store.append(event)
    await backend.projector.wait_until(seq)


async def test_list_sorts_server_side_by_any_column_with_missing_values_last(
    backend: ApiSystem, http: httpx.AsyncClient
) -> None:
    await training(backend, "op-a", strategy="beta", epochs=[(0.9, 0.40)])
    await training(backend, "op-b", strategy="alpha", epochs=[(0.8, 0.70), (0.7, 0.60)])
    await training(backend, "op-c", strategy="gamma", epochs=[], runner=None, finish=False)

    async def ids(**params: str) -> list[str]:
        r = await http.get("/api/v1/operations", params=params)
        assert r.status_code == 200, r.text
        return [row["operation_id"] for row in r.json()["data"]]

    assert await ids(sort="best_val_accuracy", order="desc") == ["op-b", "op-a", "op-c"]
    assert await ids(sort="best_val_accuracy", order="asc") == ["op-a", "op-b", "op-c"]
    assert await ids(sort="strategy", order="asc") == ["op-b", "op-a", "op-c"]
    assert await ids(sort="runner", order="asc") == ["op-b", "op-a", "op-c"]  # tie: newest first
    assert await ids(sort="strategy", order="asc", limit="1", offset="1") == ["op-a"]
    assert await ids() == ["op-c", "op-b", "op-a"]  # no sort: log order, newest first

    row = (await http.get("/api/v1/operations", params={"sort": "strategy"})).json()["data"][0]
    assert row["strategy"] == "gamma" and row["symbols"] == ["EURUSD"]
    best = next(
        r
        for r in (await http.get("/api/v1/operations")).json()["data"]
        if r["operation_id"] == "op-b"
    )
    assert best["best_val_accuracy"] == 0.70 and best["runner_id"] == "runner-a"


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"sort": "loss"}, "sort: Input should be 'created_at'"),
        ({"sort": "status", "order": "sideways"}, "order: Input should be 'asc' or 'desc'"),
    ],
)
async def test_list_refuses_unknown_sort_columns_and_orders(
    http: httpx.AsyncClient, params: dict[str, str], says: str
) -> None:
    r = await http.get("/api/v1/operations", params=params)
    assert r.status_code == 422
    assert says in r.json()["detail"]


async def test_curves_are_downsampled_and_carry_epochs_and_timeline(
    backend: ApiSystem, http: httpx.AsyncClient
) -> None:
    await training(
        backend,
        "op-long",
        strategy="s",
        epochs=[(1.0, 0.5)] * 20 + [(0.5, 0.9)],
        batches_per_epoch=500,
    )
    r = await http.get("/api/v1/operations/op-long/curves", params={"max_points": 300})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["batches"]["count"] == 21 * 500
    assert len(data["batches"]["loss"]["x"]) == 300 == len(data["batches"]["accuracy"]["y"])
    assert data["epochs"]["best_epoch"] == 21
    assert len(data["epochs"]["epochs"]) == 21
    types = [e["type"] for e in data["timeline"]]
    assert "batch_progress" not in types
    assert types[0] == "operation_created" and types[-1] == "operation_completed"
    assert data["last_seq"] == backend.projector.view.operations["op-long"].last_sequence


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/v1/operations/nope/curves", 404, "Operation not found: nope"),
        ("/api/v1/operations/nope/audit", 404, "Operation not found: nope"),
        ("/api/v1/operations/nope/export", 404, "Operation not found: nope"),
        ("/api/v1/operations/op-x/curves?max_points=2", 422, "greater than or equal to 3"),
        ("/api/v1/operations/op-x/curves?max_points=many", 422, "valid integer"),
        ("/api/v1/operations/op-x/stream?after_seq=-1", 422, "greater than or equal to 0"),
    ],
)
async def test_bad_requests_get_a_clear_4xx(
    backend: ApiSystem, http: httpx.AsyncClient, path: str, status: int, says: str
) -> None:
    await training(backend, "op-x", strategy="s", epochs=[(1.0, 0.5)])
    before = backend.projector.view.last_seq
    r = await http.get(path)
    assert r.status_code == status
    assert says in r.json()["detail"]
    assert backend.projector.view.last_seq == before  # nothing appended


async def test_audit_finds_nothing_on_a_faithful_projection_and_names_a_tampered_field(
    backend: ApiSystem, http: httpx.AsyncClient
) -> None:
    await training(backend, "op-audit", strategy="s", epochs=[(0.9, 0.5), (0.8, 0.6)])
    clean = (await http.get("/api/v1/operations/op-audit/audit")).json()["data"]
    assert clean["ok"] is True and clean["differences"] == []
    assert clean["events_folded"] == backend.projector.view.operations["op-audit"].event_count

    view = backend.projector.view
    view.operations["op-audit"] = msgspec.structs.replace(
        view.operations["op-audit"], runner_id="someone-else"
    )
    tampered = (await http.get("/api/v1/operations/op-audit/audit")).json()["data"]
    assert tampered["ok"] is False
    assert tampered["differences"] == [
        {"path": "runner_id", "rebuilt": "runner-a", "served": "someone-else"}
    ]


async def test_export_is_json_lines_that_read_back_as_the_same_events(
    backend: ApiSystem, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await training(backend, "op-export", strategy="s", epochs=[(0.9, 0.5)])
    r = await http.get("/api/v1/operations/op-export/export")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert re.fullmatch(
        r'attachment; filename="op-export\.jsonl"', r.headers["content-disposition"]
    )
    path = tmp_path / "events.jsonl"
    path.write_bytes(r.content)
    records = read_jsonl(path)
    op_id = records[0].event.operation_id
    stored = await backend.store.read_operation(op_id)
    assert [(x.seq, x.event) for x in records] == [(s.seq, s.event) for s in stored]


class FakeRequest:
    async def is_disconnected(self) -> bool:
        return False


async def test_list_stream_coalesces_changes_and_asks_for_a_resync_on_a_flood(
    backend: ApiSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "COALESCE_SECONDS", 0.05)
    stream = live._list_sse(backend, FakeRequest())  # type: ignore[arg-type]
    try:
        assert b"event: ready" in await anext(stream)
        next_message = anext(stream)
        for n in range(3):
            await training(backend, f"op-{n}", strategy="s", epochs=[(0.9, 0.5)])
        message = await next_message
        name, data = _parse(message)
        assert name == "operations"
        assert sorted(row["operation_id"] for row in data) == ["op-0", "op-1", "op-2"]
        assert {row["status"] for row in data} == {"completed"}

        # a change right after a message waits for the window: at most one message per window
        window = 0.3
        monkeypatch.setattr(live, "COALESCE_SECONDS", window)
        sent = time.monotonic()
        await training(backend, "op-late", strategy="s", epochs=[(0.9, 0.5)])
        name, data = _parse(await anext(stream))
        assert name == "operations" and [r["operation_id"] for r in data] == ["op-late"]
        assert time.monotonic() - sent >= window - 0.05

        next_message = anext(stream)
        seq = 0
        for n in range(live.MAX_ROWS_PER_MESSAGE + 5):
            seq = await backend.store.append(
                EventFactory(f"flood-{n}").make(
                    OperationCreated, operation_type=OperationType.DUMMY
                )
            )
        await backend.projector.wait_until(seq)
        name, data = _parse(await next_message)
        assert name == "resync" and data["changed"] == live.MAX_ROWS_PER_MESSAGE + 5
    finally:
        await stream.aclose()
    assert not backend.projector._listeners  # the listener left with the client


def _parse(message: bytes) -> tuple[str, Any]:
    fields = dict(line.split(": ", 1) for line in message.decode().strip().splitlines())
    return fields["event"], json.loads(fields["data"])


async def test_console_and_docs_pages_use_only_packaged_assets(http: httpx.AsyncClient) -> None:
    for path in ("/", "/docs", "/redoc"):
        r = await http.get(path)
        assert r.status_code == 200, path
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert not re.search(r"(src|href)=[\"']?https?://", r.text), path
        for asset in re.findall(r"(?:src|href)=[\"'](/console/static/[^\"']+)", r.text):
            assert (await http.get(asset)).status_code == 200, asset
    assert "cdn" not in (await http.get("/docs")).text.lower()


def test_console_assets_ship_as_package_data_with_their_licences() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"trainjet.api.console" = ["static/*", "static/**/*"]' in pyproject
    for folder in ("uplot", "swagger-ui", "redoc"):
        assert (STATIC_DIR / "vendor" / folder / "LICENSE").is_file()
    versions = (STATIC_DIR / "vendor" / "VERSIONS.md").read_text()
    for pinned in ("1.6.32", "5.17.14", "2.1.5"):
        assert pinned in versions
    # every module the console imports is there (no build step can have dropped one)
    for module in (STATIC_DIR / "js").rglob("*.js"):
        for target in re.findall(r'from "(\.[^"]+)"', module.read_text()):
            assert (module.parent / target).resolve().is_file(), f"{module}: {target}"


async def test_operation_stream_can_start_after_the_history_a_page_already_drew(
    backend: ApiSystem, http: httpx.AsyncClient
) -> None:
    await training(backend, "op-tail", strategy="s", epochs=[(0.9, 0.5), (0.8, 0.6)])
    records = await backend.store.read_operation("op-tail")
    middle = records[len(records) // 2].seq
    r = await http.get("/api/v1/operations/op-tail/stream", params={"after_seq": middle})
    ids = [int(line[4:]) for line in r.text.splitlines() if line.startswith("id: ")]
    assert ids == [rec.seq for rec in records if rec.seq > middle]
    assert r.text.rstrip().splitlines()[-2] == "event: operation_completed"
