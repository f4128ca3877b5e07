"""Faces: box, the five landmarks, and who it is (name and similarity) or its detection score."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.pipeline.draw.style import Color, label, pt, style_for
from sensorium.stages.results import Faces

#: landmark colours in Faces order: right eye, left eye, nose, right/left mouth corner
LANDMARK_COLORS: tuple[Color, ...] = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))
KNOWN: Color = (0, 220, 0)
UNKNOWN: Color = (255, 200, 0)


def face_text(faces: Faces, i: int) -> tuple[str, bool]:
    """(label, known): ``ada 0.71`` for a matched identity (``data["identity"]``, with its
    similarity when given), else ``face 0.93`` (the detection score)."""
    names = faces.data.get("identity")
    name = None if names is None else names[i]
    if name is None or str(name) == "":
        return f"face {float(faces.scores[i]):.2f}", False
    if faces.similarity is not None and np.isfinite(faces.similarity[i]):
        return f"{name} {float(faces.similarity[i]):.2f}", True
    return str(name), True


@dataclass(frozen=True)
class FaceAnnotator:
    """Each face's box (green when recognised, amber when not), its landmarks as dots in
    :data:`LANDMARK_COLORS` (``landmarks=False`` leaves them out) and its :func:`face_text`."""

    landmarks: bool = True
    text_scale: float = 1.0

    def annotate(self, image: np.ndarray, faces: Faces) -> np.ndarray:
        """Draw on ``image`` ((H, W, 3) uint8 RGB, in place) and return it."""
        st, text_st = style_for(image), style_for(image, self.text_scale)
        for i in range(len(faces)):
            box = faces.boxes[i]
            if not np.isfinite(box).all():
                continue
            text, known = face_text(faces, i)
            color = KNOWN if known else UNKNOWN
            cv2.rectangle(image, pt(box[:2]), pt(box[2:]), color, st.thickness)
            if self.landmarks:
                for j, xy in enumerate(faces.landmarks[i]):
                    if np.isfinite(xy).all():
                        cv2.circle(image, pt(xy), st.thickness + 1, LANDMARK_COLORS[j % len(LANDMARK_COLORS)], -1, cv2.LINE_AA)
            label(image, text, pt(box[:2]), color, text_st)
        return image
