"""`GET /operations` validates its query in one step: the same values, the same 422s and the
same documented parameters as FastAPI's own query parameters."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError

from trainjet.api.query_model import MAX_CACHED_QUERY_BYTES, query_parameters
from trainjet.api.routes.operations import ListQuery, _list_query
from trainjet.core.events import OperationStatus
from trainjet.core.projections.listing import SortKey, SortOrder

pytestmark = pytest.mark.unit


def test_values_defaults_repeats_and_unknown_names() -> None:
    q = _list_query(b"status=running&limit=5&tag=a&tag=b&sort=duration&active_only=yes&x=1")
    assert q.status is OperationStatus.RUNNING and q.limit == 5 and q.offset == 0
    assert q.tag == ["a", "b"] and q.sort is SortKey.DURATION and q.active_only is True
    assert q.order is SortOrder.DESC
    assert _list_query(b"") == ListQuery()
    assert _list_query(b"strategy=rsi%20mlp").strategy == "rsi mlp"


def test_a_repeated_query_is_validated_once_and_a_long_one_is_not_kept() -> None:
    assert _list_query(b"limit=7") is _list_query(b"limit=7")
    long = b"strategy=s&" + b"pad=x&" * MAX_CACHED_QUERY_BYTES
    assert _list_query(long) is not _list_query(long)


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b"limit=0", "limit"), (b"limit=abc", "limit"), (b"status=nope", "status"),
     (b"offset=-1", "offset"), (b"symbol=" + b"X" * 33, "symbol")],
)  # fmt: skip
def test_a_bad_value_is_the_usual_422_located_in_the_query(raw: bytes, field: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        _list_query(raw)
    assert [e["loc"] for e in caught.value.errors()] == [("query", field)]


def test_openapi_documents_every_field_as_a_query_parameter() -> None:
    params = {p["name"]: p for p in query_parameters(ListQuery)}
    assert list(params) == list(ListQuery.model_fields)
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    assert params["limit"]["schema"]["maximum"] == 1000
    assert "$ref" not in str(params)  # enums inlined: no component they would need
    assert params["sort"]["description"].startswith("Column to sort by")
