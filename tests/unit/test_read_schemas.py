"""OpenAPI cannot drift from what the API sends: the documented models of the read models are
generated from the msgspec structs (and agree with msgspec's own schema of them), every JSON
route documents a typed answer, and real answers validate against the documented schema with
every object closed (an undocumented field fails as surely as a missing one)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import msgspec
import pytest

from tests.unit.test_console_api import training
from trainjet.api.app import create_app
from trainjet.api.list_rows import OperationSummary
from trainjet.api.struct_models import model_of
from trainjet.config import Settings
from trainjet.core.events import (
    DummyInputs,
    EventFactory,
    OperationCreated,
    OperationFailed,
    OperationType,
)
from trainjet.core.projections import (
    EpochRecord,
    OperationInfo,
    OperationMetadata,
    OperationMetrics,
    OperationNote,
    OperationProgress,
)
from trainjet.core.projections.promotions import Promotion
from trainjet.core.store.port import RunnerInfo
from trainjet.system import ApiSystem

pytestmark = pytest.mark.unit
READ_MODELS = [
    OperationInfo,
    OperationProgress,
    OperationMetadata,
    OperationNote,
    EpochRecord,
    OperationMetrics,
    Promotion,
    RunnerInfo,
    OperationSummary,
]


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models")


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if ref else schema


def _shape(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """What a schema says about a value's type, in a form both libraries' schemas reduce to:
    nested models by their field shapes, unions as sets, enums by their values."""
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return frozenset(_shape(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return ("enum", tuple(sorted(schema["enum"])))
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        return ("array", _shape(items, defs) if items else None)
    if kind == "object" or "properties" in schema:
        if "properties" in schema:
            props = schema["properties"]
            fields = tuple(sorted((k, _shape(v, defs)) for k, v in props.items()))
            return ("object", fields, tuple(sorted(schema.get("required", []))))
        extra = schema.get("additionalProperties", True)
        return ("map", None if extra in (True, {}) else _shape(extra, defs))
    if kind is None:
        return "any"
    return kind  # not the format: msgspec does not write `date-time` for a datetime


@pytest.mark.parametrize("struct", READ_MODELS, ids=lambda s: s.__name__)
def test_generated_model_agrees_with_msgspecs_schema_of_the_struct(
    struct: type[msgspec.Struct],
) -> None:
    ours = model_of(struct).model_json_schema()
    theirs = msgspec.json.schema(struct)
    assert _shape(ours, ours.get("$defs", {})) == _shape(theirs, theirs.get("$defs", {}))


def test_a_field_added_to_a_struct_appears_in_its_model() -> None:
    class Probe(msgspec.Struct, kw_only=True):
        name: str
        count: int = 0
        labels: list[str] = msgspec.field(default_factory=list)
        note: OperationNote | None = None

    schema = model_of(Probe).model_json_schema()
    assert set(schema["properties"]) == {"name", "count", "labels", "note"}
    assert schema["required"] == ["name"]
    assert model_of(Probe)(name="x").labels == []  # type: ignore[attr-defined]


def _openapi() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def test_every_json_route_documents_a_typed_success_answer() -> None:
    untyped = []
    for path, methods in _openapi()["paths"].items():
        for method, op in methods.items():
            success = {c: r for c, r in op["responses"].items() if c in ("200", "201", "202")}
            assert success, f"{method.upper()} {path} documents no success answer"
            for code, response in success.items():
                content = response.get("content") or {}
                if not content:
                    untyped.append(f"{method.upper()} {path} {code}: no media type")
                for media, body in content.items():
                    schema = body.get("schema") or {}
                    # streams and files document their media type; JSON documents its shape
                    if media == "application/json" and not ("$ref" in schema or "type" in schema):
                        untyped.append(f"{method.upper()} {path} {code}: untyped JSON")
    assert not untyped, "\n".join(untyped)


def _closed(schema: Any) -> Any:
    """Every object with declared properties refuses undeclared ones (unless it says
    otherwise): what makes an answer with an extra field fail validation."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


class Documented:
    def __init__(self) -> None:
        self.spec = _openapi()
        self.components = _closed(copy.deepcopy(self.spec["components"]))

    def check(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        documented = self.spec["paths"][f"/api/v1{path}"][method]["responses"]
        code = str(response.status_code)
        assert code in documented, f"{method} {path}: {code} not documented"
        schema = documented[code]["content"]["application/json"]["schema"]
        root = {**_closed(schema), "components": self.components}
        validator = jsonschema_rs.Draft202012Validator(root)
        body: dict[str, Any] = response.json()
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{method.upper()} {path}:\n" + "\n".join(errors[:10])
        return body


async def _failed_dummy(backend: ApiSystem, op_id: str) -> None:
    f = EventFactory(op_id)
    await backend.store.append(
        f.make(
            OperationCreated, operation_type=OperationType.DUMMY, inputs=DummyInputs(iterations=3)
        )
    )
    seq = await backend.store.append(f.make(OperationFailed, error="boom"))
    await backend.projector.wait_until(seq)


async def test_real_answers_validate_against_the_documented_schemas(
    backend: ApiSystem, http: httpx.AsyncClient
) -> None:
    await training(backend, "op-a", strategy="alpha", epochs=[(0.9, 0.4), (0.8, 0.5)])
    await training(backend, "op-b", strategy="beta", epochs=[(0.7, 0.6)], finish=False)
    await _failed_dummy(backend, "op-f")
    docs = Documented()
    reads = [
        ("/operations", {}),
        ("/operations", {"sort": "best_val_accuracy", "strategy": "alpha"}),
        ("/operations/{id}", {}),
        ("/operations/{id}/results", {}),
        ("/operations/{id}/metrics", {}),
        ("/operations/{id}/events", {}),
        ("/operations/{id}/curves", {}),
        ("/operations/{id}/audit", {}),
        ("/operations/compare", {"ids": ["op-a", "op-b"]}),
        ("/runners", {}),
    ]
    for path, params in reads:
        url = "/api/v1" + path.replace("{id}", "op-a")
        response = await http.get(url, params=params)
        assert response.status_code == 200, f"{path}: {response.text}"
        body = docs.check("get", path.replace("{id}", "{operation_id}"), response)
        assert body.get("success", True) is True
    listed = docs.check("get", "/operations", await http.get("/api/v1/operations"))
    assert [row["operation_id"] for row in listed["data"]] == ["op-f", "op-b", "op-a"]
    health = await http.get("/api/v1/health")
    docs.check("get", "/health", health)
    retried = await http.post("/api/v1/operations/op-f/retry")
    assert retried.status_code == 200, retried.text
    body = docs.check("post", "/operations/{operation_id}/retry", retried)
    assert body["retry_of"] == "op-f" and body["data"]["retry_of"] == "op-f"


def test_the_closed_schema_refuses_an_undocumented_field() -> None:
    """The check above can fail: an answer with a field the model lacks does."""
    docs = Documented()
    body = {"success": True, "data": [], "total_count": 0, "active_count": 0, "surprise": 1}
    fake = httpx.Response(200, json=body)
    with pytest.raises(AssertionError, match="surprise"):
        docs.check("get", "/operations", fake)
