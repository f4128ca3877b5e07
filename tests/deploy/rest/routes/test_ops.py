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
