"""Health, metrics and the OpenAPI document over real HTTP."""

from __future__ import annotations

import httpx

from tests.deploy.conftest import AUTH


def test_metrics_and_openapi(service):
    httpx.get(service + "/healthz", timeout=5)
    text = httpx.get(service + "/metrics", headers=AUTH, timeout=5).text
    assert 'sensorium_http_requests_total{path="/healthz",status="200"}' in text  # labelled by route, not by raw URL
    spec = httpx.get(service + "/openapi.json", headers=AUTH).json()
    assert "/v1/agent/act" in spec["paths"] and "ActRequest" in spec["components"]["schemas"]


def test_readyz_says_what_is_not_ready(local_agent):
    """The real in-process backend: 503 naming the stage until its model is loaded, then 200."""
    from sensorium.deploy.settings import ServiceSettings
    from sensorium.pipeline.serve.local import LocalPerception
    from tests.deploy.conftest import running

    perception = LocalPerception(["detect"])
    with running(ServiceSettings(token="t"), local_agent, perception=perception) as url:
        r = httpx.get(url + "/readyz", timeout=10)  # open: probes carry no token
        assert r.status_code == 503 and r.json() == {"ready": False, "not_ready": ["perception.detect"], "checks": {"perception.detect": False}}
        perception.load()
        r = httpx.get(url + "/readyz", timeout=10)
        assert r.status_code == 200 and r.json()["checks"] == {"perception.detect": True}


def test_readyz_without_ready_methods_is_ready(service):
    r = httpx.get(service + "/readyz", timeout=10)
    assert r.status_code == 200 and r.json()["ready"] is True
