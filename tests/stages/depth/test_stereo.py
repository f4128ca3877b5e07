"""Stereo matching accuracy on ground truth: the synthetic sample and Middlebury Motorcycle."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from scipy.stats import rankdata

from sensorium.pipeline.io.sample import SampleSequence, make_sample
from sensorium.stages.depth import stereo
from sensorium.stages.camera import StereoCalibration


@dataclass
class Scores:
    coverage: float  # fraction of GT pixels with an estimate
    epe: float  # mean |d - gt| over those
    bad1: float  # fraction > 1 px
    bad2: float  # fraction > 2 px


def score(disparity: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> Scores:
    """Errors on pixels with finite GT, an estimate (d > 0) and in ``region``."""
    known = np.isfinite(gt) & (gt > 0)
    est = known & (disparity > 0) & (True if region is None else region)
    err = np.abs(disparity[est] - gt[est])
    return Scores(float(est.sum() / known.sum()), float(err.mean()), float((err > 1).mean()), float((err > 2).mean()))


def roc_auc(confidence: np.ndarray, bad: np.ndarray) -> float:
    """P(a good match has higher confidence than a bad one)."""
    ranks = rankdata(confidence)
    n_bad, n_good = int(bad.sum()), int((~bad).sum())
    return float((ranks[~bad].sum() - n_good * (n_good + 1) / 2) / (n_bad * n_good))


@pytest.fixture(scope="module")
def sample() -> SampleSequence:
    return make_sample(2)


MOTO = stereo.SGBMParams(num_disparities=128)


def test_motorcycle_ground_truth_marks_unknown_as_inf(motorcycle) -> None:
    left, right, gt = motorcycle
    assert left.shape == right.shape == (*gt.shape, 3) and gt.dtype == np.float32
    assert 0.02 < (~np.isfinite(gt)).mean() < 0.2  # occlusions/unknown are inf, not 0
    assert 5 < np.nanmin(gt[np.isfinite(gt)]) and np.max(gt[np.isfinite(gt)]) < MOTO.num_disparities


# --- accuracy ------------------------------------------------------------------------------------

# bounds measured on this implementation (synthetic: EPE 0.16-0.21 px, bad1 0.4-0.5%, bad2 0.2%
# on matched pixels) with ~1.5x margin; a 2 px vertical misalignment already breaks them
SYNTH_MATCHED = Scores(coverage=0.9, epe=0.3, bad1=0.015, bad2=0.006)
SYNTH_DENSE = Scores(coverage=0.94, epe=0.4, bad1=0.03, bad2=0.02)


def _corrupt(kind: str, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if kind == "none":
        return left, right
    if kind == "swapped":
        return right, left
    if kind == "right shifted down 2 px":
        return left, np.ascontiguousarray(np.roll(right, 2, axis=0))
    if kind == "right rotated 1 deg":
        h, w = right.shape[:2]
        M = cv2.getRotationMatrix2D((w / 2, h / 2), 1.0, 1.0)
        return left, cv2.warpAffine(right, M, (w, h), borderMode=cv2.BORDER_REFLECT)
    raise AssertionError(kind)


def _passes(s: Scores, bound: Scores) -> bool:
    return s.coverage >= bound.coverage and s.epe <= bound.epe and s.bad1 <= bound.bad1 and s.bad2 <= bound.bad2


@pytest.mark.parametrize(
    "frame, corruption, accurate",
    [
        (0, "none", True),
        (1, "none", True),
        (0, "swapped", False),
        (0, "right shifted down 2 px", False),
        (1, "right rotated 1 deg", False),
    ],
)
def test_synthetic_accuracy(sample: SampleSequence, frame: int, corruption: str, accurate: bool) -> None:
    left, right = _corrupt(corruption, sample.lefts[frame], sample.rights[frame])
    maps = stereo.match(left, right)
    gt = sample.disparities[frame]
    matched = score(np.where(maps.matched, maps.disparity, -1), gt)
    dense = score(maps.disparity, gt)
    assert _passes(matched, SYNTH_MATCHED) == accurate, matched
    assert _passes(dense, SYNTH_DENSE) == accurate, dense


def test_motorcycle_accuracy(motorcycle) -> None:
    left, right, gt = motorcycle
    maps = stereo.match(left, right, MOTO)
    matched = score(np.where(maps.matched, maps.disparity, -1), gt)
    dense = score(maps.disparity, gt)
    # measured: matched EPE 0.82, bad2 4.8%, coverage 82%; dense EPE 1.41, bad2 10%, coverage 96%
    assert matched.coverage > 0.75 and matched.epe < 1.0 and matched.bad2 < 0.06, matched
    assert dense.coverage > 0.93 and dense.epe < 1.8 and dense.bad2 < 0.13, dense
    # the same images with the right view 2 px lower fail those bounds
    bad = stereo.match(left, np.ascontiguousarray(np.roll(right, 2, axis=0)), MOTO)
    broken = score(np.where(bad.matched, bad.disparity, -1), gt)
    assert not (broken.coverage > 0.75 and broken.epe < 1.0 and broken.bad2 < 0.06), broken


@pytest.mark.parametrize("case", ["synthetic", "motorcycle"])
def test_lr_check_reduces_errors(sample: SampleSequence, motorcycle, case: str) -> None:
    if case == "synthetic":
        left, right, gt, params = sample.lefts[0], sample.rights[0], sample.disparities[0], stereo.SGBMParams()
    else:
        (left, right, gt), params = motorcycle, MOTO
    without = stereo.match(left, right, params, lr_check=False, fill=False)
    with_lr = stereo.match(left, right, params, lr_check=True, fill=False)
    a, b = score(without.disparity, gt), score(with_lr.disparity, gt)
    assert b.bad1 < 0.85 * a.bad1 and b.bad2 < 0.85 * a.bad2 and b.epe < a.epe, (a, b)
    assert b.coverage > a.coverage - 0.1  # it removes mismatches, not half the image


@pytest.mark.parametrize("lr_scale, expectation", [("half_width", does_not_raise()), ("half", does_not_raise()),
                                                      ("quarter", pytest.raises(ValueError, match="lr_scale"))])
def test_a_smaller_right_view_checks_as_well(motorcycle, lr_scale: str, expectation) -> None:
    """The right view matched at half width (or half size) keeps the checked pixels about as
    accurate as the full-size check's, at a quarter (an eighth) of its cost; no check at all
    does not pass the same bounds."""
    left, right, gt = motorcycle
    full = score(stereo.match(left, right, MOTO, fill=False).disparity, gt)
    with expectation:
        small = score(stereo.match(left, right, MOTO, fill=False, lr_scale=lr_scale).disparity, gt)
        # measured (half width): coverage 87.5% vs 88.3%, EPE 0.86 vs 0.83, bad-2 5.2% vs 4.9%
        assert small.coverage > full.coverage - 0.03 and small.epe < 1.1 * full.epe and small.bad2 < 1.15 * full.bad2, (full, small)
        unchecked = score(stereo.match(left, right, MOTO, fill=False, lr_check=False).disparity, gt)
        assert not (unchecked.epe < 1.1 * full.epe and unchecked.bad2 < 1.15 * full.bad2), unchecked


@pytest.mark.parametrize("fill_filter", ["none", "guided"])
def test_rejected_holes_keep_the_match_value(motorcycle, fill_filter: str) -> None:
    """With ``keep_rejected`` a textured hole the LR check made carries SGBM's own value, as a
    filled, low-confidence pixel; untextured ones, holes SGBM gave nothing for, and the
    unfillable border band, are as without it; the measured pixels are untouched."""
    left, right, _ = motorcycle
    params = stereo.SGBMParams(64, block_size=3)
    raw = stereo.compute_disparity(left, right, params)
    kept = stereo.match(left, right, params, lr_scale="half_width", fill_filter=fill_filter, keep_rejected=True)
    plain = stereo.match(left, right, params, lr_scale="half_width", fill_filter=fill_filter)
    assert np.array_equal(kept.matched, plain.matched) and np.array_equal(kept.filled, plain.filled)
    textured = stereo.texture_confidence(stereo.to_grey(left), params.block_size) >= 1.0
    rejected = plain.filled & (raw > 0) & textured
    assert rejected.mean() > 0.02  # Motorcycle: ~4% of the image
    assert np.array_equal(kept.disparity[rejected], raw[rejected])
    assert not np.array_equal(plain.disparity[rejected], raw[rejected])
    others = ~rejected
    assert np.array_equal(kept.disparity[others], plain.disparity[others])
    assert (kept.confidence[kept.filled] <= stereo.FILLED_CONFIDENCE).all()
    assert (kept.disparity[~kept.matched & ~kept.filled] <= 0).all()


@pytest.mark.parametrize("case, min_auc", [("synthetic", 0.9), ("motorcycle", 0.65)])
def test_confidence_ranks_errors(sample: SampleSequence, motorcycle, case: str, min_auc: float) -> None:
    """Confidence orders bad (> 2 px) matches below good ones; filled pixels rank lowest."""
    if case == "synthetic":
        left, right, gt, params = sample.lefts[1], sample.rights[1], sample.disparities[1], stereo.SGBMParams()
    else:
        (left, right, gt), params = motorcycle, MOTO
    maps = stereo.match(left, right, params)
    conf = maps.confidence
    assert conf.dtype == np.float32 and conf.min() >= 0 and conf.max() <= 1
    assert (conf[maps.disparity <= 0] == 0).all()
    est = np.isfinite(gt) & maps.matched
    bad = np.abs(maps.disparity - gt)[est] > 2
    assert roc_auc(conf[est], bad) > min_auc
    assert conf[maps.filled].max() <= stereo.FILLED_CONFIDENCE < np.median(conf[maps.matched])


# --- rectification -------------------------------------------------------------------------------


def _rotated_rig(sample: SampleSequence, frame: int, angles: tuple[float, float, float]) -> tuple[StereoCalibration, np.ndarray]:
    """The sample's right camera turned about its centre by ``angles`` (rad): calibration + image.

    A pure rotation maps images by the homography K R K^-1, so the turned camera's image is
    exact; its calibration is R_c, T = R_c @ T_ideal (X_right' = R_c (X_left + T_ideal)).
    """
    K = sample.calib.K1
    R_c = cv2.Rodrigues(np.asarray(angles, dtype=np.float64))[0]
    H = K @ R_c @ np.linalg.inv(K)
    right = cv2.warpPerspective(sample.rights[frame], H, (640, 480), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    c = sample.calib
    return StereoCalibration(c.K1, c.D1, c.K2, c.D2, R_c, R_c @ c.T, c.width, c.height), right


def _depth_error_in_original_camera(sample: SampleSequence, frame: int, disparity: np.ndarray, rect: stereo.Rectification) -> float:
    """Median relative depth error after mapping rectified 3D points back to the original left camera."""
    pts = cv2.reprojectImageTo3D(disparity, rect.Q)[disparity > 0]  # rectified left camera frame
    pts = pts @ rect.R  # X_left = R^T X_rect
    pts = pts[pts[:, 2] > 0]
    uv = pts[:, :2] / pts[:, 2:] * sample.calib.K1[0, 0] + sample.calib.K1[:2, 2]
    u, v = np.rint(uv).astype(int).T
    ok = (u >= 0) & (u < 640) & (v >= 0) & (v < 480)
    gt = sample.depths[frame][v[ok], u[ok]]
    return float(np.median(np.abs(pts[ok, 2] - gt) / gt))


def test_rectification_undoes_a_rotated_camera(sample: SampleSequence) -> None:
    calib, right = _rotated_rig(sample, 0, (0.012, -0.01, 0.008))
    assert not stereo.is_rectified(calib)
    rect = stereo.rectification(calib)
    assert not rect.identity
    left_r, right_r, Q, K = stereo.rectify(sample.lefts[0], right, calib)
    assert left_r.shape == right_r.shape == (480, 640, 3)
    assert np.array_equal(Q, rect.Q) and np.array_equal(K, rect.K)
    maps = stereo.match(left_r, right_r)
    assert maps.matched.mean() > 0.85
    assert _depth_error_in_original_camera(sample, 0, maps.disparity, rect) < 0.02
    # matching the same pair without rectifying is far worse: the test can tell
    raw = stereo.match(sample.lefts[0], right)
    assert raw.matched.mean() < 0.5 * maps.matched.mean()


def test_ideal_pair_is_not_resampled(sample: SampleSequence) -> None:
    left_r, right_r, Q, K = stereo.rectify(sample.lefts[0], sample.rights[0], sample.calib)
    assert left_r is sample.lefts[0] and right_r is sample.rights[0]
    assert np.array_equal(K, sample.calib.K1)
    assert np.allclose(Q, stereo.ideal_q(525.0, 319.5, 239.5, 0.12))


def test_rectification_is_cached_by_contents(sample: SampleSequence) -> None:
    calib, _ = _rotated_rig(sample, 0, (0.01, 0.0, 0.0))
    same, _ = _rotated_rig(sample, 0, (0.01, 0.0, 0.0))  # equal contents, another object
    assert stereo.rectification(calib) is stereo.rectification(same)
    assert stereo.rectification(calib, (320, 240)) is not stereo.rectification(calib)


def test_half_size_images_use_a_scaled_calibration(sample: SampleSequence) -> None:
    small = stereo.scale_calibration(sample.calib, 320, 240)
    assert small.K1[0, 0] == pytest.approx(262.5) and small.K1[0, 2] == pytest.approx(159.5)
    with pytest.raises(ValueError, match="aspect ratio"):
        stereo.scale_calibration(sample.calib, 640, 360)


def test_swapped_calibration_is_rejected(sample: SampleSequence) -> None:
    c = sample.calib
    R = cv2.Rodrigues(np.array([0.0, 0.01, 0.0]))[0]
    swapped = StereoCalibration(c.K1, c.D1, c.K2, c.D2, R, -c.T, c.width, c.height)
    with pytest.raises(ValueError, match="swapped"):
        stereo.rectification(swapped)


# --- pieces --------------------------------------------------------------------------------------


def test_disparity_to_depth_is_f_b_over_d(sample: SampleSequence) -> None:
    Q = stereo.rectification(sample.calib).Q
    depth = stereo.disparity_to_depth(sample.disparities[0], Q)
    assert np.allclose(depth, sample.depths[0], rtol=1e-5)
    d = np.array([[-1.0, 0.0, 10.0, 63.0]], dtype=np.float32)
    assert np.allclose(stereo.disparity_to_depth(d, Q), [[0, 0, 525 * 0.12 / 10, 525 * 0.12 / 63]])
    # a formula without the baseline (or with f in the wrong place) is far off
    assert not np.allclose(stereo.disparity_to_depth(sample.disparities[0], stereo.ideal_q(525.0, 319.5, 239.5, 1.0)), sample.depths[0], rtol=0.05)


def test_fill_prefers_background_and_keeps_measurements() -> None:
    grey = np.full((20, 60), 128, np.uint8)
    grey[:, 30:] = 30  # a strong edge where the foreground starts
    disp = np.full((20, 60), 10.0, np.float32)  # background
    disp[:, 30:] = 40.0  # foreground
    disp[:, 20:30] = -1  # occlusion hole left of the foreground
    disp[:, :5] = -1  # hole touching the left border: no background to borrow
    filled, was_filled = stereo.fill_holes(disp, grey)
    assert np.allclose(filled[:, 20:30], 10.0, atol=1.0)  # background, not foreground
    # the smoothing stops at the image edge; without one it would blend the two surfaces
    flat, _ = stereo.fill_holes(disp, np.full_like(grey, 128))
    assert flat[0, 29] > 15.0 > filled[0, 29] + 4
    assert (filled[:, :5] <= 0).all() and not was_filled[:, :5].any()
    assert was_filled[:, 20:30].all() and not was_filled[:, 5:20].any()
    assert np.array_equal(filled[:, 30:], disp[:, 30:]) and np.array_equal(filled[:, 5:20], disp[:, 5:20])


def test_lr_consistency_flags_a_mismatch() -> None:
    dl = np.full((4, 40), 5.0, np.float32)
    dr = np.full((4, 40), 5.0, np.float32)
    dl[0, 20] = 9.0  # points at a right pixel that says 5
    err = stereo.lr_consistency(dl, dr)
    assert err[0, 20] == pytest.approx(4.0) and err[1, 20] == 0
    assert np.isinf(err[:, :5]).all()  # matches outside the right image


@pytest.mark.parametrize(
    "kwargs, expectation",
    [
        ({}, does_not_raise()),
        ({"num_disparities": 60}, pytest.raises(ValueError, match="multiple of 16")),
        ({"block_size": 4}, pytest.raises(ValueError, match="odd")),
        ({"uniqueness_ratio": 150}, pytest.raises(ValueError, match="uniqueness_ratio")),
    ],
)
def test_sgbm_params_validate(kwargs: dict, expectation) -> None:
    with expectation:
        stereo.SGBMParams(**kwargs).matcher()


def test_pair_shapes_are_checked(sample: SampleSequence) -> None:
    with pytest.raises(ValueError, match=r"differ in shape: \(480, 640, 3\) vs \(240, 320, 3\)"):
        stereo.match(sample.lefts[0], sample.rights[0][::2, ::2])
    with pytest.raises(ValueError, match="uint8"):
        stereo.compute_disparity(sample.lefts[0].astype(np.float32), sample.rights[0].astype(np.float32))
