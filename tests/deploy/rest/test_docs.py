"""The API docs render with no network but loopback: headless Chromium (Debian's, driven by
Playwright as in tests/e2e) loads /docs and /redoc with every other request aborted, and the
operations show."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest

from tests.deploy.conftest import AUTH



def _offline_page(browser, blocked: list[str]):
    ctx = browser.new_context(extra_http_headers=AUTH)  # the docs need the admin scope when tokens are set

    def only_loopback(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_loopback)
    return ctx, ctx.new_page()


@pytest.mark.slow
def test_swagger_ui_and_redoc_render_offline(service, browser):
    blocked: list[str] = []
    ctx, page = _offline_page(browser, blocked)
    try:
        page.goto(service + "/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = {e.inner_text().replace("\u200b", "") for e in page.query_selector_all(".opblock-summary-path")}
        assert {"/v1/agent/act", "/v1/agent/act/upload", "/v1/perceive", "/readyz"} <= paths, paths
        page.goto(service + "/redoc")
        page.wait_for_selector("h2:has-text(\"Next GUI action for a screenshot\")", timeout=30_000)  # ReDoc titles operations by summary
    finally:
        ctx.close()
    assert not blocked, f"the docs reached out of the machine: {blocked}"
    assert httpx.get(service + "/docs", timeout=10).status_code == 401  # and they need a token here
