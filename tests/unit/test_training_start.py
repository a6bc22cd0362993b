"""`POST /trainings/start` to the recorded inputs: typed through the log, bad requests leave
nothing behind, and the file work stays off the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from trainjet.config import Settings
from trainjet.core.events import OperationCreated, TrainingInputs, decode, encode
from trainjet.core.store.port import StoredEvent
from trainjet.services.training import TrainingService
from trainjet.services.training_request import TrainingStartRequest
from trainjet.system import ApiSystem
from trainjet.training.data import ohlcv

REPO = Path(__file__).resolve().parents[2]
SETTINGS = Settings(strategies_dir=REPO / "strategies", market_data_dir=REPO / "data")


@pytest.fixture
def api_settings() -> Settings:
    return SETTINGS


async def _created(backend: ApiSystem, operation_id: str) -> OperationCreated:
    records = await backend.store.read_operation(operation_id)
    return next(
        r.event
        for r in records
        if isinstance(r, StoredEvent) and isinstance(r.event, OperationCreated)
    )


async def test_started_training_records_typed_inputs(
    http: httpx.AsyncClient, backend: ApiSystem
) -> None:
    body = {"strategy_name": "eurusd_rsi_mlp", "epochs": 3, "seed": 11, "end_date": "2017-06-30"}
    response = await http.post("/api/v1/trainings/start", json=body)
    assert response.status_code == 200, response.text
    created = await _created(backend, response.json()["operation_id"])
    inputs = created.inputs
    assert isinstance(inputs, TrainingInputs)
    assert (inputs.strategy_name, inputs.epochs, inputs.seed) == ("eurusd_rsi_mlp", 3, 11)
    assert inputs.end_date == "2017-06-30" and inputs.resume_from is None
    assert inputs.data_hashes and set(inputs.data_hashes) == set(inputs.data_bars)
    assert inputs.strategy_yaml and inputs.resolved is not None
    assert decode(encode(created)) == created  # typed through the wire, not a dict


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", "5"), ("seed", 1.5), ("symbols", "EURUSD"), ("detailed_analytics", "yes")],
)
async def test_a_wrong_typed_field_is_a_4xx_and_leaves_nothing(
    http: httpx.AsyncClient, backend: ApiSystem, field: str, value: Any
) -> None:
    body = {"strategy_name": "eurusd_rsi_mlp", field: value}
    response = await http.post("/api/v1/trainings/start", json=body)
    assert 400 <= response.status_code < 500
    assert field in response.text  # the message names the field
    assert await backend.store.last_sequence() == 0  # nothing was written
    assert not backend.projector.view.operations


async def test_an_unknown_field_is_refused_not_dropped(
    http: httpx.AsyncClient, backend: ApiSystem
) -> None:
    body = {"strategy_name": "eurusd_rsi_mlp", "epoch": 5}  # a typo of epochs
    response = await http.post("/api/v1/trainings/start", json=body)
    assert 400 <= response.status_code < 500 and "epoch" in response.text
    assert await backend.store.last_sequence() == 0


async def test_data_files_are_read_and_hashed_off_the_event_loop(
    backend: ApiSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = ohlcv.sha256_of

    def off_loop_only(frame: Any) -> str:
        with pytest.raises(RuntimeError):  # no running loop: this is a worker thread
            asyncio.get_running_loop()
        hashed.append(real(frame))
        return hashed[-1]

    # the service imports it when it reads a request (pandas is not an API start-up import)
    monkeypatch.setattr(ohlcv, "sha256_of", off_loop_only)
    service = TrainingService(backend.orchestrator, backend.registry, SETTINGS)
    request = TrainingStartRequest(strategy_name="eurusd_rsi_mlp", epochs=1)
    info, created, _ = await service.start_training(request)
    assert created and hashed
    recorded = (await _created(backend, info.operation_id)).inputs
    assert isinstance(recorded, TrainingInputs)
    assert list(recorded.data_hashes.values()) == hashed
