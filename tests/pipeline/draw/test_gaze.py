"""Gaze arrows and their 1-sigma cones on a real photo."""

from __future__ import annotations

import numpy as np

from sensorium.pipeline.draw.gaze import GazeAnnotator
from sensorium.stages.results import Gaze
from tests.pipeline.draw.conftest import changed, everywhere


def gaze(yaw_pitch, origin, sigma=None) -> Gaze:
    return Gaze(yaw_pitch=np.array([yaw_pitch], np.float32), origin=np.array([origin], np.float32),
                sigma=None if sigma is None else np.array([sigma], np.float32))


def draw(image: np.ndarray, result: Gaze, annotator: GazeAnnotator = GazeAnnotator()) -> np.ndarray:
    return annotator.annotate(image.copy(), result)


def test_a_gaze_to_the_right_draws_right_of_its_origin(zidane):
    g = gaze([-0.6, 0.0], [640, 360])  # yaw -0.6 rad: Gaze.vectors points to +x (image right)
    assert g.vectors[0, 0] > 0.5 and abs(g.vectors[0, 1]) < 1e-6
    out = draw(zidane, g)
    assert changed(out, zidane, (660, 340, 720, 380)) > 50
    assert changed(out, zidane, (560, 300, 630, 420)) == 0  # nothing left of the origin


def test_a_gaze_left_and_down_points_there(zidane):
    out = draw(zidane, gaze([0.5, -0.3], [640, 360]))
    arrow = np.argwhere(np.any(out != zidane, axis=-1))
    assert arrow[:, 1].min() < 640 - 40 and arrow[:, 0].max() > 360 + 20


def test_gaze_sigma_draws_a_cone_around_the_arrow(zidane):
    plain = draw(zidane, gaze([-0.6, 0.0], [640, 360]))
    cone = draw(zidane, gaze([-0.6, 0.0], [640, 360], sigma=[0.2, 0.2]))
    wider = draw(zidane, gaze([-0.6, 0.0], [640, 360], sigma=[0.4, 0.4]))
    box = (640, 260, 800, 460)
    assert changed(wider, zidane, box) > changed(cone, zidane, box) > changed(plain, zidane, box)
    # the cone opens above and below the arrow, which itself stays on its row
    assert changed(plain, zidane, (655, 340, 700, 354)) == 0 and changed(cone, zidane, (655, 340, 700, 354)) > 50


def test_length_is_a_share_of_the_image(zidane):
    short = draw(zidane, gaze([-1.5, 0.0], [300, 360]), GazeAnnotator(length=0.1))  # ~72 px
    long = draw(zidane, gaze([-1.5, 0.0], [300, 360]), GazeAnnotator(length=0.4))  # ~288 px
    assert changed(short, zidane, (420, 340, 560, 380)) == 0 and changed(long, zidane, (420, 340, 560, 380)) > 100


def test_a_gaze_at_the_camera_is_a_ring_and_no_origin_draws_nothing(zidane):
    at_camera = draw(zidane, gaze([0.0, 0.0], [640, 360]))
    assert 0 < changed(at_camera, zidane, (600, 320, 681, 401)) < 1000
    no_origin = Gaze(yaw_pitch=np.array([[0.3, 0.1]], np.float32))
    assert changed(draw(zidane, no_origin), zidane, everywhere(zidane)) == 0
    nan = gaze([np.nan, 0.1], [640, 360], sigma=[0.2, 0.2])
    assert changed(draw(zidane, nan), zidane, everywhere(zidane)) == 0
