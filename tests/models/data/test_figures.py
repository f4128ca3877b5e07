"""Rendered figures: deterministic, keypoints lie on the drawn figure, flags say what is seen."""

from __future__ import annotations

import cv2
import numpy as np

from sensorium.models.data.figures import FLIP, KEYPOINTS, LIMBS, FiguresConfig, figure_batch, render_figure

SAMPLES = [render_figure(6, i) for i in range(150)]


def test_deterministic_per_seed_and_index():
    a, b = render_figure(0, 3), render_figure(0, 3)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.keypoints, b.keypoints)
    assert not np.array_equal(render_figure(1, 3).image, a.image)
    images, kp, inside = figure_batch(0, 2, 2)
    assert images.shape == (2, 64, 64, 3) and kp.shape == (2, len(KEYPOINTS), 2) and inside.shape == (2, len(KEYPOINTS))
    assert np.array_equal(kp[1], a.keypoints)


def test_visible_keypoints_lie_on_the_drawn_figure_inside_the_image():
    on, total = 0, 0
    for s in SAMPLES:
        grown = cv2.dilate(s.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # sub-pixel edges
        for (x, y), visible in zip(s.keypoints, s.visible):
            if visible:
                assert 0 <= x < 64 and 0 <= y < 64
                assert grown[int(y), int(x)], (x, y)
                on += bool(s.mask[int(y), int(x)])
                total += 1
    assert on / total > 0.98


def test_flags_are_consistent_and_all_cases_occur():
    visible = np.stack([s.visible for s in SAMPLES])
    inside = np.stack([s.inside for s in SAMPLES])
    kp = np.stack([s.keypoints for s in SAMPLES])
    assert not (visible & ~inside).any()  # visible implies inside
    assert np.array_equal(inside, ((kp >= 0) & (kp < 64)).all(-1))
    assert (inside & ~visible).any()  # occluded but labelled
    assert (~inside).any() and inside.mean() > 0.85  # truncation happens, not everywhere


def test_figure_faces_the_camera_and_stands_upright():
    kp = np.stack([s.keypoints for s in SAMPLES])
    names = {n: i for i, n in enumerate(KEYPOINTS)}
    assert (kp[:, names["right_shoulder"], 0] < kp[:, names["left_shoulder"], 0]).all()  # its right on the image's left
    assert (kp[:, names["right_hip"], 0] < kp[:, names["left_hip"], 0]).all()
    assert (kp[:, names["head"], 1] < kp[:, names["neck"], 1]).all()


def test_flip_swaps_sides():
    assert sorted(FLIP) == list(range(len(KEYPOINTS)))
    for i, j in enumerate(FLIP):
        assert KEYPOINTS[i].replace("right", "left") == KEYPOINTS[j] or KEYPOINTS[i].replace("left", "right") == KEYPOINTS[j]
    assert all(0 <= a < len(KEYPOINTS) and 0 <= b < len(KEYPOINTS) for a, b in LIMBS)


def test_scale_follows_config():
    small = FiguresConfig(height=(0.3, 0.3), truncation=0.0)
    kp = np.stack([render_figure(7, i, small).keypoints for i in range(20)])
    assert (np.ptp(kp[..., 1], axis=1) < 0.3 * 64 + 1).all()
