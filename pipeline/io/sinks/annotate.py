"""The annotate sink's drawing, kept under its old names: ``annotate(frame)``, ``colorize_depth``
and ``primary_depth`` for the sinks, the stream preview and the run report.

The drawing itself lives in :mod:`sensorium.pipeline.draw` (one annotator per result kind, the
depth colour map, :class:`~sensorium.pipeline.draw.FrameAnnotator`). ``annotate`` draws one
frame on its own; a video or a stream should hold one ``frame_annotator()`` so its depth colours
and track trails carry from frame to frame. A result kind from outside the built-in set gets
drawn by an annotator registered with ``register_overlay``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from sensorium.pipeline.draw.colormap import colorize_depth
from sensorium.pipeline.draw.frame import BLANK_SHAPE, DrawConfig, FrameAnnotator, default_annotators, primary_depth
from sensorium.stages.frame import Frame

#: an overlay draws one result container onto the (H, W, 3) uint8 RGB image, in place
Overlay = Callable[[np.ndarray, Any], None]

#: result kind → overlay, for kinds the drawing package does not know
OVERLAYS: dict[str, Overlay] = {}

__all__ = ["BLANK_SHAPE", "OVERLAYS", "Overlay", "annotate", "colorize_depth", "frame_annotator", "primary_depth", "register_overlay"]


def register_overlay(kind: str) -> Callable[[Overlay], Overlay]:
    """Decorator: draw results of ``kind`` with the decorated function (raises on a duplicate
    kind, built-in ones included)."""

    def deco(fn: Overlay) -> Overlay:
        if kind in OVERLAYS or kind in default_annotators():
            raise ValueError(f"overlay for result kind {kind!r} registered twice")
        OVERLAYS[kind] = fn
        return fn

    return deco


@dataclass(frozen=True)
class _OverlayAnnotator:
    overlay: Overlay

    def annotate(self, image: np.ndarray, result: Any) -> np.ndarray:
        self.overlay(image, result)
        return image


def frame_annotator(config: DrawConfig = DrawConfig()) -> FrameAnnotator:
    """A FrameAnnotator for one video or stream: the built-in annotators for ``config`` and the
    registered overlays, colours and trails carried from frame to frame per source."""
    return FrameAnnotator(config, lambda: {**default_annotators(config), **{k: _OverlayAnnotator(fn) for k, fn in OVERLAYS.items()}})


def annotate(frame: Frame, *, max_depth: float | None = None) -> np.ndarray:
    """Render ``frame`` on its own (no colours or trails carried from earlier frames).

    Returns (H, W', 3) uint8 RGB: the image (H, W) with every result drawn and the stage errors
    in red; with a Depth result, its inverse-depth colour picture (robust 2nd-98th percentile
    range; far end at ``max_depth`` metres when given) with a colour bar, to the right and
    scaled to height H. See :class:`~sensorium.pipeline.draw.FrameAnnotator`.
    """
    return frame_annotator(DrawConfig(depth_adaptation=1.0, max_depth_m=max_depth))(frame)
