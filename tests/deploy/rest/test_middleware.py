"""What wraps every request, over real HTTP: the body cap (by header and as a chunked body
streams), UTF-8 and depth checks on JSON, the rate limit, the request id, errors by code, and
one access line per request."""

from __future__ import annotations

import json
import logging
import socket

import httpx
import numpy as np
import pytest

from sensorium.deploy.settings import ServiceSettings
from tests.deploy.conftest import AUTH, b64, png, running


def test_oversized_body_is_refused_before_it_is_read(service):
    r = httpx.post(service + "/v1/agent/act", headers={**AUTH, "content-type": "application/json"}, content=b"{" + b" " * (5 * 1024 * 1024) + b"}")
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def _raw(url: str, request: bytes) -> tuple[int, dict]:
    """Send ``request`` bytes on a fresh connection; the status and the JSON body that come back."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
                [h for h in data.split(b"\r\n") if h.lower().startswith(b"content-length:")][0].split(b":")[1]):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def test_a_chunked_body_over_the_limit_is_413_with_the_envelope(local_agent):
    with running(ServiceSettings(max_body_bytes=2048), local_agent) as url:
        chunk = b'"' + b"a" * 998 + b'"'
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
        status, err = _raw(url, b"POST /v1/agent/act HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body)
        assert status == 413 and err["error"]["code"] == "body_too_large" and err["error"]["request_id"], err
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize("content, status, code, message", [
    (b'{"screenshot": "\xff\xfe", "instruction": "x"}', 400, "invalid_encoding", "not valid UTF-8"),
    (b"[" * 1000 + b"]" * 1000, 400, "too_deep", "nests 1000 levels deep; the limit is 64"),
    # brackets inside strings (escaped quotes too) are not nesting: this body gets as far as the image
    (b'{"screenshot": "\\"[[[[", "instruction": "' + b"{" * 500 + b'"}', 400, "bad_image", "screenshot: not valid base64"),
    (b'{"screenshot": ', 422, "invalid_request", "JSON decode error"),
])
def test_json_bodies_are_checked_before_they_are_parsed(service, content, status, code, message):
    r = httpx.post(service + "/v1/agent/act", headers={**AUTH, "content-type": "application/json"}, content=content, timeout=30)
    assert r.status_code == status and r.json()["error"]["code"] == code and message in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("method, path, status, code", [("GET", "/nowhere", 404, "not_found"), ("GET", "/v1/agent/act", 405, "method_not_allowed"),
                                                         ("DELETE", "/healthz", 405, "method_not_allowed")])
def test_router_errors_answer_the_envelope(service, method, path, status, code):
    r = httpx.request(method, service + path, headers=AUTH, timeout=10)
    assert r.status_code == status and set(r.json()) == {"error"} and r.json()["error"]["code"] == code and r.json()["error"]["request_id"]


def test_rate_limit(local_agent):
    # one token per 10 s: the OCR agent's own time (seconds on a cold start) cannot refill the bucket mid-test
    with running(ServiceSettings(rate_limit_per_minute=6, rate_limit_burst=2), local_agent) as url:
        body = {"screenshot": b64(png(np.full((64, 64, 3), 255, np.uint8))), "instruction": "scroll down"}
        codes = [httpx.post(url + "/v1/agent/act", json=body, timeout=30).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        r = httpx.post(url + "/v1/agent/act", json=body, timeout=30)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 10 and r.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("sent, kept", [("abc-123", True), ("A.b_c-9" * 9, True), ("x" * 65, False), ("a b", False), ("id\\nforged", False),
                                        ("<script>", False), ("", False)])
def test_the_clients_request_id_comes_back_only_when_safe(service, sent, kept):
    r = httpx.get(service + "/healthz", headers={"x-request-id": sent}, timeout=5)
    got = r.headers["x-request-id"]
    assert r.status_code == 200 and (got == sent if kept else (got != sent and len(got) == 12 and got.isalnum()))


def test_errors_are_counted_by_code_and_logged_one_json_line_per_request(local_agent, capfd):
    with running(ServiceSettings(token="t", log_format="json"), local_agent) as url:
        httpx.post(url + "/v1/agent/act", json={}, headers={"x-request-id": "req-1"}, timeout=10)
        httpx.post(url + "/v1/agent/act", json={}, headers={"Authorization": "Bearer t", "x-request-id": "req-2"}, timeout=10)
        metrics = httpx.get(url + "/metrics", headers={"Authorization": "Bearer t"}, timeout=10).text
    assert 'sensorium_http_errors_total{code="unauthorized"} 1.0' in metrics
    assert 'sensorium_http_errors_total{code="invalid_request"} 1.0' in metrics
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{") and '"sensorium.access"' in line]
    by_id = {line["request_id"]: line for line in lines}
    assert by_id["req-1"]["status"] == 401 and by_id["req-1"]["error"] == "unauthorized" and by_id["req-1"]["client"] == "127.0.0.1"
    assert by_id["req-2"]["route"] == "/v1/agent/act" and by_id["req-2"]["status"] == 422 and by_id["req-2"]["client"] == "token:default"
    assert by_id["req-2"]["method"] == "POST" and by_id["req-2"]["duration_ms"] >= 0 and by_id["req-2"]["level"] == "INFO"
    logging.getLogger("sensorium.access").handlers.clear()


def test_rate_limiter_refills_at_its_rate():
    from sensorium.deploy.rest.middleware import RateLimiter

    limiter = RateLimiter(per_minute=60, burst=2)
    assert [limiter.take("a") for _ in range(2)] == [0.0, 0.0]
    wait = limiter.take("a")
    assert 0.9 < wait <= 1.0  # one request per second refills the bucket
    assert limiter.take("b") == 0.0 and limiter.wait("b") == 0.0  # per client; wait does not take


def test_rate_limiter_forgets_full_buckets_past_its_size():
    from sensorium.deploy.rest.middleware import RateLimiter

    limiter = RateLimiter(per_minute=1e9, burst=1, max_clients=100)  # refills at once: every bucket is full again
    for i in range(1000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) <= 101


@pytest.mark.parametrize("obj, depth", [({"a": [[["x"]]]}, 4), ({"s": "[[[{{{"}, 1), ({"s": '\\"[[[', "t": [1]}, 2), ({"s": "\\", "t": [[1]]}, 3),
                                        ([], 1), ({}, 1), ("[", 0), ({'k"[': {"x": "]]]]"}}, 2), (1, 0)])
def test_json_depth_counts_brackets_outside_strings(obj, depth):
    from sensorium.deploy.rest.middleware import json_depth

    assert json_depth(json.dumps(obj).encode()) == depth
