"""Occlusion handling: uniqueness violations, the left border band, and the stage option on Motorcycle."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.stages.depth import stereo
from sensorium.stages.depth.evaluate import evaluate_disparity
from sensorium.stages.depth.occlusion import BORDER_STEP, drop_occluded, extend_left_border, ordering_violations
from sensorium.stages.depth.stage import DepthStage
from sensorium.stages.frame import Frame


def _row(values: list[float]) -> np.ndarray:
    return np.array([values], np.float32)


def test_ordering_violations_flag_the_pixels_that_land_on_one_right_pixel() -> None:
    """Background at 2 px, foreground at 6 px from column 6: background pixels 2-5 land on the
    right pixels 0-3, where the foreground (columns 6-9) lands too, in front: they are occluded;
    seen from the other side, the foreground pixels shadow them."""
    d = _row([2, 2, 2, 2, 2, 2, 6, 6, 6, 6])  # lands (x - d): -2 -1 0 1 2 3 | 0 1 2 3
    occluded, shadowing = ordering_violations(d)
    assert occluded[0].tolist() == [False, False, True, True, True, True, False, False, False, False]
    assert shadowing[0].tolist() == [False] * 6 + [True] * 4
    # a map that keeps the order (a slanted surface, an unknown pixel) has no violation
    ok = _row([3, 3, 3.5, 4, -1, 4.5, 5, 5])
    assert not any(m.any() for m in ordering_violations(ok))
    # a margin forgives violations up to that many pixels
    assert not ordering_violations(_row([2, 2, 3.5]), margin=1.0)[0].any()
    assert ordering_violations(_row([2, 2, 3.5]))[0].any()


def test_left_border_band_extends_up_to_an_image_edge() -> None:
    d = np.full((2, 8), -1, np.float32)
    d[:, 4:] = 5.0
    grey = np.full((2, 8), 100, np.uint8)
    grey[1, :2] = 10  # row 1: an edge between columns 1 and 2
    out, ext = extend_left_border(d, grey)
    assert out[0].tolist() == [5.0] * 8 and ext[0, :4].all() and not ext[0, 4:].any()
    assert out[1].tolist() == [-1, -1] + [5.0] * 6 and ext[1].tolist() == [False, False, True, True] + [False] * 4
    empty = np.full((2, 8), -1, np.float32)  # a row with nothing known stays unknown
    assert not extend_left_border(empty, grey)[1].any()


def test_left_border_band_is_its_definition_row_by_row() -> None:
    """Random maps against the docstring, one row at a time: from the row's first known pixel
    leftwards, until a step above BORDER_STEP; rows first known anywhere (the band is only as wide
    as the widest row's unknown start), and rows with nothing known."""
    rng = np.random.default_rng(3)
    for trial in range(40):
        h, w = int(rng.integers(1, 12)), int(rng.integers(1, 40))
        d = (rng.random((h, w)) * 9 + 1).astype(np.float32)
        d[rng.random((h, w)) < rng.random()] = -1
        d[rng.random(h) < 0.2] = -1
        grey = (rng.integers(0, 6, (h, w)) * 4).astype(np.uint8)  # steps of 0..20 grey levels around the threshold 10
        out, ext = extend_left_border(d, grey)
        expected = d.copy()
        for y in range(h):
            known = np.flatnonzero(d[y] > 0)
            if known.size:
                x = known[0]
                while x > 0 and abs(int(grey[y, x]) - int(grey[y, x - 1])) <= BORDER_STEP:
                    x -= 1
                    expected[y, x] = d[y, known[0]]
        np.testing.assert_array_equal(out, expected, err_msg=f"trial {trial}")
        np.testing.assert_array_equal(ext, (expected != d), err_msg=f"trial {trial}")


@pytest.mark.parametrize(
    "disparity, grey, expectation",
    [
        (np.zeros((4, 6), np.float32), np.zeros((4, 6), np.uint8), does_not_raise()),
        (np.zeros((4, 6), np.float32), np.zeros((4, 5), np.uint8), pytest.raises(ValueError, match=r"\(4, 6\).*\(4, 5\)")),
    ],
)
def test_extend_left_border_checks_sizes(disparity, grey, expectation) -> None:
    with expectation:
        extend_left_border(disparity, grey)


def test_drop_occluded_keeps_the_maps_consistent() -> None:
    d = np.tile(_row([2, 2, 2, 2, 2, 2, 6, 6, 6, 6]), (3, 1))
    filled = np.zeros_like(d, bool)
    filled[:, 6] = True  # a filled foreground pixel that covers the background
    maps = stereo.StereoMaps(d, np.full_like(d, 0.5), ~filled, filled)
    out = drop_occluded(maps, np.full(d.shape, 100, np.uint8))
    dropped = out.disparity <= 0
    assert dropped[:, 2:7].all() and not dropped[:, 7:].any()  # occluded 2-5 and the shadowing fill 6
    assert (out.confidence[dropped] == 0).all() and not (out.matched & dropped).any() and not (out.filled & dropped).any()
    assert out.matched[:, 7:].all()  # measured foreground pixels that shadow are kept


def test_stage_option_trades_coverage_for_accuracy_on_motorcycle(motorcycle) -> None:
    """``drop_occluded`` alone (margin 0) on the pipeline before #15's seventh round: measured 92.7%
    coverage at 0.970 px / 5.55% bad-2 against its 96.5% at 1.317 / 7.88% (plain SGBM with the
    true range: 86.4% at 1.050 / 6.10%)."""
    left, right, gt = motorcycle

    def run(options: dict):
        (frame,) = DepthStage(options)([Frame("moto", 0, image=left, right=right)])
        assert frame.ok, frame.errors
        return frame.results["depth"], evaluate_disparity(frame.results["depth"].disparity, gt)

    previous = {"lr_scale": "half", "cross_check": False, "drop_occluded": False, "fill_planes": False, "periodic_guard": False}
    _, base = run(previous)
    result, dropped = run({**previous, "drop_occluded": True, "occlusion_margin": 0.0})
    assert dropped.epe < 0.8 * base.epe and dropped.bad2 < 0.8 * base.bad2, (dropped, base)
    assert dropped.epe < 1.050 and dropped.bad2 < 0.0610 and dropped.coverage > 0.9, dropped
    d, c = result.disparity, result.confidence
    assert (c[d <= 0] == 0).all() and result.metadata["matched_fraction"] < 0.9


def test_confirmed_pixels_are_kept_where_they_land_inside_the_right_image() -> None:
    d = np.tile(_row([2, 2, 2, 2, 2, 2, 6, 6, 6, 6]), (3, 1))
    maps = stereo.StereoMaps(d, np.full_like(d, 0.5), np.ones_like(d, bool), np.zeros_like(d, bool))
    confirmed = np.zeros_like(d, bool)
    confirmed[:, [2, 5]] = True  # land at 0 (the image's edge: not kept) and 3 (inside: kept)
    out = drop_occluded(maps, np.full(d.shape, 100, np.uint8), confirmed=confirmed)
    assert (out.disparity[:, 5] == 2).all() and (out.disparity[:, 2:5] <= 0).all()
    with pytest.raises(ValueError, match=r"confirmed \(2, 2\)"):
        drop_occluded(maps, np.full(d.shape, 100, np.uint8), confirmed=np.zeros((2, 2), bool))
