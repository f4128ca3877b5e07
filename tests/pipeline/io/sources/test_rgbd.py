"""RGB-D folders: the real Redwood frames, a TUM layout, wrong depth PNGs, timestamp association."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sources.open import open_source
from sensorium.pipeline.io.sources.rgbd import RGBDSource, associate
from sensorium.stages.camera import Intrinsics


def test_redwood_folder_real_frames(data_dir, read_all):
    source = open_source(str(data_dir / "rgbd/redwood"))
    assert isinstance(source, RGBDSource)
    frames = read_all(source)

    assert len(frames) == 5 and all(f.ok for f in frames)
    lines = (data_dir / "rgbd/redwood/trajectory.log").read_text().split("\n")
    for i, f in enumerate(frames):
        assert f.image.shape == (480, 640, 3) and f.sensor_depth.shape == (480, 640) and f.sensor_depth.dtype == np.float32
        valid = f.sensor_depth[f.sensor_depth > 0]
        assert valid.size > 0.5 * f.sensor_depth.size
        assert 0.3 < np.median(valid) < 4.0 and valid.max() < 10.0  # metres, not millimetres
        raw = cv2.imread(f.meta["depth_path"], cv2.IMREAD_UNCHANGED)
        np.testing.assert_allclose(f.sensor_depth, raw / 1000.0, rtol=1e-6)
        assert isinstance(f.calib, Intrinsics) and f.calib.fx == 525.0 and f.calib.cx == 319.5
        expected_pose = np.array([[float(v) for v in line.split()] for line in lines[5 * i + 1 : 5 * i + 5]])
        np.testing.assert_allclose(f.pose, expected_pose)
    assert frames[0].pose[0, 3] == pytest.approx(-0.31057997014702826)


def test_rgbd_prefix_opens_the_same_layout(data_dir):
    source = open_source(f"rgbd:{data_dir / 'rgbd/redwood'}", depth_scale=2000.0)
    first = next(source.frames())
    raw = cv2.imread(first.meta["depth_path"], cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(first.sensor_depth, raw / 2000.0, rtol=1e-6)


@pytest.fixture
def redwood_copy(data_dir, tmp_path) -> Path:
    src, dst = data_dir / "rgbd/redwood", tmp_path / "redwood"
    for sub in ("color", "depth"):
        (dst / sub).mkdir(parents=True)
        for f in sorted((src / sub).iterdir()):
            shutil.copyfile(f, dst / sub / f.name)
    for name in ("camera_primesense.json", "trajectory.log"):
        shutil.copyfile(src / name, dst / name)
    return dst


def test_wrong_depth_pngs_are_error_frames_naming_the_file(redwood_copy, read_all, write_png):
    raw = cv2.imread(str(redwood_copy / "depth/00001.png"), cv2.IMREAD_UNCHANGED)
    write_png(redwood_copy / "depth/00001.png", (raw // 16).astype(np.uint8))  # 8-bit
    write_png(redwood_copy / "depth/00003.png", cv2.resize(raw, (320, 240), interpolation=cv2.INTER_NEAREST))  # other size
    write_png(redwood_copy / "depth/00004.png", np.dstack([raw, raw, raw]))  # 16-bit but 3 channels

    frames = read_all(open_source(str(redwood_copy)))

    assert [f.seq for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].ok and frames[2].ok and frames[0].sensor_depth.shape == (480, 640)
    for i, what in ((1, "16-bit"), (3, "320x240"), (4, "single-channel")):
        err = frames[i].errors["source"]
        assert frames[i].image is None
        assert err.startswith(str(redwood_copy / f"depth/0000{i}.png") + ": ") and what in err, err


def test_tum_layout_associates_nearest_timestamps(data_dir, tmp_path, read_all):
    other = data_dir / "rgbd/redwood/other_formats"
    tum = tmp_path / "tum"
    for name in ("a", "b", "c"):
        (tum / "rgb").mkdir(parents=True, exist_ok=True)
        (tum / "depth").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(other / "TUM_color.png", tum / f"rgb/{name}.png")
        shutil.copyfile(other / "TUM_depth.png", tum / f"depth/{name}.png")
    t0 = 1305031102.0
    (tum / "rgb.txt").write_text(f"# color images\n{t0:.6f} rgb/a.png\n{t0 + 0.1:.6f} rgb/b.png\n{t0 + 0.2:.6f} rgb/c.png\n")
    # depth lists b before a and lags each by 10 ms; c's depth is 80 ms off (beyond 20 ms): c is skipped
    (tum / "depth.txt").write_text(f"{t0 + 0.11:.6f} depth/b.png\n{t0 + 0.01:.6f} depth/a.png\n{t0 + 0.28:.6f} depth/c.png\n")
    (tum / "groundtruth.txt").write_text(f"# timestamp tx ty tz qx qy qz qw\n{t0 + 0.001:.4f} 1 2 3 0 0 0.7071068 0.7071068\n")

    frames = read_all(open_source(str(tum)))

    assert [Path(f.meta["path"]).name for f in frames] == ["a.png", "b.png"]
    assert [Path(f.meta["depth_path"]).name for f in frames] == ["a.png", "b.png"]
    assert frames[0].timestamp == pytest.approx(t0) and frames[1].timestamp == pytest.approx(t0 + 0.1)
    raw = cv2.imread(str(other / "TUM_depth.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(frames[0].sensor_depth, raw / 5000.0, rtol=1e-6)
    assert frames[0].calib is None  # no intrinsics.json here
    expected = np.array([[0, -1, 0, 1], [1, 0, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]], float)  # 90 degrees about z
    np.testing.assert_allclose(frames[0].pose, expected, atol=1e-6)
    assert frames[1].pose is None  # no ground truth within 20 ms


def test_associate_is_one_to_one_closest_first():
    a = np.array([0.0, 0.1, 0.2])
    b = np.array([0.104, 0.095, 0.5])
    assert associate(a, b, 0.02) == [(1, 0)]  # 0.095 is within 20 ms of 0.1 too, but 0.104 is closer
    assert associate(a, b, 0.5) == [(0, 1), (1, 0), (2, 2)]  # a[0] takes the runner-up b[1]
    assert associate(a, np.array([]), 0.5) == []
