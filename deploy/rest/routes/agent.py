"""``POST /v1/agent/act`` (JSON) and ``/v1/agent/act/upload`` (multipart): the GUI agent's next
action for a screenshot and an instruction, through the
:class:`~sensorium.deploy.rest.service.AgentService` in ``app.state.service``.

Authentication happened before the body was read (``auth.py``). Here, in order: every image's
declared size is checked from its header (per image and per request) before any is decoded,
history screenshots are decoded only when the backend shows them to the model, the request
waits its turn on the event loop, and a client that has left by then is not computed for.
Decoding and the agent run in the thread pool, never on the loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from sensorium.deploy.rest.errors import ApiError
from sensorium.deploy.rest.images import check_request_pixels, decode_b64, decode_image
from sensorium.deploy.rest.schemas.agent import Action, ActForm, ActRequest, ActResponse, act_form_openapi
from sensorium.deploy.rest.service import AgentService
from sensorium.stages.results import GuiStep

router = APIRouter()
#: the multipart form's limits: one file, a few text fields, each text field small
FORM_LIMITS = {"max_files": 1, "max_fields": 8, "max_part_size": 64 * 1024}


def _service(request: Request) -> AgentService:
    return request.app.state.service


def to_response(step: GuiStep, request_id: str) -> ActResponse:
    """The API's view of a step (its JSON keys are the API: space, screen, backend at the top)."""
    actions = [Action(type=a.type.value, x=a.x, y=a.y, x2=a.x2, y2=a.y2, params=a.params, raw=a.raw) for a in step.actions]
    return ActResponse(thought=step.thought, actions=actions, raw=step.raw, space=step.space.value, screen=step.screen.to_dict(),
                       backend=step.backend, request_id=request_id)


def _encoded(body: ActRequest, keep_history: int) -> tuple[bytes, list[tuple[bytes | None, str]]]:
    """The screenshot's bytes and the history's, only for the last ``keep_history`` items that have one."""
    first_kept = len(body.history) - keep_history
    history = [(decode_b64(item.screenshot, f"history[{i}].screenshot") if item.screenshot is not None and i >= first_kept else None,
                item.response) for i, item in enumerate(body.history)]
    return decode_b64(body.screenshot, "screenshot"), history


async def _run(request: Request, screenshot: bytes, instruction: str, width: float | None, height: float | None, dpr: float,
               history: list[tuple[bytes | None, str]]) -> ActResponse:
    """Check the pixels from the headers, wait for the agent, and compute unless the client left."""
    service, settings = _service(request), request.app.state.settings
    named = [("screenshot", screenshot)] + [(f"history[{i}].screenshot", data) for i, (data, _) in enumerate(history) if data is not None]
    await run_in_threadpool(check_request_pixels, named, settings.max_image_pixels, settings.max_request_pixels)
    async with service.slot():
        if await request.is_disconnected():
            raise ApiError(499, "client_closed_request", "the client closed the connection before the agent started")

        def compute() -> ActResponse:
            limit = settings.max_image_pixels
            image = decode_image(screenshot, limit)
            past = [(None if data is None else decode_image(data, limit, name=f"history[{i}].screenshot"), text)
                    for i, (data, text) in enumerate(history)]
            step = service.act(image, instruction, width=width, height=height, dpr=dpr, history=past)
            return to_response(step, request.state.request_id)

        return await run_in_threadpool(compute)


@router.post("/v1/agent/act", response_model=ActResponse, summary="Next GUI action for a screenshot and an instruction")
async def act_json(request: Request, body: ActRequest) -> ActResponse:
    """JSON body with a base64 screenshot. Actions come back in logical screen pixels."""
    screenshot, history = await run_in_threadpool(_encoded, body, _service(request).history_images)
    return await _run(request, screenshot, body.instruction, body.screen.width, body.screen.height, body.screen.dpr, history)


@router.post("/v1/agent/act/upload", response_model=ActResponse, summary="The same, with the screenshot as a multipart file",
             openapi_extra=act_form_openapi())
async def act_multipart(request: Request) -> ActResponse:
    """Multipart form: the file ``screenshot`` and the text fields of :class:`ActForm`."""
    try:
        form = await request.form(**FORM_LIMITS)
    except HTTPException as exc:  # Starlette's parser: too many fields or files, a part too large, not multipart
        status = 413 if any(w in str(exc.detail) for w in ("Too many", "exceeded maximum size")) else 400
        raise ApiError(status, "form_too_large" if status == 413 else "bad_form", f"multipart form: {exc.detail}") from None
    upload = form.get("screenshot")
    if upload is None or isinstance(upload, str):
        raise ApiError(422, "invalid_request", "multipart field 'screenshot' (a file) is required")
    try:
        fields = ActForm(**{k: v for k, v in form.items() if k != "screenshot" and isinstance(v, str) and v != ""})
    except ValidationError as exc:
        parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ApiError(422, "invalid_request", "; ".join(parts)) from None
    data = await upload.read()
    return await _run(request, data, fields.instruction, fields.screen_width, fields.screen_height, fields.dpr, [])
