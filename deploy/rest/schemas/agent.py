"""Bodies of the GUI agent routes."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

#: the screen sizes and pixel ratios a real display has; beyond them the coordinates are nonsense (inf, 5e11)
MAX_SCREEN_SIDE = 100_000.0
MIN_DPR, MAX_DPR = 0.1, 16.0
MAX_INSTRUCTION = 4000


class ScreenInfo(BaseModel):
    """The screen the screenshot shows: logical size (CSS pixels / points) and/or device pixel ratio.
    Finite and within what a display has: ``1e309`` (inf), ``1e-300`` and ``dpr=1e-9`` are refused."""

    model_config = ConfigDict(allow_inf_nan=False)

    width: Optional[float] = Field(None, ge=1, le=MAX_SCREEN_SIDE, description="Logical screen width; default: image width / dpr.")
    height: Optional[float] = Field(None, ge=1, le=MAX_SCREEN_SIDE, description="Logical screen height; default: image height / dpr.")
    dpr: float = Field(1.0, ge=MIN_DPR, le=MAX_DPR, description="Device pixels per logical pixel.")


class HistoryItem(BaseModel):
    screenshot: Optional[str] = Field(None, description="Earlier screenshot, base64 PNG/JPEG (decoded only for backends that show "
                                                        "the model earlier screenshots).")
    response: str = Field(..., max_length=20000, description="The model's text for that step.")


class ActRequest(BaseModel):
    screenshot: str = Field(..., description="Base64 PNG or JPEG (a data: URL prefix is allowed).")
    instruction: str = Field(..., min_length=1, max_length=MAX_INSTRUCTION)
    history: list[HistoryItem] = Field(default_factory=list, max_length=50)
    screen: ScreenInfo = Field(default_factory=ScreenInfo)


class ActForm(BaseModel):
    """The text fields of ``/v1/agent/act/upload`` (the screenshot is the file part ``screenshot``)."""

    model_config = ConfigDict(allow_inf_nan=False)

    instruction: str = Field(..., min_length=1, max_length=MAX_INSTRUCTION)
    screen_width: Optional[float] = Field(None, ge=1, le=MAX_SCREEN_SIDE, description="Logical screen width.")
    screen_height: Optional[float] = Field(None, ge=1, le=MAX_SCREEN_SIDE, description="Logical screen height.")
    dpr: float = Field(1.0, ge=MIN_DPR, le=MAX_DPR, description="Device pixels per logical pixel.")


def act_form_openapi() -> dict[str, Any]:
    """The multipart body of ``/v1/agent/act/upload`` for OpenAPI (the route reads the form
    itself, with its own limits, so FastAPI cannot derive it)."""
    schema = ActForm.model_json_schema()
    for prop in schema["properties"].values():  # a form field is absent or a value: no nulls
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        prop.update(options[0] if options else {})
        if prop.get("default", 0) is None:
            del prop["default"]
    schema["properties"] = {"screenshot": {"type": "string", "format": "binary", "description": "PNG, JPEG or WebP file."},
                            **schema["properties"]}
    schema["required"] = ["screenshot", *schema.get("required", [])]
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


class Action(BaseModel):
    type: str
    x: Optional[float] = Field(None, description="Screen pixels (logical), where the action has a point.")
    y: Optional[float] = None
    x2: Optional[float] = Field(None, description="Drag end, screen pixels.")
    y2: Optional[float] = None
    params: dict[str, Any] = Field(default_factory=dict)
    raw: str = ""


class ActResponse(BaseModel):
    thought: str
    actions: list[Action]
    raw: str
    space: str = Field(..., description="The coordinate space the backend answered in, before conversion.")
    screen: dict[str, float]
    backend: str
    request_id: str
