"""A whole frame drawn for people: the image with every result's annotator, the stage errors
in red, and the colour-mapped depth (with its colour bar) to the right.

:class:`FrameAnnotator` is what the video sink, the stream preview and the run report share.
It keeps per-source state (the depth colour range, track trails), so use one per run or
stream and give it each source's frames in order.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import cv2
import numpy as np

from sensorium.pipeline.draw.boxes import LABEL_FIELDS, BoxAnnotator, LabelAnnotator
from sensorium.pipeline.draw.colorbar import draw_colorbar
from sensorium.pipeline.draw.colormap import PERCENTILES, DepthColorizer
from sensorium.pipeline.draw.compose import Annotator, Compose
from sensorium.pipeline.draw.faces import FaceAnnotator
from sensorium.pipeline.draw.gaze import GazeAnnotator
from sensorium.pipeline.draw.gui_actions import GuiActionAnnotator
from sensorium.pipeline.draw.keypoints import SkeletonAnnotator
from sensorium.pipeline.draw.style import FONT, RED, ColorLookup, outlined_text, style_for
from sensorium.pipeline.draw.tracks import TraceAnnotator
from sensorium.pipeline.draw.zones import ZoneAnnotator
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections, Faces, Gaze, GuiAction, GuiStep, Keypoints, Tracks, ZoneCounts

log = logging.getLogger(__name__)

#: canvas size (H, W) for a frame with neither image nor depth (a decode error, say)
BLANK_SHAPE = (240, 320)
#: sources whose drawing state is kept (least recently seen forgotten first)
MAX_SOURCES = 256


@dataclass(frozen=True)
class DrawConfig:
    """How frames are drawn (frozen; built once at the edge).

    color_by: what colours boxes and labels (``class``, ``track``, ``index``). labels: the
    fields a box's label shows (of ``class``, ``score``, ``track``, ``distance``). text_scale:
    multiplies the text size. trail: frames of track trail. keypoint_min_score: joints below it
    are not drawn. depth_adaptation: how fast a stream's depth colours follow the scene (see
    DepthColorizer; 1 = every frame on its own). depth_percentiles: the valid depths' percentiles
    at the colour map's ends. max_depth_m: pin the far end (metres). colorbar: draw the bar.
    """

    color_by: ColorLookup = ColorLookup.CLASS
    labels: tuple[str, ...] = LABEL_FIELDS
    text_scale: float = 1.0
    trail: int = 30
    keypoint_min_score: float = 0.3
    depth_adaptation: float = 0.05
    depth_percentiles: tuple[float, float] = PERCENTILES
    max_depth_m: float | None = None
    colorbar: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "color_by", ColorLookup(self.color_by))
        object.__setattr__(self, "labels", tuple(self.labels))
        if not self.text_scale > 0:
            raise ValueError(f"DrawConfig.text_scale: expected > 0, got {self.text_scale}")
        self.colorizer()  # validates the depth settings
        LabelAnnotator(self.labels)  # validates the label fields

    def colorizer(self) -> DepthColorizer:
        """A fresh per-source depth colouring with these settings."""
        return DepthColorizer(self.depth_adaptation, percentiles=self.depth_percentiles, far_m=self.max_depth_m)


def default_annotators(config: DrawConfig = DrawConfig()) -> dict[str, Annotator]:
    """Result kind → its annotator, in drawing order (zones under boxes under faces and gaze).
    Fresh objects each call: some keep per-source state."""
    boxes = Compose((BoxAnnotator(config.color_by), LabelAnnotator(config.labels, config.color_by, config.text_scale)))
    gui = GuiActionAnnotator()
    return {
        ZoneCounts.kind: ZoneAnnotator(),
        Detections.kind: boxes,
        Tracks.kind: TraceAnnotator(config.trail),
        Keypoints.kind: SkeletonAnnotator(config.keypoint_min_score),
        Faces.kind: FaceAnnotator(text_scale=config.text_scale),
        Gaze.kind: GazeAnnotator(),
        GuiStep.kind: gui,
        GuiAction.kind: gui,
    }


def primary_depth(frame: Frame) -> tuple[str, Depth] | None:
    """(stage name, Depth) of the frame's primary depth: the ``depth`` stage's result, else the
    first Depth result; None without one. Shown beside the image and written by the sinks."""
    if isinstance(frame.results.get("depth"), Depth):
        return "depth", frame.results["depth"]
    return next(((n, r) for n, r in frame.results.items() if isinstance(r, Depth)), None)


def depth_panel(depth: Depth, height: int | None = None, *, colorizer: DepthColorizer | None = None,
                colorbar: bool = True) -> np.ndarray:
    """The depth picture every view shows (video, stream preview, run report): (height, W, 3)
    uint8 RGB of ``depth`` coloured by inverse depth (by disparity without metric depth) by
    ``colorizer`` (a stream's; default: this map's own robust range), scaled to ``height``
    (default: the map's; aspect kept, nearest: no invented depths), with the colour bar."""
    panel, rng = (colorizer or DepthColorizer(1.0))(depth)
    if height is not None and panel.shape[0] != height:
        if height < 1:
            raise ValueError(f"depth_panel: expected height >= 1 pixels, got {height}")
        w = max(1, round(panel.shape[1] * height / panel.shape[0]))
        panel = cv2.resize(panel, (w, height), interpolation=cv2.INTER_NEAREST)
    if rng is not None and colorbar:
        draw_colorbar(panel, rng)
    return panel


@dataclass
class _SourceState:
    annotators: dict[str, Annotator]
    colorizer: DepthColorizer


@dataclass
class FrameAnnotator:
    """Renders frames: ``annotator(frame) -> (H, W', 3) uint8 RGB``.

    The image (H, W) with each result drawn by its kind's annotator (``annotators()`` makes a
    source's set: :func:`default_annotators` of ``config`` unless given) and the stage errors in
    red; when the frame has a Depth result, its colour picture with a colour bar is placed to
    the right, scaled to height H (W' = W + its scaled width). A frame without an image gets a
    black panel (the depth map's size, else ``BLANK_SHAPE``) so its errors still show. A failing
    annotator is reported on the frame, not raised. Not thread-safe.
    """

    config: DrawConfig = field(default_factory=DrawConfig)
    annotators: Callable[[], Mapping[str, Annotator]] | None = None
    _sources: OrderedDict[str, _SourceState] = field(default_factory=OrderedDict, repr=False)

    def __call__(self, frame: Frame) -> np.ndarray:
        state = self._state(frame.source_id)
        found = primary_depth(frame)
        depth = None if found is None else found[1]
        canvas = self._canvas(frame, depth)
        messages = [f"{stage}: {msg}" for stage, msg in frame.errors.items()]
        for name, result in self._in_drawing_order(frame, state):
            try:
                canvas = state.annotators[result.kind].annotate(canvas, result)
            except Exception as exc:  # noqa: BLE001 - a drawing bug must not cost the frame
                log.warning("drawing %s (%s) failed on %s: %s", name, result.kind, frame.key, exc)
                messages.append(f"annotate {name}: {type(exc).__name__}: {exc}")
        draw_messages(canvas, messages)
        if depth is None:
            return canvas
        return np.hstack([canvas, depth_panel(depth, canvas.shape[0], colorizer=state.colorizer, colorbar=self.config.colorbar)])

    def _state(self, source: str) -> _SourceState:
        state = self._sources.get(source)
        if state is None:
            made = dict(self.annotators() if self.annotators is not None else default_annotators(self.config))
            state = self._sources[source] = _SourceState(made, self.config.colorizer())
            while len(self._sources) > MAX_SOURCES:
                self._sources.popitem(last=False)
        self._sources.move_to_end(source)
        return state

    @staticmethod
    def _canvas(frame: Frame, depth: Depth | None) -> np.ndarray:
        if frame.image is not None:
            return frame.image.copy()
        return np.zeros((*(depth.depth.shape if depth is not None else BLANK_SHAPE), 3), np.uint8)

    @staticmethod
    def _in_drawing_order(frame: Frame, state: _SourceState) -> list[tuple[str, Any]]:
        order = {kind: i for i, kind in enumerate(state.annotators)}
        drawn = [(n, r) for n, r in frame.results.items() if getattr(r, "kind", None) in order]
        return sorted(drawn, key=lambda item: order[item[1].kind])  # stable: same kinds keep frame order


def draw_messages(img: np.ndarray, messages: list[str]) -> None:
    """Errors in red (dark outline), one line each from the top-left, cut to the image width."""
    if not messages:
        return
    st = style_for(img)
    (cw, _), base = cv2.getTextSize("M", FONT, st.font_scale, st.text_thickness)
    max_chars = max(4, img.shape[1] // max(1, cw) - 1)
    y = st.text_height + base + 2
    for msg in messages:
        if y > img.shape[0]:
            break
        outlined_text(img, msg if len(msg) <= max_chars else msg[: max_chars - 3] + "...", (2, y), RED, st)
        y += st.text_height + base + 4

