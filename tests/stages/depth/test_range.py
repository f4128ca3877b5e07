"""Automatic disparity range: the coarse pass on real pairs, shifted scenes, hysteresis."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest
from skimage import data as skdata

from sensorium.pipeline.io.sample import make_sample
from sensorium.stages.depth import stereo
from sensorium.stages.depth.range import DisparityRange, RangeTracker, auto_range, coarse_estimate, metric_range, to_range


@pytest.fixture(scope="module")
def motorcycle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    left, right, gt = skdata.stereo_motorcycle()
    return stereo.to_grey(left), stereo.to_grey(right), gt


def shifted(left: np.ndarray, right: np.ndarray, gt: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same scene with every disparity ``s`` px larger: crop the left's right edge, the right's left edge."""
    return np.ascontiguousarray(left[:, : -s]), np.ascontiguousarray(right[:, s:]), gt[:, : -s] + s


def covers(rng: DisparityRange, gt: np.ndarray, share: float = 0.995) -> bool:
    g = gt[np.isfinite(gt)]
    return float(((g >= rng.min_disparity) & (g < rng.max_disparity)).mean()) >= share


@pytest.mark.parametrize("shift", [0, 80, 150])
def test_range_follows_the_scene(motorcycle, shift: int) -> None:
    """Motorcycle's disparities are 7-60 px; shifted by 80 or 150 px they exceed the old default 64."""
    left, right, gt = shifted(*motorcycle, shift) if shift else motorcycle
    est = coarse_estimate(left, right, 320)
    rng = to_range(*auto_range(est, 256), "auto", 256)
    assert covers(rng, gt), (rng, np.nanmin(gt[np.isfinite(gt)]), np.nanmax(gt[np.isfinite(gt)]))
    assert rng.num_disparities <= 96  # tight: the scene spans ~53 px, not the whole search
    assert est.negative_fraction < 0.05 and est.saturated_fraction(rng.max_disparity) < 0.01
    # the old default [0, 64) misses most of the shifted scene, and the estimate says how much
    if shift:
        assert est.saturated_fraction(64) > 0.9


@pytest.mark.parametrize("scale, expectation", [(4, does_not_raise()), (8, does_not_raise()),
                                                (0, pytest.raises(ValueError, match="coarse scale: expected >= 1, got 0"))])
def test_coarse_scale(motorcycle, scale: int, expectation) -> None:
    """The fast preset's 1/8 pass still covers the scene (with a coarser step)."""
    left, right, gt = shifted(*motorcycle, 80)
    with expectation:
        est = coarse_estimate(left, right, 320, scale)
        assert est.scale == scale and est.disparities.shape == (left.shape[0] // scale, left.shape[1] // scale)
        assert covers(to_range(*auto_range(est, 256), "auto", 256), gt)


def test_swapped_pair_has_negative_disparities(motorcycle) -> None:
    left, right, _ = motorcycle
    assert coarse_estimate(right, left, 320).negative_fraction > 0.9
    assert coarse_estimate(left, right, 320).negative_fraction < 0.05


def test_blank_pair_has_no_estimate() -> None:
    blank = np.full((480, 640), 128, np.uint8)
    est = coarse_estimate(blank, blank, 320)
    assert est.low is None and est.high is None and auto_range(est, 256) is None


def test_metric_range_is_f_b_over_z() -> None:
    assert metric_range(525.0, 0.12, 1.0, 10.0) == pytest.approx((6.3, 63.0))
    rng = to_range(6.3, 63.0, "metric", 256)
    assert (rng.min_disparity, rng.num_disparities) == (6, 64)
    with pytest.raises(ValueError, match="min_depth_m < max_depth_m"):
        metric_range(525.0, 0.12, 5.0, 1.0)


def test_video_range_widens_at_once_and_narrows_slowly() -> None:
    """A near object enters the sample scene: its first frame's range already covers it."""
    seq = make_sample(1)
    tracker = RangeTracker(shrink=0.1)
    far_l, far_r = stereo.to_grey(seq.lefts[0]), stereo.to_grey(seq.rights[0])
    # the near object: a textured patch pasted at 120 px disparity into both views
    rng_ = np.random.default_rng(0)
    patch = (rng_.random((120, 40)) * 255).astype(np.uint8)
    near_l, near_r = far_l.copy(), far_r.copy()
    near_l[200:320, 400:520] = np.kron(patch, np.ones((1, 3), np.uint8))
    near_r[200:320, 280:400] = np.kron(patch, np.ones((1, 3), np.uint8))
    ranges = []
    for left, right in [(far_l, far_r)] * 3 + [(near_l, near_r)] + [(far_l, far_r)] * 12:
        lo, hi = tracker.update(*auto_range(coarse_estimate(left, right, 320), 256))
        ranges.append(to_range(lo, hi, "auto", 256))
    assert ranges[2].max_disparity < 64  # the sample's own disparities end at ~46 px
    assert ranges[3].max_disparity > 120  # widened in the frame the object entered
    assert ranges[4].max_disparity > 112  # narrows slowly after it leaves...
    assert ranges[-1].max_disparity < ranges[4].max_disparity  # ...but it does narrow
    with pytest.raises(ValueError, match="shrink"):
        RangeTracker(shrink=0)
