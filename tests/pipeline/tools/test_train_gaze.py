"""Degradations carry the camera through; the splits do not share frames or files."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.tools.train_gaze import CLIP_BLOCK, CLIP_GAP, SPLITS, angular_error, degrade, split_images


def test_degradations_keep_boxes_in_the_image_and_scale_the_camera_with_it():
    img = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[100, 60, 180, 160], [10, 10, 60, 70]], np.float32)
    lms = np.stack([boxes[:, :2] + [20, 30], boxes[:, :2] + [60, 30], boxes[:, :2] + [40, 50], boxes[:, :2] + [25, 70],
                    boxes[:, :2] + [55, 70]], 1)
    K = np.array([[320.0, 0, 160], [0, 320.0, 120], [0, 0, 1]])
    for seed in range(30):
        d = degrade(img, boxes, lms, K, np.random.default_rng(seed))
        h, w = d.image.shape[:2]
        assert d.boxes.shape == (int(d.keep.sum()), 4) and d.landmarks.shape == (int(d.keep.sum()), 5, 2)
        assert (d.boxes[:, [0, 2]] >= 0).all() and (d.boxes[:, [0, 2]] <= w).all() and (d.boxes[:, [1, 3]] <= h).all()
        assert d.K[0, 0] == pytest.approx(d.K[1, 1]) and 0.19 * 320 <= d.K[0, 0] <= 320  # focal scaled with the image


def test_splits_share_no_file_and_no_clip_frame(data_dir):
    assert not set(SPLITS["train"][1]) & set(SPLITS["heldout"][1])
    frames = {s: [int(k[5:]) for k, _ in split_images(data_dir, s, 1) if k.startswith("clip#")] for s in SPLITS}
    assert frames["train"][:2] == [0, 1] and frames["heldout"][0] == CLIP_BLOCK and len(frames["heldout"]) > 60
    gap = min(abs(a - b) for a in frames["train"] for b in frames["heldout"])
    assert gap == CLIP_GAP + 1  # no two neighbouring frames straddle the split
    keys = [k for k, _ in split_images(data_dir, "heldout", 8)]
    assert keys[:2] == [f"clip#{CLIP_BLOCK}", f"clip#{CLIP_BLOCK + 8}"] and keys[-1] == "photos/zidane.jpg"
    with pytest.raises(ValueError, match="split: expected one of"):
        next(split_images(data_dir, "test", 1))


def test_angular_error_in_degrees():
    a = np.array([[0.0, 0.0], [0.1, 0.0]], np.float32)
    b = np.array([[0.0, np.radians(10)], [0.1, 0.0]], np.float32)
    np.testing.assert_allclose(angular_error(a, b), [10.0, 0.0], atol=1e-3)
