"""Executing GUI agent actions in a browser through Playwright (opt-in: the service itself
never executes anything).

Actions arrive in screen pixels, which for a browser page are CSS pixels of the viewport,
exactly what Playwright's mouse takes, whatever the device scale factor: no conversion here.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from sensorium.stages.results import GuiAction

log = logging.getLogger(__name__)

_KEYS = {"ctrl": "Control", "control": "Control", "alt": "Alt", "shift": "Shift", "enter": "Enter", "return": "Enter", "tab": "Tab",
         "esc": "Escape", "escape": "Escape", "backspace": "Backspace", "delete": "Delete", "del": "Delete", "space": "Space",
         "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight", "home": "Home", "end": "End",
         "pageup": "PageUp", "pagedown": "PageDown", "cmd": "Meta", "command": "Meta", "meta": "Meta", "win": "Meta", "super": "Meta",
         "insert": "Insert", **{f"f{i}": f"F{i}" for i in range(1, 13)}}

#: actions that end a task rather than change the page
TERMINAL = ("finished", "call_user")


def playwright_key(key: str) -> str:
    """UI-TARS ``hotkey(key='ctrl shift t')`` → Playwright's ``Control+Shift+t``."""
    parts = [p for p in key.lower().split() if p]
    if not parts:
        raise ValueError("empty hotkey")
    return "+".join(_KEYS.get(p, p) for p in parts)


class PlaywrightExecutor:
    """Runs actions on a Playwright (sync API) ``page``. scroll_px: wheel distance per scroll."""

    def __init__(self, page: Any, *, scroll_px: int = 500, wait_ms: int = 1000) -> None:
        self.page, self.scroll_px, self.wait_ms = page, scroll_px, wait_ms

    def run(self, actions: Iterable[GuiAction]) -> str | None:
        """Execute in order; returns the type of a terminal action (finished/call_user) if one came."""
        for a in actions:
            if a.type in TERMINAL:
                return a.type
            self.execute(a)
        return None

    def execute(self, a: GuiAction) -> None:
        p, mouse = self.page, self.page.mouse
        if a.type == "click":
            mouse.click(a.x, a.y)
        elif a.type == "left_double":
            mouse.dblclick(a.x, a.y)
        elif a.type == "right_single":
            mouse.click(a.x, a.y, button="right")
        elif a.type == "long_press":
            mouse.move(a.x, a.y)
            mouse.down()
            p.wait_for_timeout(800)
            mouse.up()
        elif a.type == "drag":
            mouse.move(a.x, a.y)
            mouse.down()
            mouse.move(a.x2, a.y2, steps=10)
            mouse.up()
        elif a.type == "type":
            content = a.params["content"]
            text = content[:-1] if content.endswith("\n") else content
            p.keyboard.type(text)
            if content.endswith("\n"):
                p.keyboard.press("Enter")
        elif a.type == "hotkey":
            p.keyboard.press(playwright_key(a.params["key"]))
        elif a.type == "scroll":
            if a.x is not None:
                mouse.move(a.x, a.y)
            dx, dy = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[a.params["direction"]]
            mouse.wheel(dx * self.scroll_px, dy * self.scroll_px)
            p.wait_for_timeout(150)  # let smooth scrolling settle before the next screenshot
        elif a.type == "wait":
            p.wait_for_timeout(self.wait_ms)
        elif a.type == "navigate":
            p.goto(a.params["url"])
        elif a.type == "navigate_back":
            p.go_back()
        else:
            raise ValueError(f"action {a.type!r} has no meaning in a browser")
