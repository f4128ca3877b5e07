"""3D lifting on the synthetic sample, whose objects' positions are known."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.io.sample import make_sample
from sensorium.stages.depth.stage import DepthStage
from sensorium.stages.frame import Frame
from sensorium.stages.detect.lift3d import lift_detections
from sensorium.stages.results import Depth, Detections


@pytest.fixture(scope="module")
def sample():
    return make_sample(n_frames=4)


def _truth(seq, i):
    objs = seq.objects[i]
    dets = Detections(boxes=np.stack([o.box for o in objs]), scores=np.ones(len(objs)), class_id=np.array([o.class_id for o in objs]))
    return objs, dets


def _errors(seq, depth_for):
    rows = []
    for i in range(len(seq.lefts)):
        objs, dets = _truth(seq, i)
        lifted = lift_detections(dets, depth_for(i))
        for o, p, e in zip(objs, lifted.xyz, lifted.extent):
            front_z = o.xyz[2] - o.extent[2] / 2  # the visible face nearest the camera
            rows.append((abs(p[0] - o.xyz[0]), abs(p[1] - o.xyz[1]), p[2] - front_z, o.extent[2], e))
    return np.array([r[:4] for r in rows])


def test_lifting_from_ground_truth_depth_finds_the_objects(sample):
    K = sample.intrinsics.K
    err = _errors(sample, lambda i: Depth(depth=sample.depths[i], confidence=np.ones_like(sample.depths[i]), K=K))
    # X/Y centre within 15 cm; Z between the front face and the hidden centre
    assert np.nanmax(err[:, 0]) < 0.15 and np.nanmax(err[:, 1]) < 0.15, err
    assert np.all(err[:, 2] > -0.1) and np.all(err[:, 2] < err[:, 3] / 2 + 0.1), err


def test_lifting_from_stereo_depth(sample):
    stage = DepthStage()
    frames = stage([Frame("s", i, image=sample.lefts[i], right=sample.rights[i], calib=sample.calib) for i in range(len(sample.lefts))])
    err = _errors(sample, lambda i: frames[i].results["depth"])
    assert np.nanmax(err[:, 0]) < 0.2 and np.nanmax(err[:, 1]) < 0.2, err
    assert np.all(err[:, 2] > -0.15) and np.all(err[:, 2] < err[:, 3] / 2 + 0.15), err


def test_background_heavy_box_still_finds_the_object(sample):
    """Grow a box well past the object: the background wall fills most of it."""
    K = sample.intrinsics.K
    objs, dets = _truth(sample, 0)
    o = objs[1]
    x1, y1, x2, y2 = o.box
    pad = 0.6 * (x2 - x1)
    big = Detections(boxes=[[x1 - pad, y1 - pad, x2 + pad, y2 + pad]], scores=[1.0], class_id=[0])
    lifted = lift_detections(big, Depth(depth=sample.depths[0], confidence=np.ones_like(sample.depths[0]), K=K))
    assert abs(lifted.xyz[0, 2] - (o.xyz[2] - o.extent[2] / 2)) < o.extent[2] / 2 + 0.1


def test_empty_or_outside_boxes_get_nan():
    depth = Depth(depth=np.zeros((20, 20), np.float32), confidence=np.zeros((20, 20), np.float32), K=np.eye(3) * 10)
    dets = Detections(boxes=[[0, 0, 10, 10], [30, 30, 40, 40]], scores=[1, 1], class_id=[0, 0])
    lifted = lift_detections(dets, depth)
    assert np.isnan(lifted.xyz).all() and list(lifted.data["depth_points"]) == [0, 0]
    assert len(lift_detections(Detections.empty(), depth)) == 0


def test_uncalibrated_depth_is_refused():
    K = np.full((3, 3), np.nan)
    depth = Depth(depth=np.ones((4, 4), np.float32), confidence=np.ones((4, 4), np.float32), K=K)
    with pytest.raises(ValueError, match="focal length"):
        lift_detections(Detections(boxes=[[0, 0, 2, 2]], scores=[1], class_id=[0]), depth)
