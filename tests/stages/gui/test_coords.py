"""The coordinate contract: smart_resize, every space round-trips to screen pixels, off-screen refused."""

from __future__ import annotations

import math

import pytest

from sensorium.stages.gui.coords import MAX_PIXELS, MIN_PIXELS, SPACES, CoordinateError, Screen, from_screen, smart_resize, to_screen

SCREENS = {
    "1920x1080": Screen(1920, 1080),
    "2560x1440 at DPR 2": Screen(2560, 1440, dpr=2.0),
    "portrait phone 1080x2400 at DPR 2.625": Screen(1080, 2400, dpr=2.625),
    "phone with explicit logical size": Screen(1440, 2560, width=360, height=640),
    "tiny window 120x80": Screen(120, 80),
    "tiny HiDPI window": Screen(64, 40, dpr=2.0),
}


@pytest.mark.parametrize("h, w", [(1080, 1920), (1440, 2560), (2400, 1080), (80, 120), (28, 28), (10, 2000), (8000, 8000), (1, 150)])
def test_smart_resize_rules(h, w):
    rh, rw = smart_resize(h, w)
    assert rh % 28 == 0 and rw % 28 == 0
    assert MIN_PIXELS <= rh * rw <= MAX_PIXELS
    assert abs(math.log((rh / rw) / (h / w))) < 0.35  # aspect kept (up to rounding to 28)


def test_smart_resize_known_values():
    assert smart_resize(1080, 1920) == (1092, 1932)  # each side to the nearest multiple of 28
    assert smart_resize(80, 120) == (252, 364)  # scaled up to at least 100 patches of 28x28
    with pytest.raises(CoordinateError, match="aspect ratio"):
        smart_resize(10, 2500)


@pytest.mark.parametrize("name", SCREENS)
@pytest.mark.parametrize("space", SPACES)
def test_round_trip_through_every_space(name, space):
    screen = SCREENS[name]
    for fx, fy in [(0.0, 0.0), (0.5, 0.5), (0.999, 0.001), (0.25, 0.8)]:
        sx, sy = fx * screen.width, fy * screen.height
        x, y = from_screen(sx, sy, space, screen)
        assert to_screen(x, y, space, screen) == pytest.approx((sx, sy), abs=1e-6)


def test_spaces_mean_what_they_say():
    s = Screen(2560, 1440, dpr=2.0)  # logical 1280x720
    assert to_screen(1280, 720, "physical_px", s) == pytest.approx((640, 360))
    assert to_screen(500, 500, "rel1000", s) == pytest.approx((640, 360))
    rh, rw = smart_resize(1440, 2560)
    assert to_screen(rw / 2, rh / 2, "smart_resized_abs", s) == pytest.approx((640, 360))
    assert to_screen(640, 360, "screen_px", s) == (640, 360)


@pytest.mark.parametrize("x, y, space", [(1001 * 1.01, 10, "rel1000"), (-5, 10, "screen_px"), (1920, 2000, "physical_px"), (float("nan"), 1, "rel1000")])
def test_off_screen_points_are_refused(x, y, space):
    with pytest.raises(CoordinateError):
        to_screen(x, y, space, Screen(1920, 1080))


def test_edge_points_within_a_pixel_are_kept():
    assert to_screen(1000, 1000, "rel1000", Screen(1920, 1080))[0] < 1920


@pytest.mark.parametrize("kwargs", [dict(image_width=0, image_height=10), dict(image_width=10, image_height=10, dpr=0), dict(image_width=10, image_height=10, width=5)])
def test_bad_screens(kwargs):
    with pytest.raises(CoordinateError):
        Screen(**kwargs)


def test_unknown_space():
    with pytest.raises(CoordinateError, match="unknown coordinate space"):
        to_screen(1, 1, "inches", Screen(10, 10))
