"""``POST /v1/agent/act`` (JSON) and ``/v1/agent/act/upload`` (multipart): the GUI agent's next
action for a screenshot and an instruction, through the
:class:`~sensorium.deploy.rest.service.AgentService` in ``app.state.service``.

The JSON route is a plain ``def`` (FastAPI runs it in its thread pool); the multipart one
reads the form on the event loop and runs the rest in the thread pool, so the agent's compute
never blocks the loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from sensorium.deploy.rest.auth import authorise
from sensorium.deploy.rest.errors import ApiError
from sensorium.deploy.rest.images import decode_b64, decode_image
from sensorium.deploy.rest.schemas.agent import Action, ActRequest, ActResponse, ScreenInfo
from sensorium.deploy.rest.service import AgentService
from sensorium.stages.results import GuiStep

router = APIRouter()


def _service(request: Request) -> AgentService:
    return request.app.state.service


def to_response(step: GuiStep, request_id: str) -> ActResponse:
    """The API's view of a step (its JSON keys are the API: space, screen, backend at the top)."""
    actions = [Action(type=a.type.value, x=a.x, y=a.y, x2=a.x2, y2=a.y2, params=a.params, raw=a.raw) for a in step.actions]
    return ActResponse(thought=step.thought, actions=actions, raw=step.raw, space=step.space.value, screen=step.screen.to_dict(),
                       backend=step.backend, request_id=request_id)


@router.post("/v1/agent/act", response_model=ActResponse, summary="Next GUI action for a screenshot and an instruction")
def act_json(request: Request, body: ActRequest) -> ActResponse:
    """JSON body with a base64 screenshot. Actions come back in logical screen pixels."""
    authorise(request)
    service = _service(request)
    limit = service.settings.max_image_pixels
    image = decode_image(decode_b64(body.screenshot, "screenshot"), limit)
    history = [(None if item.screenshot is None else decode_image(decode_b64(item.screenshot, f"history[{i}].screenshot"), limit), item.response)
               for i, item in enumerate(body.history)]
    step = service.act(image, body.instruction, width=body.screen.width, height=body.screen.height, dpr=body.screen.dpr, history=history)
    return to_response(step, request.state.request_id)


@router.post("/v1/agent/act/upload", response_model=ActResponse, summary="The same, with the screenshot as a multipart file")
async def act_multipart(request: Request) -> ActResponse:
    form = await request.form()
    upload = form.get("screenshot")
    if upload is None or isinstance(upload, str):
        raise ApiError(422, "invalid_request", "multipart field 'screenshot' (a file) is required")
    instruction = str(form.get("instruction") or "").strip()
    if not instruction:
        raise ApiError(422, "invalid_request", "multipart field 'instruction' is required")
    data = await upload.read()

    def run() -> ActResponse:
        authorise(request)
        try:
            screen = ScreenInfo(width=form.get("screen_width") or None, height=form.get("screen_height") or None, dpr=form.get("dpr") or 1.0)
        except ValueError as exc:
            raise ApiError(422, "invalid_request", f"screen fields: {exc}") from None
        service = _service(request)
        image = decode_image(data, service.settings.max_image_pixels)
        step = service.act(image, instruction, width=screen.width, height=screen.height, dpr=screen.dpr)
        return to_response(step, request.state.request_id)

    return await run_in_threadpool(run)
