"""The one coordinate contract of the GUI agent: every point a model emits is tagged with
the space it is in, and converted to screen pixels exactly once, here.

Spaces:

- ``rel1000``: UI-TARS 1.0 — integers in [0, 1000] relative to the screenshot's width and
  height, whatever its size.
- ``smart_resized_abs``: UI-TARS 1.5 (Qwen2.5-VL) — absolute pixels of the screenshot after
  :func:`smart_resize` (each side a multiple of 28, total pixels clamped), which is the image
  the model actually saw, not the one that was sent.
- ``physical_px``: pixels of the screenshot as captured (device pixels).
- ``screen_px``: logical screen pixels (CSS pixels in a browser, points on a HiDPI desktop),
  what a click executor takes. physical = screen x device pixel ratio.

A :class:`Screen` holds what the conversion needs: the screenshot's size and the screen's
logical size (or its device pixel ratio). Points outside the screen after conversion are an
error, not a clamp: a model pointing off-screen did not mean the edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sensorium.stages.results.gui import CoordinateSpace

#: every coordinate space (the vocabulary lives in the result contract, beside GuiStep.space)
SPACES: tuple[CoordinateSpace, ...] = tuple(CoordinateSpace)

IMAGE_FACTOR = 28
MIN_PIXELS = 100 * IMAGE_FACTOR * IMAGE_FACTOR
MAX_PIXELS = 16384 * IMAGE_FACTOR * IMAGE_FACTOR
MAX_RATIO = 200


class CoordinateError(ValueError):
    """A point that cannot be placed on the screen (off-screen, unknown space, bad screen)."""


def smart_resize(height: int, width: int, factor: int = IMAGE_FACTOR, min_pixels: int = MIN_PIXELS,
                 max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(height, width) of the image a Qwen2.5-VL-based model (UI-TARS 1.5) sees: both sides
    rounded to multiples of ``factor``, then scaled (keeping the aspect ratio) into
    [min_pixels, max_pixels]. Raises CoordinateError for an aspect ratio above 200."""
    if height < 1 or width < 1:
        raise CoordinateError(f"smart_resize: expected a positive size, got {width}x{height}")
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise CoordinateError(f"smart_resize: aspect ratio {max(height, width) / min(height, width):.0f} of {width}x{height} is above {MAX_RATIO}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = math.floor(height / beta / factor) * factor
        w = math.floor(width / beta / factor) * factor
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


@dataclass(frozen=True)
class Screen:
    """image_width/height: the screenshot in device pixels. width/height: the logical screen
    (None: image size / dpr). dpr: device pixel ratio (physical per logical pixel)."""

    image_width: int
    image_height: int
    width: float | None = None
    height: float | None = None
    dpr: float = 1.0

    def __post_init__(self) -> None:
        if self.image_width < 1 or self.image_height < 1:
            raise CoordinateError(f"screenshot size must be positive, got {self.image_width}x{self.image_height}")
        if not (self.dpr > 0 and math.isfinite(self.dpr)):
            raise CoordinateError(f"device pixel ratio must be > 0, got {self.dpr}")
        if (self.width is None) != (self.height is None):
            raise CoordinateError("give both screen width and height, or neither")
        if self.width is None:
            object.__setattr__(self, "width", self.image_width / self.dpr)
            object.__setattr__(self, "height", self.image_height / self.dpr)
        elif self.width <= 0 or self.height <= 0:
            raise CoordinateError(f"screen size must be positive, got {self.width}x{self.height}")

    @property
    def resized(self) -> tuple[int, int]:
        """(height, width) of the screenshot as a UI-TARS 1.5 model sees it."""
        return smart_resize(self.image_height, self.image_width)

    def scale(self, space: CoordinateSpace | str) -> tuple[float, float]:
        """Screen pixels per unit of ``space``, along x and y."""
        sx, sy = self.width / self.image_width, self.height / self.image_height  # screen per physical px
        if space == CoordinateSpace.SCREEN_PX:
            return 1.0, 1.0
        if space == CoordinateSpace.PHYSICAL_PX:
            return sx, sy
        if space == CoordinateSpace.REL1000:
            return self.width / 1000.0, self.height / 1000.0
        if space == CoordinateSpace.SMART_RESIZED_ABS:
            rh, rw = self.resized
            return sx * self.image_width / rw, sy * self.image_height / rh
        raise CoordinateError(f"unknown coordinate space {space!r}; expected one of {', '.join(SPACES)}")


def to_screen(x: float, y: float, space: CoordinateSpace | str, screen: Screen, *, tolerance: float = 1.0) -> tuple[float, float]:
    """A point in ``space`` → screen pixels. Off-screen by more than ``tolerance`` screen
    pixels raises CoordinateError; within it, the point is moved onto the last pixel."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CoordinateError(f"point ({x}, {y}) is not finite")
    kx, ky = screen.scale(space)
    sx, sy = x * kx, y * ky
    w, h = screen.width, screen.height
    if not (-tolerance <= sx <= w + tolerance and -tolerance <= sy <= h + tolerance):
        raise CoordinateError(f"point ({x:g}, {y:g}) in {space} is ({sx:.1f}, {sy:.1f}) on a {w:g}x{h:g} screen: off-screen")
    return min(max(sx, 0.0), w - 1e-6), min(max(sy, 0.0), h - 1e-6)


def from_screen(x: float, y: float, space: CoordinateSpace | str, screen: Screen) -> tuple[float, float]:
    """Screen pixels → ``space`` (the inverse of :func:`to_screen`, for tests and prompts)."""
    kx, ky = screen.scale(space)
    return x / kx, y / ky
