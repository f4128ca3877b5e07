"""Executing GUI agent actions (opt-in: the service itself never executes anything): in a
browser through Playwright, or on the desktop through pyautogui.

Actions arrive in screen pixels. For a browser page those are CSS pixels of the viewport,
exactly what Playwright's mouse takes, whatever the device scale factor; on a desktop they
are the pixels pyautogui counts (``pyautogui.size()``), so the agent must be asked with that
screen size. Either way there is no conversion here: coordinates have one place to go wrong,
``stages/gui/coords.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from functools import partial
from typing import Any, Callable, Iterable

from sensorium.stages.results.gui import ActionType, GuiAction

log = logging.getLogger(__name__)

_KEYS = {"ctrl": "Control", "control": "Control", "alt": "Alt", "shift": "Shift", "enter": "Enter", "return": "Enter", "tab": "Tab",
         "esc": "Escape", "escape": "Escape", "backspace": "Backspace", "delete": "Delete", "del": "Delete", "space": "Space",
         "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight", "home": "Home", "end": "End",
         "pageup": "PageUp", "pagedown": "PageDown", "cmd": "Meta", "command": "Meta", "meta": "Meta", "win": "Meta", "super": "Meta",
         "insert": "Insert", **{f"f{i}": f"F{i}" for i in range(1, 13)}}

#: actions that end a task rather than change the page
TERMINAL = (ActionType.FINISHED, ActionType.CALL_USER)
#: actions only a phone (UI-TARS mobile prompt) or only a browser can run
MOBILE = (ActionType.LONG_PRESS, ActionType.OPEN_APP, ActionType.PRESS_HOME, ActionType.PRESS_BACK)
BROWSER = (ActionType.NAVIGATE, ActionType.NAVIGATE_BACK)


def playwright_key(key: str) -> str:
    """UI-TARS ``hotkey(key='ctrl shift t')`` → Playwright's ``Control+Shift+t``."""
    parts = [p for p in key.lower().split() if p]
    if not parts:
        raise ValueError("empty hotkey")
    return "+".join(_KEYS.get(p, p) for p in parts)


class Executor:
    """Runs one step's actions in order; subclasses say how each action is done."""

    def run(self, actions: Iterable[GuiAction]) -> str | None:
        """Execute in order; returns the type of a terminal action (finished/call_user) if one came."""
        for a in actions:
            if a.type in TERMINAL:
                return a.type
            self.execute(a)
        return None

    def execute(self, a: GuiAction) -> None:
        raise NotImplementedError


class PlaywrightExecutor(Executor):
    """Runs actions on a Playwright (sync API) ``page``. scroll_px: wheel distance per scroll."""

    def __init__(self, page: Any, *, scroll_px: int = 500, wait_ms: int = 1000) -> None:
        self.page, self.scroll_px, self.wait_ms = page, scroll_px, wait_ms

    def execute(self, a: GuiAction) -> None:
        p, mouse = self.page, self.page.mouse
        if a.type == ActionType.CLICK:
            mouse.click(a.x, a.y)
        elif a.type == ActionType.LEFT_DOUBLE:
            mouse.dblclick(a.x, a.y)
        elif a.type == ActionType.RIGHT_SINGLE:
            mouse.click(a.x, a.y, button="right")
        elif a.type == ActionType.LONG_PRESS:
            mouse.move(a.x, a.y)
            mouse.down()
            p.wait_for_timeout(800)
            mouse.up()
        elif a.type == ActionType.DRAG:
            mouse.move(a.x, a.y)
            mouse.down()
            mouse.move(a.x2, a.y2, steps=10)
            mouse.up()
        elif a.type == ActionType.TYPE:
            content = a.params["content"]
            text = content[:-1] if content.endswith("\n") else content
            p.keyboard.type(text)
            if content.endswith("\n"):
                p.keyboard.press("Enter")
        elif a.type == ActionType.HOTKEY:
            p.keyboard.press(playwright_key(a.params["key"]))
        elif a.type == ActionType.SCROLL:
            if a.x is not None:
                mouse.move(a.x, a.y)
            dx, dy = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[a.params["direction"]]
            mouse.wheel(dx * self.scroll_px, dy * self.scroll_px)
            p.wait_for_timeout(150)  # let smooth scrolling settle before the next screenshot
        elif a.type == ActionType.WAIT:
            p.wait_for_timeout(self.wait_ms)
        elif a.type == ActionType.NAVIGATE:
            p.goto(a.params["url"])
        elif a.type == ActionType.NAVIGATE_BACK:
            p.go_back()
        else:
            raise ValueError(f"action {a.type.value!r} has no meaning in a browser")


_DESKTOP_ALIASES = {"control": "ctrl", "return": "enter", "escape": "esc", "del": "delete", "pgup": "pageup", "pgdn": "pagedown",
                    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right"}
_SUPER = ("cmd", "command", "meta", "super", "win")
#: scroll direction → pyautogui wheel function and sign (positive wheel clicks scroll up or right)
_WHEEL = {"up": ("scroll", 1), "down": ("scroll", -1), "left": ("hscroll", -1), "right": ("hscroll", 1)}


def load_pyautogui() -> Any:
    """pyautogui, or a RuntimeError saying why it cannot drive this desktop (it opens the X
    display at import time, so a missing DISPLAY would otherwise surface as a KeyError)."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise RuntimeError("the desktop executor needs an X display and DISPLAY is not set "
                           "(on a headless machine start Xvfb; a Wayland session needs XWayland)")
    try:
        # python3-xlib prints its Xauthority warnings to stdout, where `agent act` writes JSON
        with contextlib.redirect_stdout(sys.stderr):
            import pyautogui
    except ImportError as exc:
        raise RuntimeError(f"the desktop executor needs pyautogui ({exc}); install sensorium's dependencies") from None
    except Exception as exc:  # Xlib's connection and auth errors, raised while pyautogui imports
        raise RuntimeError(f"cannot open the display {os.environ.get('DISPLAY', '')!r}: {type(exc).__name__}: {exc} (python3-xlib "
                           "needs an Xauthority file: set XAUTHORITY; for a server started without -auth an empty file does)") from None
    return pyautogui


class DesktopExecutor(Executor):
    """Runs actions on this machine's desktop through pyautogui (X11, macOS, Windows).

    Points must be in pyautogui's screen pixels (:meth:`size`); a point off the screen is
    refused, never clamped. pyautogui's fail-safe stays on: moving the mouse into a screen
    corner aborts a run. scroll_clicks: wheel clicks per scroll; wait_s: ``wait()`` (UI-TARS
    waits five seconds before the next screenshot); drag_s: how long a drag moves, so that
    applications see the motion; pause_s: pyautogui's pause after each call.
    """

    def __init__(self, *, scroll_clicks: int = 5, wait_s: float = 5.0, drag_s: float = 0.3, pause_s: float = 0.05) -> None:
        self.gui = load_pyautogui()
        self.gui.PAUSE = pause_s
        self.scroll_clicks, self.wait_s, self.drag_s = scroll_clicks, wait_s, drag_s

    def size(self) -> tuple[int, int]:
        """The screen's (width, height) in the pixels this executor takes."""
        w, h = self.gui.size()
        return int(w), int(h)

    def screenshot(self) -> Any:
        """(H, W, 3) uint8 RGB screenshot of the whole screen, in device pixels (on a HiDPI
        screen larger than :meth:`size`). Pillow's grab, not pyautogui's: on X11 pyscreeze
        insists on gnome-screenshot or scrot although Pillow reads the screen over XCB."""
        import numpy as np
        from PIL import ImageGrab

        return np.asarray(ImageGrab.grab().convert("RGB"))

    def keys(self, key: str) -> list[str]:
        """UI-TARS ``hotkey(key='ctrl shift t')`` → pyautogui key names, each checked (pyautogui
        silently ignores a name it does not know)."""
        parts = [p for p in key.lower().replace("+", " ").split() if p]
        if not parts:
            raise ValueError("empty hotkey")
        names = [("command" if sys.platform == "darwin" else "win") if p in _SUPER else _DESKTOP_ALIASES.get(p, p) for p in parts]
        unknown = [p for p, n in zip(parts, names) if not self.gui.isValidKey(n)]
        if unknown:
            raise ValueError(f"hotkey {key!r}: no key named {', '.join(map(repr, unknown))} on this desktop")
        return names

    def _point(self, a: GuiAction, x: float | None, y: float | None) -> tuple[int, int]:
        if x is None or y is None:
            raise ValueError(f"{a.type}() needs a point, got none")
        w, h = self.size()
        px, py = int(round(x)), int(round(y))
        if not (0 <= px < w and 0 <= py < h):
            raise ValueError(f"{a.type}() at ({x:.0f}, {y:.0f}) is off the {w}x{h} screen: ask the agent with this screen's size")
        return px, py

    def run(self, actions: Iterable[GuiAction]) -> str | None:
        """Like :meth:`Executor.run`, but every action up to a terminal one is checked before
        any runs, so a step that cannot be done whole (a point off the screen, a key or a
        character pyautogui lacks) changes nothing on the screen."""
        ops, end = [], None
        for a in actions:
            if a.type in TERMINAL:
                end = a.type
                break
            ops.append((a, self._plan(a)))
        for a, op in ops:
            log.info("desktop: %s at %s %s", a.type, (a.x, a.y), a.params or "")
            op()
        return end

    def execute(self, a: GuiAction) -> None:
        self._plan(a)()

    def _plan(self, a: GuiAction) -> Callable[[], Any]:
        """The checked pyautogui call(s) for ``a``, not yet run; raises ValueError saying why not."""
        g = self.gui
        if a.type in MOBILE:
            raise ValueError(f"{a.type}() is a phone action; the desktop executor cannot run it")
        if a.type in BROWSER:
            raise ValueError(f"{a.type}() is a browser action; run it with PlaywrightExecutor")
        clicks = {ActionType.CLICK: g.click, ActionType.LEFT_DOUBLE: g.doubleClick, ActionType.RIGHT_SINGLE: g.rightClick}
        if a.type in clicks:
            fn = clicks[a.type]
            return partial(fn, *self._point(a, a.x, a.y))
        if a.type == ActionType.DRAG:
            start, end = self._point(a, a.x, a.y), self._point(a, a.x2, a.y2)
            return lambda: (g.moveTo(*start), g.dragTo(*end, duration=self.drag_s, button="left"))
        if a.type == ActionType.TYPE:
            content = a.params["content"]
            submit = content.endswith("\n")
            text = content[:-1] if submit else content
            bad = sorted({c for c in text if not g.isValidKey(c)})
            if bad:
                raise ValueError(f"type(): pyautogui cannot type {''.join(bad)!r} on this desktop (it types keys, not arbitrary characters)")
            return lambda: (g.write(text), g.press("enter") if submit else None)
        if a.type == ActionType.HOTKEY:
            return partial(g.hotkey, *self.keys(a.params["key"]))
        if a.type == ActionType.SCROLL:
            x, y = self._point(a, a.x, a.y) if a.x is not None else (None, None)
            direction = a.params.get("direction")
            if direction not in _WHEEL:
                raise ValueError(f"scroll(): direction {direction!r} is not one of {', '.join(_WHEEL)}")
            wheel, sign = _WHEEL[direction]
            return partial(getattr(g, wheel), sign * self.scroll_clicks, x=x, y=y)
        if a.type == ActionType.WAIT:
            return partial(time.sleep, self.wait_s)
        raise ValueError(f"action {a.type.value!r} has no meaning on a desktop")
