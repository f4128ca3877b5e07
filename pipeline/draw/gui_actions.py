"""A GUI agent's actions on its screenshot: where it clicks, drags, types and scrolls.

Actions are in screen pixels (logical); the screenshot is in device pixels, maybe resized
since. A step's :class:`~sensorium.stages.results.ScreenGeometry` says the screen's size, so
points scale by image size / screen size; a bare action (no step) is taken as image pixels.
Actions are numbered in the order they run; those without a point (hotkey, wait, finished,
...) are listed as captions at the bottom left.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.pipeline.draw.style import Color, Style, label, pt, style_for
from sensorium.stages.results import ActionType, GuiAction, GuiStep

CLICK_COLOR: Color = (255, 60, 60)
RIGHT_COLOR: Color = (255, 150, 0)
DRAG_COLOR: Color = (60, 160, 255)
TYPE_COLOR: Color = (40, 200, 120)
#: scroll arrow directions (image x, y) by ``params["direction"]``
_SCROLL = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
_COLORS = {ActionType.RIGHT_SINGLE: RIGHT_COLOR, ActionType.DRAG: DRAG_COLOR, ActionType.TYPE: TYPE_COLOR}
_CLICKS = {ActionType.CLICK, ActionType.LEFT_DOUBLE, ActionType.RIGHT_SINGLE, ActionType.LONG_PRESS}


def caption(action: GuiAction) -> str:
    """What an action does, in a few words: ``type 'hello'``, ``hotkey ctrl c``, ``scroll down``."""
    p = action.params
    arg = p.get("content") or p.get("key") or p.get("direction") or p.get("app_name") or p.get("url") or ""
    text = f"{action.type.value} {arg!r}" if action.type is ActionType.TYPE else f"{action.type.value} {arg}".strip()
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class GuiActionAnnotator:
    """Clicks as a ring and cross-hair (two rings for a double click, amber for a right click,
    filled for a long press), drags as an arrow, typed text in a box at its point (or as a
    caption), scrolls as an arrow in their direction; each tagged with its number."""

    marker_scale: float = 1.0

    def annotate(self, image: np.ndarray, result: GuiStep | GuiAction) -> np.ndarray:
        """Draw ``result`` (a step's actions, or one action) on ``image`` ((H, W, 3) uint8 RGB, in place); returns it."""
        if isinstance(result, GuiStep):
            actions, screen = result.actions, result.screen
        elif isinstance(result, GuiAction):
            actions, screen = (result,), None
        else:
            raise ValueError(f"GuiActionAnnotator: expected GuiStep or GuiAction, got {type(result).__name__}")
        h, w = image.shape[:2]
        scale = (1.0, 1.0) if screen is None or not screen.width or not screen.height else (w / screen.width, h / screen.height)
        st = style_for(image)
        captions = []
        for n, action in enumerate(actions, start=1):
            if action.x is None or not np.isfinite([action.x, action.y]).all():
                captions.append(f"{n} {caption(action)}")
                continue
            p = pt((action.x * scale[0], action.y * scale[1]))
            q = None if action.x2 is None else pt((action.x2 * scale[0], action.y2 * scale[1]))
            self._draw(image, action, n, p, q, st)
        y = h - st.pad
        for text in reversed(captions):
            label(image, text, (0, y), TYPE_COLOR, st)
            y -= st.text_height + 4 * st.pad
        return image

    def _draw(self, image: np.ndarray, action: GuiAction, n: int, p: tuple[int, int], q: tuple[int, int] | None,
              st: Style) -> None:
        r = max(4, round(min(image.shape[:2]) / 40 * self.marker_scale))
        t = action.type
        color = _COLORS.get(t, CLICK_COLOR)
        if t is ActionType.DRAG and q is not None:
            tip = min(0.3, 3 * r / max(1.0, float(np.hypot(q[0] - p[0], q[1] - p[1]))))  # a head of ~3r on long drags
            cv2.circle(image, p, r // 2, color, st.thickness, cv2.LINE_AA)
            cv2.arrowedLine(image, p, q, color, st.thickness + 1, cv2.LINE_AA, tipLength=tip)
        elif t is ActionType.SCROLL:
            dx, dy = _SCROLL.get(str(action.params.get("direction", "down")).lower(), (0, 1))
            cv2.arrowedLine(image, p, (p[0] + 3 * r * dx, p[1] + 3 * r * dy), color, st.thickness + 1, cv2.LINE_AA, tipLength=0.35)
            cv2.circle(image, p, r // 2, color, st.thickness, cv2.LINE_AA)
        else:
            cv2.circle(image, p, r, color, st.thickness + 1, cv2.LINE_AA)
            cv2.drawMarker(image, p, color, cv2.MARKER_CROSS, r, st.thickness, cv2.LINE_AA)
            if t is ActionType.LEFT_DOUBLE:
                cv2.circle(image, p, round(r * 1.6), color, st.thickness, cv2.LINE_AA)
            elif t is ActionType.LONG_PRESS:
                cv2.circle(image, p, r // 2, color, -1, cv2.LINE_AA)
        tag = f"{n} {caption(action)}" if t not in _CLICKS else f"{n} {t.value}"
        label(image, tag, (p[0] + r, p[1] - r), color, st)
