"""Faces: box, landmarks, and the name with its similarity."""

from __future__ import annotations

import numpy as np

from sensorium.pipeline.draw.faces import KNOWN, LANDMARK_COLORS, UNKNOWN, FaceAnnotator, face_text
from sensorium.stages.results import Faces
from tests.pipeline.draw.conftest import changed

LANDMARKS = np.array([[[100, 150], [170, 150], [135, 190], [110, 230], [160, 230]]], np.float32)


def faces(identity=None, similarity=None) -> Faces:
    data = {} if identity is None else {"identity": np.array(identity, dtype=object)}
    return Faces(boxes=np.array([[65, 85, 225, 305]], np.float32), scores=np.array([0.87], np.float32), landmarks=LANDMARKS,
                 similarity=None if similarity is None else np.array(similarity, np.float32), data=data)


def test_the_label_names_who_it_is():
    assert face_text(faces(["ada"], [0.71]), 0) == ("ada 0.71", True)
    assert face_text(faces(["ada"]), 0) == ("ada", True)
    assert face_text(faces([None], [0.2]), 0) == ("face 0.87", False)
    assert face_text(faces(), 0) == ("face 0.87", False)


def test_box_landmarks_and_label_are_drawn(zidane):
    out = FaceAnnotator().annotate(zidane.copy(), faces(["ada"], [0.71]))
    assert tuple(out[150, 100]) == LANDMARK_COLORS[0] and tuple(out[230, 160]) == LANDMARK_COLORS[4]
    assert tuple(out[200, 65]) == KNOWN
    assert changed(out, zidane, (65, 55, 225, 85)) > 300  # the label above the box
    unknown = FaceAnnotator(landmarks=False).annotate(zidane.copy(), faces())
    assert tuple(unknown[200, 65]) == UNKNOWN and tuple(unknown[150, 100]) == tuple(zidane[150, 100])
    assert changed(out, zidane, (300, 300, 600, 600)) == 0
