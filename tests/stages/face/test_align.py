"""5-point similarity alignment: rotated and scaled faces land on the template."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.stages.face.align import ARCFACE_112, DLIB_150, align_faces, similarity_matrix, transform_points


def _posed(template, angle_deg, scale, shift):
    """The template's points moved by a known similarity (what a detector would report)."""
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * scale
    return template.array() @ rot.T + shift


@pytest.mark.parametrize("template", [ARCFACE_112, DLIB_150], ids=lambda t: t.name)
@pytest.mark.parametrize("angle, scale, shift", [(0, 1.0, (0, 0)), (30, 2.5, (300, 120)), (-75, 0.6, (40, 400)), (180, 4.0, (900, 900))])
def test_aligned_landmarks_land_on_the_template(template, angle, scale, shift):
    lm = _posed(template, angle, scale, np.array(shift, float))
    lm += np.random.default_rng(0).normal(0, 0.5 * scale, lm.shape)  # detector noise
    m = similarity_matrix(lm, template)
    assert np.abs(transform_points(lm, m) - template.array()).max() <= 2.0


def test_chips_show_the_face_upright():
    """A bright dot drawn at each landmark of a rotated face ends up at the template points."""
    img = np.zeros((600, 800, 3), np.uint8)
    lm = _posed(ARCFACE_112, 40, 3.0, np.array([350.0, 120.0]))
    for x, y in lm:
        img[int(round(y)) - 2: int(round(y)) + 3, int(round(x)) - 2: int(round(x)) + 3] = 255
    chips, mats = align_faces(img, lm[None], ARCFACE_112)
    assert chips.shape == (1, 112, 112, 3) and mats.shape == (1, 2, 3)
    for x, y in ARCFACE_112.array():
        assert chips[0, int(round(y)), int(round(x))].max() > 100


@pytest.mark.parametrize("landmarks, expectation", [
    (np.zeros((5, 2)), pytest.raises(ValueError, match="degenerate")),
    (np.full((5, 2), np.nan), pytest.raises(ValueError, match="degenerate")),
    (np.zeros((4, 2)), pytest.raises(ValueError, match=r"expected \(5, 2\)")),
    (ARCFACE_112.array() * 2, does_not_raise()),
])
def test_bad_landmarks(landmarks, expectation):
    with expectation:
        similarity_matrix(landmarks, ARCFACE_112)


def test_no_faces_gives_empty_chips():
    chips, mats = align_faces(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 5, 2)), DLIB_150)
    assert chips.shape == (0, 150, 150, 3) and mats.shape == (0, 2, 3)
