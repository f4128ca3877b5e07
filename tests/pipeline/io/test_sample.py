"""The bundled synthetic sample: deterministic, self-consistent ground truth, readable layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.calibration import read_intrinsics, read_stereo_calibration
from sensorium.pipeline.io.sample import BASELINE_M, DEPTH_SCALE, SAMPLE_CLASSES, SampleSequence, make_sample, write_sample

N = 3


@pytest.fixture(scope="module")
def seq() -> SampleSequence:
    return make_sample(N)


@pytest.fixture(scope="module")
def written(seq: SampleSequence, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(seq, tmp_path_factory.mktemp("sample"))


def test_shapes_and_dtypes(seq: SampleSequence) -> None:
    assert len(seq) == N
    for name, shape, dtype in (("lefts", (480, 640, 3), np.uint8), ("rights", (480, 640, 3), np.uint8),
                               ("depths", (480, 640), np.float32), ("disparities", (480, 640), np.float32),
                               ("poses", (4, 4), np.float64)):
        items = getattr(seq, name)
        assert len(items) == N, name
        assert all(a.shape == shape and a.dtype == dtype for a in items), name
    assert seq.calib.baseline == pytest.approx(BASELINE_M)
    assert np.array_equal(seq.intrinsics.K, seq.calib.K1)


def test_deterministic_per_seed(seq: SampleSequence) -> None:
    again = make_sample(N)
    for name in ("lefts", "rights", "depths", "disparities", "poses"):
        assert all(np.array_equal(a, b) for a, b in zip(getattr(seq, name), getattr(again, name))), name
    other = make_sample(1, seed=1)
    # the seed changes texture and noise, not geometry
    assert not np.array_equal(other.lefts[0], seq.lefts[0])
    assert np.array_equal(other.depths[0], seq.depths[0])


@pytest.mark.parametrize("kwargs", [{"n_frames": 0}, {"width": 8}, {"height": 16}])
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="make_sample"):
        make_sample(**kwargs)


def test_disparity_is_f_b_over_depth(seq: SampleSequence) -> None:
    fb = seq.calib.K1[0, 0] * seq.calib.baseline
    for depth, disp in zip(seq.depths, seq.disparities):
        assert np.allclose(disp * depth, fb, rtol=1e-5)
        assert 1.2 < depth.min() and depth.max() <= 6.0 + 1e-4  # the scene's designed range


@pytest.mark.parametrize("frame", range(N))
def test_views_agree_through_ground_truth(seq: SampleSequence, frame: int) -> None:
    """Warping the right image by the GT disparity reproduces the left where both see the surface."""
    left = seq.lefts[frame].astype(np.float32)
    disp = seq.disparities[frame]
    h, w = disp.shape
    xs = np.arange(w, dtype=np.float32)[None, :] - disp
    warped = cv2.remap(seq.rights[frame].astype(np.float32), xs, np.repeat(np.arange(h, dtype=np.float32)[:, None], w, 1), cv2.INTER_LINEAR)
    # visible in the right view: inside it, and not hidden by something nearer along the row
    inside = xs >= 1
    gx = np.abs(cv2.Sobel(disp, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(disp, cv2.CV_32F, 0, 1))
    smooth = cv2.erode((gx < 1.0).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    mask = inside & smooth
    err = np.abs(warped - left).mean(axis=2)[mask]
    assert mask.mean() > 0.7
    assert np.median(err) < 4.0  # sensor noise (sigma 1.5 per view) and interpolation only
    # a wrong geometry (disparity off by 2 px) breaks the agreement: the check can fail
    warped_off = cv2.remap(seq.rights[frame].astype(np.float32), xs - 2, np.repeat(np.arange(h, dtype=np.float32)[:, None], w, 1), cv2.INTER_LINEAR)
    assert np.median(np.abs(warped_off - left).mean(axis=2)[mask]) > 2 * np.median(err)


def test_objects_match_the_depth(seq: SampleSequence) -> None:
    for frame, objects in enumerate(seq.objects):
        assert {o.name for o in objects} <= set(SAMPLE_CLASSES)
        assert len(objects) >= 3
        for o in objects:
            assert SAMPLE_CLASSES[o.class_id] == o.name
            x1, y1, x2, y2 = o.box
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
            # the 3D centre projects into the 2D box, and the surface seen there lies within
            # the object's extent around its centre (so box, xyz and depth agree)
            u, v = (seq.intrinsics.K @ o.xyz)[:2] / o.xyz[2]
            assert x1 <= u <= x2 and y1 <= v <= y2
            z = seq.depths[frame][int(round(v)), int(round(u))]
            assert o.xyz[2] - o.extent[2] / 2 - 0.01 <= z <= o.xyz[2] + o.extent[2] / 2
    # the moving box moves, in camera coordinates, relative to the static ones
    first, last = seq.objects[0], seq.objects[-1]
    moved = [np.linalg.norm((b.xyz - a.xyz) - (last[0].xyz - first[0].xyz)) for a, b in zip(first, last)]
    assert max(moved) > 0.05 and min(moved) < 1e-6


def test_write_layout(seq: SampleSequence, written: Path) -> None:
    for sub in ("left", "right", "rgbd/rgb", "rgbd/depth", "gt"):
        assert len(list((written / sub).glob("*.png" if sub != "gt" else "*.npz"))) == N, sub
    left = cv2.imread(str(written / "left/000000.png"))
    assert np.array_equal(left[:, :, ::-1], seq.lefts[0])  # BGR on disk
    assert np.array_equal(cv2.imread(str(written / "rgbd/rgb/000001.png"))[:, :, ::-1], seq.lefts[1])
    depth = cv2.imread(str(written / "rgbd/depth/000002.png"), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16
    assert np.abs(depth / DEPTH_SCALE - seq.depths[2]).max() <= 0.5 / DEPTH_SCALE + 1e-6
    gt = np.load(written / "gt/000001.npz")
    assert np.array_equal(gt["depth"], seq.depths[1]) and np.array_equal(gt["disparity"], seq.disparities[1])


def test_written_calibration_reads_back(seq: SampleSequence, written: Path) -> None:
    calib = read_stereo_calibration(written / "calib.yaml")
    for name in ("K1", "D1", "K2", "D2", "R", "T"):
        assert np.allclose(getattr(calib, name), getattr(seq.calib, name)), name
    assert (calib.width, calib.height) == (640, 480)
    intr = read_intrinsics(written / "rgbd/intrinsics.json")
    assert np.allclose(intr.K, seq.intrinsics.K) and (intr.width, intr.height) == (640, 480)
    assert json.loads((written / "rgbd/intrinsics.json").read_text())["depth_scale"] == DEPTH_SCALE


def test_tum_lists_and_poses(seq: SampleSequence, written: Path) -> None:
    def rows(name: str) -> list[list[str]]:
        return [ln.split() for ln in (written / "rgbd" / name).read_text().splitlines() if ln and not ln.startswith("#")]

    rgb, depth, poses = rows("rgb.txt"), rows("depth.txt"), rows("groundtruth.txt")
    assert [r[0] for r in rgb] == [r[0] for r in depth] == [r[0] for r in poses]
    assert [float(r[0]) for r in rgb] == pytest.approx(seq.timestamps, abs=1e-6)
    assert all((written / "rgbd" / r[1]).is_file() for r in rgb + depth)
    from scipy.spatial.transform import Rotation

    for row, pose in zip(poses, seq.poses):
        values = np.array(row[1:], dtype=float)
        assert np.allclose(values[:3], pose[:3, 3], atol=1e-8)
        assert np.allclose(Rotation.from_quat(values[3:]).as_matrix(), pose[:3, :3], atol=1e-8)


def test_objects_json(seq: SampleSequence, written: Path) -> None:
    data = json.loads((written / "gt/objects.json").read_text())
    assert data["classes"] == list(SAMPLE_CLASSES)
    assert len(data["frames"]) == N
    first = data["frames"][0][0]
    assert first["name"] == seq.objects[0][0].name
    assert np.allclose(first["box"], seq.objects[0][0].box) and np.allclose(first["xyz"], seq.objects[0][0].xyz)
