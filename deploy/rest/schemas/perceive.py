"""Bodies of ``/v1/perceive``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PerceiveRequest(BaseModel):
    image: str = Field(..., description="Base64 PNG, JPEG or WebP (a data: URL prefix is allowed).")
    stages: list[str] = Field(..., min_length=1, max_length=16, description="Stage names, run in this order (e.g. detect, face, embed).")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per stage, its options as in `--set STAGE.OPTION=VALUE`.")


class PerceiveResponse(BaseModel):
    """The frame as the JSONL sink writes it: every stage's result (or error), timings, and
    each depth map as its summary."""

    source_id: str
    seq: int
    timestamp: float
    image_shape: list[int] | None
    results: dict[str, Any]
    errors: dict[str, str]
    timings: dict[str, float]
    meta: dict[str, Any]
    depth: dict[str, Any] | None = None
    request_id: str
