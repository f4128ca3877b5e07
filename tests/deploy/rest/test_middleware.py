"""What wraps every request: the body cap, the rate limit, the request id."""

from __future__ import annotations

import httpx
import numpy as np

from sensorium.deploy.settings import ServiceSettings
from tests.deploy.conftest import AUTH, b64, png, running


def test_oversized_body_is_refused_before_it_is_read(service):
    r = httpx.post(service + "/v1/agent/act", headers={**AUTH, "content-type": "application/json"}, content=b"{" + b" " * (5 * 1024 * 1024) + b"}")
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_rate_limit(local_agent):
    # one token per 10 s: the OCR agent's own time (seconds on a cold start) cannot refill the bucket mid-test
    with running(ServiceSettings(rate_limit_per_minute=6, rate_limit_burst=2), local_agent) as url:
        body = {"screenshot": b64(png(np.full((64, 64, 3), 255, np.uint8))), "instruction": "scroll down"}
        codes = [httpx.post(url + "/v1/agent/act", json=body, timeout=30).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        r = httpx.post(url + "/v1/agent/act", json=body, timeout=30)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 10 and r.json()["error"]["code"] == "rate_limited"


def test_the_clients_request_id_comes_back(service):
    r = httpx.get(service + "/healthz", headers={"x-request-id": "abc-123"}, timeout=5)
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc-123"
    assert len(httpx.get(service + "/healthz", timeout=5).headers["x-request-id"]) == 12  # a new one otherwise


def test_rate_limiter_refills_at_its_rate():
    from sensorium.deploy.rest.middleware import RateLimiter

    limiter = RateLimiter(per_minute=60, burst=2)
    assert [limiter.take("a") for _ in range(2)] == [0.0, 0.0]
    wait = limiter.take("a")
    assert 0.9 < wait <= 1.0  # one request per second refills the bucket
    assert limiter.take("b") == 0.0  # per client
