"""Face quality: size, blur and the pose proxy each pull quality down and flag the face."""

from __future__ import annotations

import cv2
import numpy as np

from sensorium.stages.face.align import ARCFACE_112, align_faces
from sensorium.stages.face.quality import QualityConfig, assess, pose_proxy


def _textured(seed=0):
    return np.random.default_rng(seed).integers(0, 255, (112, 112, 3), dtype=np.uint8)


def test_frontal_sharp_large_face_is_good():
    lm = ARCFACE_112.array()[None]
    q = assess(np.array([[0, 0, 112, 112]]), lm, _textured()[None])
    assert not q.low_quality[0] and q.quality[0] > 0.9 and abs(q.yaw[0]) < 0.05 and abs(q.roll[0]) < 1


def test_each_defect_flags_the_face():
    lm = ARCFACE_112.array()
    turned = lm.copy()
    turned[2, 0] += 30  # nose far to one side: a profile
    blurred = cv2.GaussianBlur(_textured(), (0, 0), 6)
    q = assess(np.array([[0, 0, 112, 112], [0, 0, 20, 20], [0, 0, 112, 112]]), np.stack([turned, lm, lm]),
               np.stack([_textured(), _textured(1), blurred]), QualityConfig())
    assert q.low_quality.tolist() == [True, True, True]
    assert q.yaw[0] > 0.45 and q.size[1] == 20 and q.blur[2] < 25
    assert (q.quality < 0.5).all()


def test_roll_does_not_read_as_yaw():
    lm = ARCFACE_112.array()
    a = np.radians(35)
    rolled = (lm - lm.mean(0)) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + lm.mean(0)
    yaw, roll = pose_proxy(rolled[None])
    assert abs(yaw[0]) < 0.05 and abs(roll[0] - 35) < 1
