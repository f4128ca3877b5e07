"""Mesh and iris for all faces of a batch; the blur and border measures the sigma head reads."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.models.arch.mediapipe.roi import Roi
from sensorium.stages.base import build_stage
from sensorium.stages.gaze.mesh import outside_share, run_landmarks, sharpness


@pytest.fixture(scope="module")
def models():
    gaze = build_stage("gaze", {"sigma_head": "none"})
    gaze.setup()
    return (lambda x: list(gaze._mesh.run([x]).values())), (lambda x: list(gaze._iris.run([x]).values()))


def test_landmarks_for_every_face_of_every_image_in_order(models, data_dir):
    img = cv2.cvtColor(cv2.imread(str(data_dir / "faces/two_people.jpg")), cv2.COLOR_BGR2RGB)
    (boxes, lms, _), = build_stage("face", {"recognizer": "none"}).detect([img])
    blank = np.zeros((50, 60, 3), np.uint8)
    out = run_landmarks(*models, [img, blank, img[:, ::-1].copy()], [(boxes, lms), (boxes[:0], lms[:0]), (boxes[:1] * 0 + [0, 0, 60, 60], lms[:1])])
    assert [len(o.presence) for o in out] == [2, 0, 1]
    first = out[0]
    assert first.mesh.shape == (2, 468, 3) and first.contour.shape == (2, 2, 71, 3) and first.iris.shape == (2, 2, 5, 3)
    assert (first.presence > 0.5).all()
    for f in range(2):  # each iris centre inside its own face box
        x0, y0, x1, y1 = boxes[f]
        c = first.iris[f, :, 0, :2]
        assert ((c[:, 0] > x0) & (c[:, 0] < x1) & (c[:, 1] > y0) & (c[:, 1] < y1)).all()
        assert c[0, 0] < c[1, 0]  # the subject's right eye is on the image's left
    assert run_landmarks(*models, [blank], [(boxes[:0], lms[:0])])[0].mesh.shape == (0, 468, 3)


def test_sharpness_drops_with_blur_and_outside_share_measures_truncation():
    rng = np.random.default_rng(0)
    sharp = rng.random((1, 64, 64, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(sharp[0], (0, 0), 3)[None]
    assert sharpness(blurred)[0] < sharpness(sharp)[0] - 2
    assert outside_share(Roi(50, 50, 40, 0.0), 100, 100) == 0.0
    assert outside_share(Roi(0, 50, 40, 0.0), 100, 100) == pytest.approx(0.5)
