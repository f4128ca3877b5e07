"""``POST /v1/perceive`` (JSON, base64 images) and ``/v1/perceive/upload`` (multipart files):
stages by name on one image, a stereo pair or an RGB-D pair, through the perception backend in
``app.state.perception`` (stage deployments on Ray Serve, or stages in this process).

The handlers are ``async``: decoding runs in the thread pool, the stages in the backend, so the
event loop only waits. Stage names and options are checked before anything is decoded. A stage
whose queue is full answers 503 with ``Retry-After`` (so does one whose replica died twice); a
client that has gone is not computed for (Serve cancels the handler; here, a last check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sensorium.deploy.rest.auth import authorise
from sensorium.deploy.rest.errors import ApiError
from sensorium.deploy.rest.images import decode_b64, decode_image
from sensorium.deploy.rest.schemas.errors import ErrorResponse
from sensorium.deploy.rest.schemas.perceive import PerceiveRequest, PerceiveResponse, PinholeIntrinsics, StereoCalibrationBody
from sensorium.pipeline.io.images import ImageError
from sensorium.pipeline.io.sinks.jsonl import frame_record
from sensorium.pipeline.perception import FrameInputs, decode_depth
from sensorium.pipeline.serve.errors import Overloaded, StageUnavailable
from sensorium.stages.camera import Intrinsics, StereoCalibration

router = APIRouter()

#: statuses beyond the app's common ones: a full stage queue or a dead replica
RESPONSES: dict[int | str, dict[str, Any]] = {503: {"model": ErrorResponse, "description": "A stage is at capacity or unavailable; "
                                                    "Retry-After says when to try again."}}


@dataclass(frozen=True)
class Encoded:
    """A request's inputs before decoding, whichever body they came in."""

    image: bytes
    right: bytes | None = None
    calib: StereoCalibrationBody | None = None
    depth: bytes | None = None
    depth_scale: float = 1000.0
    intrinsics: PinholeIntrinsics | None = None


def decode_inputs(enc: Encoded, max_pixels: int) -> FrameInputs:
    """Decoded, validated frame inputs; ApiError 400/413 naming the part that is wrong."""
    image = decode_image(enc.image, max_pixels, name="image")
    right = None if enc.right is None else decode_image(enc.right, max_pixels, name="right")
    h, w = image.shape[:2]
    calib: StereoCalibration | Intrinsics | None = None
    depth = None
    try:
        if enc.depth is not None:
            depth = decode_depth(enc.depth, enc.depth_scale, (h, w), max_pixels=max_pixels)
        if enc.calib is not None:
            c = enc.calib
            calib = StereoCalibration(np.array(c.K1, float), np.array(c.D1, float), np.array(c.K2, float), np.array(c.D2, float),
                                      np.array(c.R, float), np.array(c.T, float), w, h)
        elif enc.intrinsics is not None:
            i = enc.intrinsics
            calib = Intrinsics(np.array([[i.fx, 0, i.cx], [0, i.fy, i.cy], [0, 0, 1]], float), w, h)
        inputs = FrameInputs(image, right, depth, calib)
        inputs.frame()  # shapes checked now, before any stage is called
    except ImageError as exc:
        raise ApiError(413 if exc.too_large else 400, "image_too_large" if exc.too_large else "bad_image", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "bad_input", str(exc)) from None
    return inputs


def check_stages(request: Request, stages: list[str], options: dict[str, dict[str, Any]]) -> None:
    """422 naming an unknown or undeployed stage or a bad option: cheap, before anything is decoded."""
    try:
        request.app.state.perception.configs(stages, options)
    except ValueError as exc:
        raise ApiError(422, "invalid_options", str(exc)) from None


async def run_perception(request: Request, stages: list[str], options: dict[str, dict[str, Any]], enc: Encoded) -> PerceiveResponse:
    """Decode, run the (checked) stages, answer the frame as the JSONL sink writes it."""
    perception = request.app.state.perception
    inputs = await run_in_threadpool(decode_inputs, enc, request.app.state.settings.max_image_pixels)
    if await request.is_disconnected():
        raise ApiError(499, "client_closed_request", "the client closed the connection before the stages ran")
    try:
        frame = await perception.perceive(inputs, stages, options)
    except Overloaded as exc:
        raise ApiError(503, "overloaded", str(exc), headers={"Retry-After": str(max(1, round(exc.retry_after_s)))}) from None
    except StageUnavailable as exc:
        raise ApiError(503, "stage_unavailable", str(exc), headers={"Retry-After": str(max(1, round(exc.retry_after_s)))}) from None
    return PerceiveResponse(**frame_record(frame), request_id=request.state.request_id)


@router.post("/v1/perceive", response_model=PerceiveResponse, responses=RESPONSES, summary="Run stages by name on one image or pair")
async def perceive(request: Request, body: PerceiveRequest) -> PerceiveResponse:
    """The same stage classes as ``sensorium run`` and ``batch``: the same image gives the same
    results. Stage names and options are checked before the image is decoded (422 naming
    what was wrong); a stage that fails on the image reports it in ``errors``."""
    authorise(request)
    check_stages(request, body.stages, body.options)
    enc = Encoded(image=decode_b64(body.image, "image"), right=None if body.right is None else decode_b64(body.right, "right"),
                  calib=body.calib, depth=None if body.depth is None else decode_b64(body.depth, "depth"), depth_scale=body.depth_scale,
                  intrinsics=body.intrinsics)
    return await run_perception(request, body.stages, body.options, enc)


def _json_field(name: str, text: Optional[str], model: Any = None) -> Any:
    """A multipart field holding JSON: None when absent, else the value (through ``model`` if
    given); 422 naming the field when it does not parse."""
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text) if model is None else model.model_validate_json(text)
    except (ValidationError, ValueError, RecursionError) as exc:
        raise ApiError(422, "invalid_request", f"{name}: {exc}".splitlines()[0][:500]) from None


def _options(text: Optional[str]) -> dict[str, dict[str, Any]]:
    value = _json_field("options", text)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ApiError(422, "invalid_request", 'options: expected a JSON object of objects, e.g. {"detect": {"score_threshold": 0.3}}')
    return value


@router.post("/v1/perceive/upload", response_model=PerceiveResponse, responses=RESPONSES, summary="The same, with the images as multipart files")
async def perceive_upload(request: Request, image: UploadFile = File(..., description="PNG, JPEG or WebP; the left or colour image."),
                          stages: str = Form(..., max_length=256, description="Comma-separated stage names, run in this order."),
                          options: Optional[str] = Form(None, max_length=16384, description="JSON object: per stage, its options."),
                          right: Optional[UploadFile] = File(None, description="Right image of a stereo pair."),
                          calib: Optional[str] = Form(None, max_length=16384, description="JSON stereo calibration (K1 D1 K2 D2 R T)."),
                          depth: Optional[UploadFile] = File(None, description="16-bit single-channel PNG registered to image."),
                          depth_scale: float = Form(1000.0, gt=0, le=1e6, allow_inf_nan=False, description="Raw depth units per metre."),
                          intrinsics: Optional[str] = Form(None, max_length=4096, description="JSON {fx, fy, cx, cy} of the colour camera."),
                          ) -> PerceiveResponse:
    authorise(request)
    names = [s.strip() for s in stages.split(",") if s.strip()]
    if not 1 <= len(names) <= 16:
        raise ApiError(422, "invalid_request", f"stages: expected 1 to 16 comma-separated names, got {len(names)}")
    calib_body, intr = _json_field("calib", calib, StereoCalibrationBody), _json_field("intrinsics", intrinsics, PinholeIntrinsics)
    if calib_body is not None and right is None:
        raise ApiError(422, "invalid_request", "calib belongs to a stereo pair: give right as well")
    if intr is not None and depth is None:
        raise ApiError(422, "invalid_request", "intrinsics belong to an RGB-D pair: give depth as well")
    opts = _options(options)
    check_stages(request, names, opts)
    enc = Encoded(image=await image.read(), right=None if right is None else await right.read(), calib=calib_body,
                  depth=None if depth is None else await depth.read(), depth_scale=depth_scale, intrinsics=intr)
    return await run_perception(request, names, opts, enc)
