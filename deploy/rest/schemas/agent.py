"""Bodies of the GUI agent routes."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field


class ScreenInfo(BaseModel):
    """The screen the screenshot shows: logical size (CSS pixels / points) and/or device pixel ratio."""

    width: Optional[float] = Field(None, gt=0, description="Logical screen width; default: image width / dpr.")
    height: Optional[float] = Field(None, gt=0, description="Logical screen height; default: image height / dpr.")
    dpr: float = Field(1.0, gt=0, le=16, description="Device pixels per logical pixel.")


class HistoryItem(BaseModel):
    screenshot: Optional[str] = Field(None, description="Earlier screenshot, base64 PNG/JPEG.")
    response: str = Field(..., description="The model's text for that step.")


class ActRequest(BaseModel):
    screenshot: str = Field(..., description="Base64 PNG or JPEG (a data: URL prefix is allowed).")
    instruction: str = Field(..., min_length=1, max_length=4000)
    history: list[HistoryItem] = Field(default_factory=list, max_length=50)
    screen: ScreenInfo = Field(default_factory=ScreenInfo)


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
