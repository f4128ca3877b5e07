"""``/v1/streams``: live streams as a resource (add, list, inspect, delete), their results as
server-sent events and their annotated frames as an MJPEG preview.

The routes hold no stream state: they call ``app.state.streams`` (a
:class:`~sensorium.pipeline.serve.streams.client.StreamsClient`, in this process or the
``streams`` Serve deployment), whose refusals (:class:`StreamError`) carry their status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from sensorium.deploy.rest.errors import ApiError
from sensorium.deploy.rest.schemas.errors import ErrorResponse
from sensorium.deploy.rest.schemas.streams import StreamCreate, StreamList, StreamStatus
from sensorium.pipeline.serve.streams.client import LocalStreams, StreamsClient
from sensorium.pipeline.serve.streams.errors import StreamError
from sensorium.pipeline.serve.streams.metrics import StreamsCollector
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.serve.streams.spec import StreamRequest

_ERROR = {"model": ErrorResponse}
router = APIRouter(prefix="/v1/streams", tags=["streams"], responses={404: _ERROR})

BOUNDARY = "frame"
#: stream ids are the manager's own (``s-`` and hex); anything else is answered 422 before any lookup
StreamId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


def install(app: FastAPI, streams: StreamsClient | None, policy: StreamPolicy) -> None:
    """``app.state.streams`` (``streams``, else a manager in this process under ``policy``), its
    metrics on the app's registry, and its streams stopped when the app shuts down."""
    client = streams if streams is not None else LocalStreams(policy)
    app.state.streams, app.state.stream_keepalive_s = client, policy.keepalive_s
    app.state.metrics.registry.register(StreamsCollector(client.snapshot))
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with previous(a) as state:
            yield state
        await asyncio.to_thread(client.close)

    app.router.lifespan_context = lifespan


def _client(request: Request) -> StreamsClient:
    return request.app.state.streams


async def _call(coro: Any) -> Any:
    try:
        return await coro
    except StreamError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


@router.post("", status_code=201, response_model=StreamStatus, summary="Start a stream",
             responses={403: {**_ERROR, "description": "Source or sinks not allowed"}, 429: {**_ERROR, "description": "Too many streams"}})
async def create_stream(request: Request, body: StreamCreate) -> Response:
    """Checks the source and sinks against the server's policy and builds every stage option
    before anything starts; then starts the stream and answers its status (state ``starting``
    until its stages are loaded and its source delivers)."""
    req = StreamRequest(body.source, tuple(body.stages), body.options, tuple(body.sinks), body.name)
    status = StreamStatus(**await _call(_client(request).create(req)))
    return Response(status.model_dump_json(), status_code=201, media_type="application/json", headers={"Location": f"/v1/streams/{status.id}"})


@router.get("", response_model=StreamList, summary="Every stream and its health")
async def list_streams(request: Request) -> StreamList:
    return StreamList(streams=[StreamStatus(**s) for s in await _call(_client(request).list())])


@router.get("/{stream_id}", response_model=StreamStatus, summary="One stream's state, fps, frames, drops, reconnects, last error")
async def get_stream(request: Request, stream_id: StreamId) -> StreamStatus:
    return StreamStatus(**await _call(_client(request).get(stream_id)))


@router.delete("/{stream_id}", response_model=StreamStatus, summary="Stop a stream and release its actors")
async def delete_stream(request: Request, stream_id: StreamId) -> StreamStatus:
    return StreamStatus(**await _call(_client(request).delete(stream_id)))


@router.get("/{stream_id}/results", summary="The stream's results as server-sent events",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def stream_results(request: Request, stream_id: StreamId, last_event_id: str | None = Header(None, max_length=20),
                         after: int | None = Query(None, ge=0, description="Resume after this event id (as Last-Event-ID).")) -> StreamingResponse:
    """One event per frame: ``id: <seq>``, ``data: <the frame's JSONL record>``. Resumes after
    ``Last-Event-ID`` from the stream's ring buffer (older results are gone); a comment line
    keeps idle connections open; the events end when the stream is deleted or ends."""
    client = _client(request)
    await _call(client.get(stream_id))  # 404 now, not an empty event stream
    start = after if after is not None else (int(last_event_id) if last_event_id and last_event_id.isdigit() else 0)
    keepalive = request.app.state.stream_keepalive_s

    async def events() -> AsyncIterator[str]:
        seq = start
        while True:
            try:
                records, ended = await client.results(stream_id, seq, keepalive)
            except StreamError:
                return  # deleted
            for seq, record in records:
                yield f"id: {seq}\ndata: {record}\n\n"
            if ended and not records:
                return
            if not records:
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/{stream_id}/preview.mjpg", summary="The annotated frames as an MJPEG stream (for a browser)",
            response_class=StreamingResponse,
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {"schema": {"type": "string", "format": "binary"}}}}})
async def stream_preview(request: Request, stream_id: StreamId) -> StreamingResponse:
    """The frames the annotate sink draws, at most the server's preview rate; every viewer
    gets the same JPEG, encoded once in the stream's runner."""
    client = _client(request)
    await _call(client.get(stream_id))
    keepalive = request.app.state.stream_keepalive_s

    async def parts() -> AsyncIterator[bytes]:
        last = 0
        while True:
            try:
                last, jpeg, ended = await client.preview(stream_id, last, keepalive)
            except StreamError:
                return
            if jpeg is not None:
                yield b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (BOUNDARY.encode(), len(jpeg), jpeg)
            elif ended:
                return

    return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}", headers={"Cache-Control": "no-cache"})
