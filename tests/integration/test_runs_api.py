"""Looking at runs over real HTTP and a real nats-server: tags and notes, list filters,
compare, and model versions with promotion (what `predict` serves, across an API restart).

One stack per module with two completed trainings of the example strategy (different epochs
and seeds) and one dummy operation. Every refused request is checked to append nothing.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.test_models_strategies_api import make_workdir, start_training
from tests.stack import TERMINAL, Stack, running_stack

pytestmark = pytest.mark.timeout(400)
STRATEGY = "eurusd_rsi_mlp"


@dataclass
class Runs:
    stack: Stack
    first: str  # 2 epochs, seed 1 -> model version EURUSD_1h_v1
    second: str  # 3 epochs, seed 2 -> EURUSD_1h_v2
    dummy: str

    def events(self, op_id: str) -> list[dict[str, Any]]:
        body = self.stack.http.get(f"/operations/{op_id}/events").json()
        return list(body["data"]["events"])

    def finish(self, op_id: str) -> dict[str, Any]:
        try:
            op = self.stack.wait_status(op_id, TERMINAL, timeout=180)
        except TimeoutError as exc:
            pytest.fail(f"{exc}\nrunner: {self.stack.log('runner0.log')}")
        assert op["status"] == "completed", op["error_message"]
        return op


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("runs_api")
    with running_stack(
        root,
        **make_workdir(root),
        # generous: on a loaded CI machine a runner busy importing torch can miss 10 s
        TRAINJET_RUNNER_TTL_SECONDS="60",
        TRAINJET_LEASE_SECONDS="60",
    ) as stack:
        stack.start_api()
        stack.start_runner()
        first = start_training(stack, epochs=2, seed=1)
        made = Runs(stack, first, "", "")
        made.finish(first)
        made.second = start_training(stack, epochs=3, seed=2)
        made.finish(made.second)
        made.dummy = stack.start_dummy(iterations=2, interval=0.01)
        stack.wait_status(made.dummy, TERMINAL)
        yield made


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["operation_id"] for row in response.json()["data"]]


def test_tags_and_notes_on_a_finished_run_read_back_and_filter_the_list(runs: Runs) -> None:
    http = runs.stack.http
    tagged = http.post(
        f"/operations/{runs.first}/tags", json={"add": ["Baseline", "rsi"], "by": "alice"}
    )
    assert tagged.status_code == 200, tagged.text
    assert tagged.json()["data"]["tags"] == ["baseline", "rsi"]
    assert tagged.json()["data"]["status"] == "completed"  # tags never touch the fate
    http.post(f"/operations/{runs.second}/tags", json={"add": ["rsi"]}).raise_for_status()
    noted = http.post(f"/operations/{runs.first}/notes", json={"text": "the reference run"})
    assert noted.status_code == 200, noted.text
    [note] = noted.json()["data"]["notes"]
    assert (note["text"], note["by"]) == ("the reference run", "api")
    assert note["at"].endswith("Z")
    # the events are in the run's log, after its terminal event
    types = [e["type"] for e in runs.events(runs.first)]
    assert types[-2:] == ["operation_tagged", "note_added"]
    assert types.index("operation_completed") < types.index("operation_tagged")
    # filter by one tag, by all of several, and by a tag nobody has
    assert set(_ids(http.get("/operations", params={"tag": "rsi"}))) == {runs.first, runs.second}
    both = http.get("/operations", params=[("tag", "rsi"), ("tag", "baseline")])
    assert _ids(both) == [runs.first]
    assert both.json()["total_count"] == 1
    assert _ids(http.get("/operations", params={"tag": "nobody"})) == []
    # removing
    removed = http.post(f"/operations/{runs.first}/tags", json={"remove": ["rsi"]})
    assert removed.json()["data"]["tags"] == ["baseline"]
    assert _ids(http.get("/operations", params={"tag": "rsi"})) == [runs.second]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/operations/op_nope/tags", {"add": ["x"]}, 404, "Operation not found: op_nope"),
        ("/operations/{first}/tags", {"add": ["no spaces"]}, 422, "Invalid tag 'no spaces'"),
        ("/operations/{first}/tags", {"add": ["a*"]}, 422, "Invalid tag"),
        ("/operations/{first}/tags", {"remove": ["unknown-tag"]}, 422, "has no tag unknown-tag"),
        ("/operations/{first}/tags", {}, 422, "Nothing to do"),
        ("/operations/{first}/tags", {"add": "x"}, 422, "add"),
        ("/operations/{first}/tags", {"add": ["x"], "colour": 1}, 422, "colour"),
        ("/operations/{first}/notes", {"text": " "}, 422, "Empty note"),
        ("/operations/{first}/notes", {"text": "x" * 5000}, 422, "at most 2000"),
        ("/operations/op_nope/notes", {"text": "hi"}, 404, "Operation not found"),
    ],
)
def test_bad_tags_and_notes_get_a_clear_4xx_and_append_nothing(
    runs: Runs, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    before = len(runs.events(runs.first))
    response = runs.stack.http.post(path.format(first=runs.first), json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert len(runs.events(runs.first)) == before


def test_list_filters_by_strategy_and_symbol_and_shows_the_run_columns(runs: Runs) -> None:
    http = runs.stack.http
    trainings = {runs.first, runs.second}
    assert set(_ids(http.get("/operations", params={"strategy": STRATEGY}))) == trainings
    assert set(_ids(http.get("/operations", params={"symbol": "eurusd"}))) == trainings
    assert _ids(http.get("/operations", params={"symbol": "GBPUSD"})) == []
    assert _ids(http.get("/operations", params={"strategy": "other"})) == []
    rows = {r["operation_id"]: r for r in http.get("/operations").json()["data"]}
    row = rows[runs.second]
    assert (row["strategy"], row["symbols"], row["timeframes"]) == (STRATEGY, ["EURUSD"], ["1h"])
    assert row["epochs_completed"] == 3
    metrics = http.get(f"/operations/{runs.second}/metrics").json()["data"]["metrics"]
    assert row["best_val_accuracy"] == max(e["val_accuracy"] for e in metrics["epochs"])
    assert row["runner_id"] and row["completed_at"]
    assert rows[runs.dummy]["strategy"] is None


def test_compare_two_runs_gives_summaries_curves_and_the_config_diff(runs: Runs) -> None:
    response = runs.stack.http.get(
        "/operations/compare", params=[("ids", runs.first), ("ids", runs.second)]
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    first, second = data["operations"]
    assert (first["operation_id"], second["operation_id"]) == (runs.first, runs.second)
    assert (first["epochs"], second["epochs"]) == (2, 3)
    assert first["duration_seconds"] > 0
    assert 0.0 <= first["best_val_accuracy"] <= 1.0
    assert first["final"]["val_loss"] == data["metrics"][runs.first]["val_loss"][-1]
    assert data["metrics"][runs.second]["epoch"] == [1, 2, 3]
    diff = {d["path"]: d["values"] for d in data["config_diff"]}
    assert diff["inputs.epochs"] == [2, 3]
    assert diff["inputs.seed"] == [1, 2]
    assert "inputs.symbols" not in diff  # the same in both: not a difference
    assert not any(p.startswith("inputs.strategy_yaml") for p in diff)


@pytest.mark.parametrize(
    ("ids", "status", "message"),
    [
        (["{first}"], 422, "needs 2 to 5 runs (got 1)"),
        ([], 422, "needs 2 to 5 runs (got 0)"),
        (["{first}"] * 2, 422, "appear once"),
        (["{first}", "a", "b", "c", "d", "e"], 422, "needs 2 to 5 runs (got 6)"),
        (["{first}", "op_nope"], 404, "Operation not found: op_nope"),
    ],
)
def test_compare_refuses_bad_id_lists(
    runs: Runs, ids: list[str], status: int, message: str
) -> None:
    params = [("ids", i.format(first=runs.first)) for i in ids]
    response = runs.stack.http.get("/operations/compare", params=params)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def _versions(runs: Runs) -> dict[str, dict[str, Any]]:
    response = runs.stack.http.get(f"/models/{STRATEGY}/versions")
    assert response.status_code == 200, response.text
    return {row["version"]: row for row in response.json()["data"]}


def _served_by_predict(runs: Runs) -> str:
    response = runs.stack.http.post(
        "/models/predict", json={"model_name": STRATEGY, "symbol": "EURUSD"}, timeout=120
    )
    assert response.status_code == 200, response.text
    return str(response.json()["model_id"])


def test_promotion_decides_what_predict_serves_and_survives_a_restart(runs: Runs) -> None:
    http = runs.stack.http
    versions = _versions(runs)
    assert set(versions) == {"EURUSD_1h_v1", "EURUSD_1h_v2"}
    v1, v2 = versions["EURUSD_1h_v1"], versions["EURUSD_1h_v2"]
    assert (v1["operation_id"], v2["operation_id"]) == (runs.first, runs.second)
    assert v1["test_metrics"]["test_accuracy"] is not None
    # none promoted: the newest is served
    assert (v2["served"], v2["promoted"], v1["served"]) == (True, False, False)
    assert _served_by_predict(runs) == f"{STRATEGY}/EURUSD_1h_v2"

    promoted = http.post(f"/models/{STRATEGY}/promote", json={"version": "v1", "by": "alice"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["data"]["version"] == "EURUSD_1h_v1"
    assert promoted.json()["data"]["served"] is True
    [event] = [e for e in runs.events(runs.first) if e["type"] == "model_promoted"]
    assert (event["model_name"], event["version"], event["previous_version"], event["by"]) == (
        STRATEGY, "EURUSD_1h_v1", "EURUSD_1h_v2", "alice")  # fmt: skip
    assert event["subject"] == f"trainjet.ops.{runs.first}.model_promoted"
    assert _served_by_predict(runs) == f"{STRATEGY}/EURUSD_1h_v1"
    # promoting what is already promoted records nothing more
    http.post(f"/models/{STRATEGY}/promote", json={"version": "EURUSD_1h_v1"}).raise_for_status()
    assert sum(e["type"] == "model_promoted" for e in runs.events(runs.first)) == 1

    # a new training adds a version but does not take over
    third = start_training(runs.stack, epochs=2, seed=3)
    runs.finish(third)
    versions = _versions(runs)
    assert versions["EURUSD_1h_v3"]["served"] is False
    assert versions["EURUSD_1h_v1"]["served"] is versions["EURUSD_1h_v1"]["promoted"] is True
    assert _served_by_predict(runs) == f"{STRATEGY}/EURUSD_1h_v1"

    # the served version is folded from the log, so a restarted API serves the same
    runs.stack.stop_api()
    runs.stack.start_api()
    assert _versions(runs)["EURUSD_1h_v1"]["promoted"] is True
    assert _served_by_predict(runs) == f"{STRATEGY}/EURUSD_1h_v1"
    # the exact model id still means exactly that version
    by_id = http.post(
        "/models/predict",
        json={"model_name": f"{STRATEGY}/EURUSD_1h_v3", "symbol": "EURUSD"},
        timeout=120,
    )
    assert by_id.json()["model_id"] == f"{STRATEGY}/EURUSD_1h_v3"


def test_a_version_downloads_as_a_tar_gz_of_its_directory(runs: Runs) -> None:
    response = runs.stack.http.get(f"/models/{STRATEGY}/versions/EURUSD_1h_v2/archive")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/gzip"
    assert f'filename="{STRATEGY}_EURUSD_1h_v2.tar.gz"' in response.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        names = set(tar.getnames())
        assert {"model.pt", "config.json", "metrics.json", "metadata.json"} <= names
        meta = tar.extractfile("metadata.json")
        assert meta is not None and runs.second.encode() in meta.read()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/models/nope/versions", None, 404, "Model 'nope' not found"),
        ("POST", "/models/nope/promote", {"version": "v1"}, 404, "Model 'nope' not found"),
        ("POST", f"/models/{STRATEGY}/promote", {"version": "v99"}, 404, "has no version 'v99'"),
        ("POST", f"/models/{STRATEGY}/promote", {"version": "../x"}, 404, "has no version"),
        ("POST", f"/models/{STRATEGY}/promote", {}, 422, "version"),
        ("GET", f"/models/{STRATEGY}/versions/v99/archive", None, 404, "has no version 'v99'"),
        ("GET", "/models/_named/versions", None, 400, "Invalid model name"),
    ],
)
def test_unknown_models_and_versions_are_404_and_change_nothing(
    runs: Runs, method: str, path: str, body: Any, status: int, message: str
) -> None:
    before = [len(runs.events(op)) for op in (runs.first, runs.second)]
    served = {v: row["served"] for v, row in _versions(runs).items()}
    response = runs.stack.http.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert [len(runs.events(op)) for op in (runs.first, runs.second)] == before
    assert {v: row["served"] for v, row in _versions(runs).items()} == served
