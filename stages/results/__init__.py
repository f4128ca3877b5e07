"""Typed result containers, one module per kind of result a stage adds to a frame.

Numpy only (no torch): containers cross the Ray object store and the REST boundary. Per-item
containers share :class:`~sensorium.stages.results.items.Items` (N first on every array,
``len()``, mask indexing, ``empty()``, ``merge()``); every container has a JSON-safe
``to_dict()`` and a ``from_dict()`` that restores an equal one, and :func:`result_from_dict`
rebuilds any registered kind. Importing this package registers every kind.
"""

from sensorium.stages.results.depth import Depth, Rectification
from sensorium.stages.results.detections import Detections
from sensorium.stages.results.embeddings import Embeddings
from sensorium.stages.results.faces import Faces
from sensorium.stages.results.gaze import Gaze
from sensorium.stages.results.gui import GUI_ACTION_TYPES, ActionType, CoordinateSpace, GuiAction, GuiStep, ScreenGeometry
from sensorium.stages.results.items import Items
from sensorium.stages.results.keypoints import Keypoints
from sensorium.stages.results.registry import RESULT_KINDS, register, result_from_dict
from sensorium.stages.results.tracks import Tracks
from sensorium.stages.results.zones import LineTally, ZoneCounts, ZoneTally

register_result = register  # the name a stage family outside this package uses (docs/architecture.md, "Add a stage")

__all__ = [
    "ActionType", "CoordinateSpace", "Depth", "Detections", "Embeddings", "Faces", "GUI_ACTION_TYPES", "Gaze", "GuiAction", "GuiStep",
    "Items", "Keypoints", "LineTally", "RESULT_KINDS", "Rectification", "ScreenGeometry", "Tracks", "ZoneCounts", "ZoneTally", "register",
    "register_result", "result_from_dict",
]
