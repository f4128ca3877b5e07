"""The gaze ray through a depth map: the first surface it meets, and who or what is there."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.gaze.ray import RayConfig, hit_detection, hit_face, march, origin_3d
from sensorium.stages.results import Depth, Detections

K = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])


def _depth(z: np.ndarray) -> Depth:
    return Depth(depth=z.astype(np.float32), confidence=np.ones_like(z, np.float32), K=K)


def test_origin_is_back_projected_and_nan_without_depth():
    d = _depth(np.full((100, 100), 2.0))
    np.testing.assert_allclose(origin_3d(d, np.array([70.0, 50.0]), 2), [0.4, 0.0, 2.0], atol=1e-6)
    assert np.isnan(origin_3d(_depth(np.zeros((100, 100))), np.array([70.0, 50.0]), 2)).all()


def test_march_stops_at_the_first_surface_along_the_ray():
    z = np.full((100, 100), 3.0)
    z[:, 60:] = 1.5  # a nearer wall on the right half
    hit = march(_depth(z), np.array([0.0, 0.0, 1.0]), np.array([0.6, 0.0, 0.8]), RayConfig(step=0.01))
    assert hit is not None
    point, pixel = hit
    assert pixel[0] >= 60 and point[2] == pytest.approx(1.5, abs=0.06)
    away = march(_depth(z), np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0]), RayConfig())
    assert away is None  # toward the camera: nothing in view


def test_hits_name_the_other_face_and_the_detection():
    faces = np.array([[0, 0, 40, 40], [50, 50, 90, 90]], np.float32)
    assert hit_face(faces, 0, np.array([60.0, 70.0])) == 1
    assert hit_face(faces, 1, np.array([60.0, 70.0])) == -1  # its own face is no hit
    dets = Detections(boxes=np.array([[0, 0, 100, 100], [55, 55, 80, 80]], np.float32), scores=np.ones(2, np.float32),
                      class_id=np.zeros(2, np.int64))
    assert hit_detection(dets, np.zeros(3), np.array([60.0, 60.0])) == 1  # the smallest box holding the pixel
    lifted = Detections(boxes=dets.boxes, scores=dets.scores, class_id=dets.class_id,
                        xyz=np.array([[0, 0, 2], [1, 1, 5]], np.float32), extent=np.full((2, 3), 0.5, np.float32))
    assert hit_detection(lifted, np.array([0.1, 0.0, 2.1]), np.array([60.0, 60.0])) == 0  # by the 3-D box, not the pixel
    assert hit_detection(None, np.zeros(3), np.zeros(2)) == -1


def test_ray_config_refuses_nonsense():
    with pytest.raises(ValueError, match="step"):
        RayConfig(step=0.0)
