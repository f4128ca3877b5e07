"""The pose sigma head's data and calibration: degradations keep the geometry, the shipped head's
sigma is informative and calibrated on held-out real frames."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.models.arch.mediapipe.roi import Roi
from sensorium.models.zoo.pose_sigma import WEIGHTS_FILE
from sensorium.pipeline.tools.train_pose import PoseTrainConfig, build_cache, calibration, degrade, read_frames, to_crop_norm


def test_degradations_keep_coordinates_or_say_the_offset():
    image = np.zeros((300, 400, 3), np.uint8)
    roi = Roi(200.0, 150.0, 200.0, 0.0)
    shapes = set()
    for seed in range(40):
        out, r, offset = degrade(image, roi, np.random.default_rng(seed))
        assert out.dtype == np.uint8 and out.ndim == 3
        # the degraded copy is a window of the original at ``offset``; the region moves with it
        assert out.shape[0] + offset[1] <= image.shape[0] and out.shape[1] + offset[0] <= image.shape[1]
        assert abs(r.cx + offset[0] - roi.cx) < 0.3 * roi.side and abs(r.cy + offset[1] - roi.cy) < 0.3 * roi.side
        assert 0.6 < r.side / roi.side < 1.6
        shapes.add(out.shape == image.shape)
    assert shapes == {True, False}  # some truncated at the border, some whole


def test_crop_normalised_coordinates_invert_the_crop():
    roi = Roi(100.0, 80.0, 64.0, 0.3)
    affine = roi.patch_to_image(256)
    crop_px = np.array([[0.0, 0.0], [128.0, 128.0], [256.0, 64.0]])
    image_px = crop_px @ affine[:, :2].T + affine[:, 2]
    assert np.allclose(to_crop_norm(image_px, affine), crop_px / 256 - 0.5, atol=1e-5)


def test_the_splits_do_not_share_frames(data_dir):
    train = {i for i, _ in read_frames(data_dir / "video/short_hamilton_clip.mp4", "train", 40)}
    held = {i for i, _ in read_frames(data_dir / "video/short_hamilton_clip.mp4", "held_out", 16)}
    assert train and held and max(train) + 5 < min(held)
    assert read_frames(data_dir / "photos/bus.jpg", "held_out", 16) == []


#: sigma must rank errors clearly better than chance, and the 2-sigma box must hold what the
#: learned density says within 10 points (the shipped head's numbers are in its JSON)
SPEARMAN_FLOOR = 0.2
COVERAGE_TOLERANCE = 0.10


@pytest.mark.skipif(not WEIGHTS_FILE.is_file(), reason="no shipped head")
def test_the_shipped_sigma_is_informative_and_calibrated_on_held_out_frames(data_dir):
    from sensorium.models.hub.runtime import RuntimeConfig
    from sensorium.stages.pose.sigma import SigmaHead

    head = SigmaHead(WEIGHTS_FILE, RuntimeConfig(providers=("cpu",), warmup_runs=0))
    cache = build_cache(data_dir, "held_out", PoseTrainConfig(held_out_frames=5, repeats=4, seed=1))
    mu, sigma = head(cache["features"])
    predicted = {int(k): v for k, v in head.info.predicted_coverage.items()}
    radii = {float(p): k for p, k in head.info.coverage_radius.items()}
    m = calibration(mu, sigma, cache, predicted, radii)
    print(m)
    assert m["points"] > 500
    assert m["spearman_sigma_abs_error"] > SPEARMAN_FLOOR
    assert abs(m["coverage_2sigma"] - m["predicted_coverage_2sigma"]) < COVERAGE_TOLERANCE
    # the 2-sigma box holds nearly everything under a wide density; the box the density says holds
    # 95 % is the sharper check
    assert abs(m["coverage_at_p95"] - 0.95) < COVERAGE_TOLERANCE
