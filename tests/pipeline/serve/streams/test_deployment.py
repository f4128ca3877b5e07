"""The ``streams`` Serve deployment on a real local Ray Serve, reached the way the ingress
reaches it: a deployment handle wrapped in ``ServeStreams``."""

from __future__ import annotations

import asyncio
import time

import pytest

from sensorium.pipeline.serve.streams.client import ServeStreams
from sensorium.pipeline.serve.streams.deployment import DEPLOYMENT_NAME, streams_deployment
from sensorium.pipeline.serve.streams.errors import StreamError
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.serve.streams.spec import StreamRequest

pytestmark = pytest.mark.slow

FACE = {"face": {"recognizer": "none", "threads": 1, "keep_chips": False}}


@pytest.fixture(scope="module")
def handle(ray_cluster, data_dir):
    from ray import serve

    serve.start(proxy_location="Disabled")
    policy = StreamPolicy(file_roots=(str(data_dir / "video"),), max_streams=1)
    yield serve.run(streams_deployment(policy), name="streams-test", route_prefix=None)
    serve.shutdown()


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
