"""Authentication over real HTTP: every route in the OpenAPI answers 401 without a token or with
a wrong one and 403 with a token lacking its scope, all before the body is read; failed
attempts are rate-limited per address; the operator pages need ``admin`` unless ``public_ops``."""

from __future__ import annotations

import socket

import httpx
import pytest

from sensorium.deploy.rest.auth import ANY, OPEN, required_scope
from sensorium.deploy.settings import ServiceSettings
from sensorium.deploy.tokens import SCOPES, TokenRecord, hash_token, write_records
from tests.deploy.conftest import b64, png, running, screen_with_button

#: the documented mapping: path prefix → scope (the matrix reads the routes from the OpenAPI)
EXPECTED = (("/v1/perceive", "perceive"), ("/v1/agent", "agent"), ("/v1/streams", "streams"))
OPEN_PATHS = {"/healthz", "/readyz"}


def _scope_of(path: str) -> str:
    return next((scope for prefix, scope in EXPECTED if path.startswith(prefix)), "admin" if path == "/metrics" else "any")


def _token(scopes: tuple[str, ...]) -> str:
    return "tok-" + "-".join(scopes)


@pytest.fixture(scope="module")
def scoped(local_agent, tmp_path_factory):
    """A service with a tokens file: one token per scope and one lacking each scope."""
    path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    sets = [(s,) for s in SCOPES] + [tuple(x for x in SCOPES if x != s) for s in SCOPES]
    write_records(path, [TokenRecord("t" + str(i), hash_token(_token(s)), s) for i, s in enumerate(sets)])
    settings = ServiceSettings(tokens_file=str(path), auth_failures_per_minute=100_000, rate_limit_per_minute=100_000, rate_limit_burst=10_000)
    with running(settings, local_agent) as url:
        yield url


def _operations(url: str) -> list[tuple[str, str]]:
    admin = {"Authorization": f"Bearer {_token(('admin',))}"}
    spec = httpx.get(url + "/openapi.json", headers=admin, timeout=10).json()
    ops = [(path, method.upper()) for path, item in spec["paths"].items() for method in item if method in ("get", "post", "put", "patch", "delete")]
    assert ("/v1/agent/act", "POST") in ops and ("/v1/perceive", "POST") in ops
    return ops


def test_every_route_refuses_a_missing_wrong_or_underscoped_token_before_the_body(scoped):
    body = b'{"this is": not json at all'  # a route that read or parsed it would answer 400/422, not 401/403
    for path, method in _operations(scoped):
        url = scoped + path.replace("{", "").replace("}", "")  # path parameters: any value; auth comes first
        send = lambda headers: httpx.request(method, url, headers={"content-type": "application/json", **headers}, content=body, timeout=30)  # noqa: E731
        if path in OPEN_PATHS:
            assert send({}).status_code in (200, 503), path
            continue
        scope = _scope_of(path)
        for headers, message in [({}, "missing bearer token"), ({"Authorization": "Bearer wrong"}, "wrong bearer token"),
                                 ({"Authorization": f"Basic {_token(SCOPES)}"}, "missing bearer token")]:
            r = send(headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (method, path, r.text)
            assert message in r.json()["error"]["message"] and r.json()["error"]["request_id"]
        if scope != "any":
            lacking = tuple(s for s in SCOPES if s != scope)
            r = send({"Authorization": f"Bearer {_token(lacking)}"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden" and scope in r.json()["error"]["message"], (method, path)
            r = send({"Authorization": f"Bearer {_token((scope,))}"})
            assert r.status_code not in (401, 403), (method, path, r.text)


@pytest.mark.parametrize("path", ["/metrics", "/docs", "/redoc", "/openapi.json", "/static-offline-docs/swagger-ui.css"])
def test_operator_pages_need_admin(scoped, path):
    assert httpx.get(scoped + path, timeout=10).status_code == 401
    assert httpx.get(scoped + path, headers={"Authorization": f"Bearer {_token(('perceive', 'agent', 'streams'))}"}, timeout=10).status_code == 403
    assert httpx.get(scoped + path, headers={"Authorization": f"Bearer {_token(('admin',))}"}, timeout=10).status_code == 200


def test_public_ops_leaves_operator_pages_open_but_not_the_work(local_agent):
    with running(ServiceSettings(token="t0k", public_ops=True), local_agent) as url:
        assert httpx.get(url + "/metrics", timeout=10).status_code == 200
        assert httpx.get(url + "/openapi.json", timeout=10).status_code == 200
        assert httpx.post(url + "/v1/agent/act", json={}, timeout=10).status_code == 401


def test_401_without_waiting_for_the_body(scoped):
    """Headers announcing 1000 bytes and no body sent: the answer comes anyway (a server that read
    the body first would wait for it and the read below would time out)."""
    host, port = scoped.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as s:
        s.sendall(b"POST /v1/agent/act HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        head = s.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 401") and "www-authenticate: bearer" in head.lower()


def test_failed_authentication_is_rate_limited_per_address(local_agent):
    body = {"screenshot": b64(png(screen_with_button())), "instruction": "click Submit"}
    with running(ServiceSettings(token="right", auth_failures_per_minute=3), local_agent) as url:
        codes = [httpx.post(url + "/v1/agent/act", json=body, headers={"Authorization": f"Bearer guess{i}"}, timeout=30).status_code
                 for i in range(4)]
        assert codes == [401, 401, 401, 429]
        r = httpx.post(url + "/v1/agent/act", json=body, headers={"Authorization": "Bearer right"}, timeout=30)
        # even the right token waits: a guesser must not learn which guess was right while locked out
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_auth_failures" and 1 <= int(r.headers["retry-after"]) <= 20
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200  # probes stay open


@pytest.mark.parametrize("path, public_ops, scope", [
    ("/v1/perceive", False, "perceive"), ("/v1/perceive/upload", False, "perceive"), ("/v1/agent/act/upload", False, "agent"),
    ("/v1/streams/abc/results", False, "streams"), ("/metrics", False, "admin"), ("/metrics", True, OPEN), ("/docs/oauth2-redirect", False, "admin"),
    ("/docsx", False, ANY), ("/healthz", False, OPEN), ("/readyz", True, OPEN), ("/nowhere", False, ANY),
])
def test_required_scope(path, public_ops, scope):
    assert required_scope(path, public_ops) == scope


def test_a_revoked_token_stops_working_without_a_restart(local_agent, tmp_path):
    import os

    path = tmp_path / "tokens.json"
    write_records(path, [TokenRecord("ops", hash_token("tok-ops"), ("admin",))])
    with running(ServiceSettings(tokens_file=str(path)), local_agent) as url:
        auth = {"Authorization": "Bearer tok-ops"}
        assert httpx.get(url + "/metrics", headers=auth, timeout=10).status_code == 200
        write_records(path, [])
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a distinct stamp even on a coarse clock
        assert httpx.get(url + "/metrics", headers=auth, timeout=10).status_code == 401
