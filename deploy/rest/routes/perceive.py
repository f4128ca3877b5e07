"""``POST /v1/perceive``: stages by name on one image, answered with the frame as the JSONL sink
writes it."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sensorium.deploy.rest.auth import authorise
from sensorium.deploy.rest.errors import ApiError
from sensorium.deploy.rest.images import decode_b64, decode_image
from sensorium.deploy.rest.schemas.perceive import PerceiveRequest, PerceiveResponse
from sensorium.pipeline.io.sinks.jsonl import frame_record

router = APIRouter()


@router.post("/v1/perceive", response_model=PerceiveResponse, summary="Run stages by name on one image")
def perceive(request: Request, body: PerceiveRequest) -> PerceiveResponse:
    """The same stage classes as ``sensorium run`` and ``batch``: the same image gives the same
    results. Stage names and options are checked before the image is decoded (422 naming
    what was wrong); a stage that fails on the image reports it in ``errors``."""
    authorise(request)
    perception = request.app.state.perception
    try:
        perception.configs(body.stages, body.options)
    except ValueError as exc:
        raise ApiError(422, "invalid_options", str(exc)) from None
    image = decode_image(decode_b64(body.image, "image"), request.app.state.settings.max_image_pixels, name="image")
    frame = perception.perceive(image, body.stages, body.options)
    return PerceiveResponse(**frame_record(frame), request_id=request.state.request_id)
