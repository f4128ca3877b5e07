"""Boxes and their labels for Detections and Tracks: class, score, track id and metric distance.

Two annotators, as supervision splits them: :class:`BoxAnnotator` draws the rectangles,
:class:`LabelAnnotator` the text, so either can be left out or restyled. Both take any result
with ``boxes`` (N, 4) ``x1, y1, x2, y2`` pixels and, when present, ``scores``, ``class_id`` +
``class_names``, ``track_id`` and ``xyz`` (metres, camera frame: the 3-D lifting's output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from sensorium.pipeline.draw.style import ColorLookup, label, pick_colors, pt, style_for

#: what a label can show, in this order
LABEL_FIELDS = ("class", "score", "track", "distance")
#: Tracks.state value of a track carried through a miss (drawn thin: a prediction, not a sighting)
LOST = 1


def _colors(result: Any, color_by: ColorLookup) -> list[tuple[int, int, int]]:
    return pick_colors(color_by, len(result.boxes), getattr(result, "class_id", None), getattr(result, "track_id", None))


@dataclass(frozen=True)
class BoxAnnotator:
    """Rectangles around each item, coloured by class, track id or index (``color_by``), lines
    ``thickness_scale`` times the image's default width; a lost track's box is one pixel wide."""

    color_by: ColorLookup = ColorLookup.CLASS
    thickness_scale: float = 1.0

    def annotate(self, image: np.ndarray, result: Any) -> np.ndarray:
        """Draw on ``image`` ((H, W, 3) uint8 RGB, in place) and return it."""
        thickness = max(1, round(style_for(image).thickness * self.thickness_scale))
        state = getattr(result, "state", None)
        for i, color in enumerate(_colors(result, self.color_by)):
            box = result.boxes[i]
            if not np.isfinite(box).all():
                continue
            lost = state is not None and int(state[i]) == LOST
            cv2.rectangle(image, pt(box[:2]), pt(box[2:]), color, 1 if lost else thickness)
        return image


def distance_m(xyz: np.ndarray | None, i: int) -> float | None:
    """Distance from the camera (metres) of item ``i``'s 3-D position; None when not lifted."""
    if xyz is None or not np.isfinite(xyz[i]).all():
        return None
    return float(np.linalg.norm(xyz[i]))


def label_text(result: Any, i: int, fields: tuple[str, ...]) -> str:
    """Item ``i``'s label: ``person 0.91 #7 2.3 m`` with every field asked for that it has."""
    parts = []
    if "class" in fields and getattr(result, "class_id", None) is not None:
        cid, names = int(result.class_id[i]), getattr(result, "class_names", ())
        parts.append(names[cid] if 0 <= cid < len(names) else str(cid))
    if "score" in fields and getattr(result, "scores", None) is not None:
        parts.append(f"{float(result.scores[i]):.2f}")
    if "track" in fields and getattr(result, "track_id", None) is not None:
        parts.append(f"#{int(result.track_id[i])}")
    d = distance_m(getattr(result, "xyz", None), i) if "distance" in fields else None
    if d is not None:
        parts.append(f"{d:.1f} m" if d >= 10 else f"{d:.2f} m")
    return " ".join(parts)


@dataclass(frozen=True)
class LabelAnnotator:
    """A filled label above each box's top-left corner (inside the image when there is no room)
    with the ``fields`` asked for, of :data:`LABEL_FIELDS`; text ``text_scale`` times the
    image's default size."""

    fields: tuple[str, ...] = LABEL_FIELDS
    color_by: ColorLookup = ColorLookup.CLASS
    text_scale: float = 1.0

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in LABEL_FIELDS]
        if unknown:
            raise ValueError(f"LabelAnnotator.fields: unknown {unknown}; expected some of {', '.join(LABEL_FIELDS)}")

    def annotate(self, image: np.ndarray, result: Any) -> np.ndarray:
        """Draw on ``image`` ((H, W, 3) uint8 RGB, in place) and return it."""
        st = style_for(image, self.text_scale)
        for i, color in enumerate(_colors(result, self.color_by)):
            box = result.boxes[i]
            text = label_text(result, i, self.fields)
            if text and np.isfinite(box[:2]).all():
                label(image, text, pt(box[:2]), color, st)
        return image
