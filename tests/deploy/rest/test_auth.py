"""The bearer token over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.deploy.conftest import b64, png, screen_with_button


@pytest.mark.parametrize("headers, message", [({}, "missing bearer token"), ({"Authorization": "Bearer nope"}, "wrong bearer token"),
                                              ({"Authorization": "Basic czNjcmV0"}, "missing bearer token")])
def test_auth(service, headers, message):
    r = httpx.post(service + "/v1/agent/act", headers=headers, json={"screenshot": b64(png(screen_with_button())), "instruction": "click Submit"})
    assert r.status_code == 401 and message in r.json()["error"]["message"] and r.headers["www-authenticate"] == "Bearer"
