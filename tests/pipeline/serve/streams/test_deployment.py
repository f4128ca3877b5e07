"""The ``streams`` Serve deployment on a real local Ray Serve, reached the way the ingress
reaches it (a deployment handle wrapped in ``ServeStreams``), and over HTTP through a tiny
ingress of the test's own that serves ``create_app(..., streams=ServeStreams(handle))``."""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx
import pytest

from sensorium.deploy.rest.app import create_app
from sensorium.deploy.settings import ServiceSettings
from sensorium.stages.gui.stage import GuiAgentStage

from sensorium.pipeline.serve.streams.client import ServeStreams
from sensorium.pipeline.serve.streams.deployment import DEPLOYMENT_NAME, streams_deployment
from sensorium.pipeline.serve.streams.errors import StreamError
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.serve.streams.spec import StreamRequest

from tests.deploy.conftest import free_port

pytestmark = pytest.mark.slow
# Serve gives its HTTP proxy 5 s to report ready; on a loaded 2-core machine that is too short
os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")

FACE = {"face": {"recognizer": "none", "threads": 1, "keep_chips": False}}


class Ingress:
    """The test's ingress: the service app, its streams behind the ``streams`` deployment's handle."""

    def __init__(self, streams, policy: StreamPolicy) -> None:
        self.streams, self.policy = streams, policy

    def __serve_build_asgi_app__(self):
        return create_app(ServiceSettings(streams=self.policy), GuiAgentStage(), streams=ServeStreams(self.streams), request_id_header=False)


@pytest.fixture(scope="module")
def served(ray_cluster, data_dir):
    """(the ``streams`` handle, the HTTP base URL) of an application of the ingress and the deployment."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    policy = StreamPolicy(file_roots=(str(data_dir / "video"),), max_streams=1, keepalive_s=1.0)
    ingress = serve.deployment(name="api", ray_actor_options={"num_cpus": 0})(serve.ingress()(Ingress))
    serve.run(ingress.bind(streams_deployment(policy), policy), name="streams-test", route_prefix="/")
    yield serve.get_deployment_handle(DEPLOYMENT_NAME, app_name="streams-test"), f"http://127.0.0.1:{port}"
    serve.shutdown()


@pytest.fixture(scope="module")
def handle(served):
    return served[0]


async def _until(what: str, check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


def test_a_stream_through_the_deployment_handle(handle, data_dir):
    assert handle.deployment_name == DEPLOYMENT_NAME
    client = ServeStreams(handle)

    async def scenario() -> None:
        with pytest.raises(StreamError) as info:
            await client.create(StreamRequest("file:///etc/passwd", ("face",)))
        assert info.value.status == 403 and "file:// URLs are not accepted" in info.value.message
        status = await client.create(StreamRequest(str(data_dir / "video" / "short_hamilton_clip.mp4"), ("face",), FACE))
        sid = status["id"]
        with pytest.raises(StreamError) as info:  # the limit is one
            await client.create(StreamRequest(str(data_dir / "video" / "vtest.avi"), ("face",), FACE))
        assert info.value.status == 429
        records, _ = await client.results(sid, 0, 60.0)
        assert records and records[0][0] == 1 and '"kind":"faces"' in records[0][1]
        await _until("frames counted", lambda: _frames(client, sid))
        assert [s["id"] for s in await client.list()] == [sid]
        assert [s["id"] for s in await asyncio.to_thread(client.snapshot)] == [sid]
        final = await client.delete(sid)
        assert final["state"] == "stopped" and final["frames"] >= 1
        assert await client.list() == []
        with pytest.raises(StreamError) as info:
            await client.get(sid)
        assert info.value.status == 404

    asyncio.run(scenario())


async def _frames(client: ServeStreams, sid: str) -> int:
    return (await client.get(sid))["frames"]


def test_streams_over_http_through_the_serve_proxy(served, data_dir):
    _, url = served
    r = httpx.post(url + "/v1/streams", json={"source": "/etc/passwd", "stages": ["face"]}, timeout=60)
    assert r.status_code == 403 and "outside the allowed file roots" in r.json()["error"]["message"]
    body = {"source": str(data_dir / "video" / "short_hamilton_clip.mp4"), "stages": ["face"], "options": FACE}
    r = httpx.post(url + "/v1/streams", json=body, timeout=180)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    with httpx.stream("GET", f"{url}/v1/streams/{sid}/results", timeout=120) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        for line in events.iter_lines():
            if line.startswith("data: "):
                assert json.loads(line[6:])["results"]["face"]["kind"] == "faces"
                break
    assert "sensorium_stream_frames_total" in httpx.get(url + "/metrics", timeout=60).text
    assert httpx.delete(f"{url}/v1/streams/{sid}", timeout=60).json()["state"] == "stopped"
    assert httpx.get(url + "/v1/streams", timeout=60).json() == {"streams": []}
