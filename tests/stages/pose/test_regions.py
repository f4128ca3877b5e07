"""Person regions: detector tiles cover the frame, boxes make upright regions, tracks re-detect on schedule."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.models.arch.mediapipe import pose
from sensorium.models.arch.mediapipe.roi import Roi
from sensorium.stages.pose.regions import RegionTracker, rois_from_boxes, tile_windows


@pytest.mark.parametrize("h, w, tiles, count", [(576, 768, 1, 1), (576, 768, 2, 5), (576, 768, 3, 10), (100, 50, 4, 17)])
def test_tiles_cover_the_frame_and_overlap(h, w, tiles, count):
    windows = tile_windows(h, w, tiles)
    assert len(windows) == count and windows[0] == (0, 0, w, h)
    covered = np.zeros((h, w), int)
    for x0, y0, x1, y1 in windows[1:] or windows:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    if tiles > 1:  # neighbouring tiles overlap, so a person on a seam is whole in one of them
        assert (covered >= 2).any()


def test_boxes_make_upright_regions_and_skip_degenerate_ones():
    rois = rois_from_boxes(np.array([[100, 50, 200, 350], [10, 10, 10, 40], [0, 0, np.nan, 5]], np.float32))
    assert len(rois) == 1
    r = rois[0]
    assert (r.cx, r.cy, r.angle) == (150.0, 200.0, 0.0) and r.side == pytest.approx(300 * pose.ROI_SCALE)


def test_tracker_reuses_regions_until_redetect_is_due():
    tracker = RegionTracker(redetect_every=3)
    roi = Roi(10.0, 10.0, 5.0, 0.0)
    assert tracker.regions("cam") is None  # nothing tracked: detect
    tracker.update("cam", [roi], detected=True)
    assert tracker.regions("cam") == [roi] and tracker.regions("other") is None
    tracker.update("cam", [roi], detected=False)
    tracker.update("cam", [roi], detected=False)
    assert tracker.regions("cam") is None  # three frames since the detector ran
    tracker.update("cam", [], detected=True)
    assert tracker.regions("cam") is None  # everyone lost: detect again
    tracker.update("cam", [roi], detected=True)
    tracker.reset("cam")
    assert tracker.regions("cam") is None


def test_tracker_rejects_a_bad_schedule():
    with pytest.raises(ValueError, match="redetect_every: expected >= 1, got 0"):
        RegionTracker(0)
