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


class _Loading:
    """A perception backend in the middle of loading its models (what ``ready()`` may answer: a
    bool or a dict of bools)."""

    def __init__(self, state) -> None:
        self.state = state

    def ready(self):
        return self.state


def test_readyz_says_what_is_not_ready(local_agent):
    from sensorium.deploy.settings import ServiceSettings
    from tests.deploy.conftest import running

    loading = _Loading({"detect": False, "face": True})
    with running(ServiceSettings(token="t"), local_agent, perception=loading) as url:
        r = httpx.get(url + "/readyz", timeout=10)  # open: probes carry no token
        assert r.status_code == 503 and r.json() == {"ready": False, "not_ready": ["perception.detect"],
                                                     "checks": {"perception.detect": False, "perception.face": True}}
        loading.state = {"detect": True, "face": True}
        assert httpx.get(url + "/readyz", timeout=10).status_code == 200
        loading.state = False
        assert httpx.get(url + "/readyz", timeout=10).json()["not_ready"] == ["perception"]


def test_readyz_without_ready_methods_is_ready(service):
    r = httpx.get(service + "/readyz", timeout=10)
    assert r.status_code == 200 and r.json()["ready"] is True
