"""Bodies of ``/v1/streams``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StreamState = Literal["starting", "running", "reconnecting", "stopped", "failed"]


class StreamCreate(BaseModel):
    """A stream to start. The server's policy decides which sources and sinks are allowed."""

    model_config = ConfigDict(extra="forbid")

    source: int | str = Field(..., description="A camera index (if the operator allows cameras), an rtsp(s)/http(s) URL "
                                                "(schemes the operator allows), or an absolute path under an allowed file root.",
                              examples=["rtsp://camera.local/stream1"])
    stages: list[str] = Field(..., min_length=1, max_length=16, description="Stage names, run in this order (e.g. face, detect).")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per stage, its options as in `--set STAGE.OPTION=VALUE`.")
    sinks: list[str] = Field(default_factory=list, max_length=8, description="Sinks by name (jsonl, npz, video, ply, tsdf), written under "
                                                                              "the operator's output root; none: results over SSE only.")
    name: str | None = Field(None, max_length=100, pattern=r"^[\w .:-]*$", description="A label for people.")


class LatencyHistogram(BaseModel):
    buckets: list[float] = Field(..., description="Upper bounds, seconds.")
    counts: list[int] = Field(..., description="Frames per bucket (the last: above every bound).")
    sum: float


class StreamStatus(BaseModel):
    """A stream and its health now."""

    id: str
    name: str | None = None
    source: str = Field(..., description="The source, any password in a URL removed.")
    stages: list[str]
    sinks: list[str]
    created: float = Field(..., description="Seconds since the epoch.")
    state: StreamState
    fps: float = 0.0
    frames: int = Field(0, description="Frames emitted (results sent) so far.")
    drops: int = Field(0, description="Frames the live source dropped because the pipeline was behind.")
    reconnects: int = Field(0, description="Times the source was lost and reconnection began.")
    errors: dict[str, int] = Field(default_factory=dict, description="Frames with an error, by kind (source or stage name).")
    last_error: str | None = None
    latency: LatencyHistogram | None = Field(None, description="Capture-to-result latency.")


class StreamList(BaseModel):
    streams: list[StreamStatus]
