"""Drawing results for people: annotators, depth colouring, whole frames.

One annotator per kind of result, each with ``annotate(image, result) -> image`` (drawing in
place, as supervision's annotators do), composable with :class:`Compose` and configured by
its constructor; :class:`FrameAnnotator` draws a whole frame with the default set and the
depth beside it. Depth is coloured by inverse depth over a robust range (:mod:`.colormap`)
with a colour bar in metres (:mod:`.colorbar`). Pure drawing: OpenCV on numpy, no I/O.
"""

from sensorium.pipeline.draw.boxes import LABEL_FIELDS, BoxAnnotator, LabelAnnotator
from sensorium.pipeline.draw.colorbar import draw_colorbar
from sensorium.pipeline.draw.colormap import LUT, ColorRange, DepthColorizer, colorize_depth, colorize_disparity, robust_range
from sensorium.pipeline.draw.compose import Annotator, Compose
from sensorium.pipeline.draw.faces import FaceAnnotator
from sensorium.pipeline.draw.frame import DrawConfig, FrameAnnotator, default_annotators, depth_panel, primary_depth
from sensorium.pipeline.draw.gaze import GazeAnnotator
from sensorium.pipeline.draw.gui_actions import GuiActionAnnotator
from sensorium.pipeline.draw.keypoints import SkeletonAnnotator
from sensorium.pipeline.draw.style import ColorLookup, style_for
from sensorium.pipeline.draw.tracks import TraceAnnotator
from sensorium.pipeline.draw.zones import ZoneAnnotator

__all__ = [
    "LABEL_FIELDS", "LUT", "Annotator", "BoxAnnotator", "ColorLookup", "ColorRange", "Compose", "DepthColorizer", "DrawConfig",
    "FaceAnnotator", "FrameAnnotator", "GazeAnnotator", "GuiActionAnnotator", "LabelAnnotator", "SkeletonAnnotator",
    "TraceAnnotator", "ZoneAnnotator", "colorize_depth", "colorize_disparity", "default_annotators", "depth_panel", "draw_colorbar",
    "primary_depth", "robust_range", "style_for",
]
