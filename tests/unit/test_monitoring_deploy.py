"""The optional monitoring stack: Prometheus scrapes the API's /metrics and Grafana opens the
trainjet dashboard, both only under the compose profile `monitoring`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_monitoring_services_are_behind_their_profile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    assert not any("monitoring" in s.get("profiles", []) for n, s in services.items()
                   if n not in ("prometheus", "grafana"))  # fmt: skip
    mounts = " ".join(services["grafana"]["volumes"])
    assert "deploy/grafana/trainjet.json" in mounts
    for volume in [*services["prometheus"]["volumes"], *services["grafana"]["volumes"]]:
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source


def test_prometheus_scrapes_the_api_metrics_endpoint() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["api:8000"]


def test_the_dashboard_loads_and_queries_prometheus() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "trainjet.json").read_text())
    assert dashboard["uid"] == "trainjet" and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["type"] == "prometheus"
        assert panel["targets"] and all("trainjet_" in t["expr"] for t in panel["targets"])
