"""Sources on real files, real OpenCV and a real MJPEG-over-HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import shutil
import socket
import threading
import time
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.calibration import write_stereo_calibration
from sensorium.pipeline.stream.reader import SourceReader
from sensorium.pipeline.io.sample import DEPTH_SCALE, make_sample, write_sample
from sensorium.pipeline.io.sources import (
    CaptureSource,
    ReconnectPolicy,
    RGBDSource,
    SideBySideSource,
    SourceState,
    StereoSource,
    associate,
    open_source,
    open_stereo,
)
from sensorium.stages.camera import Intrinsics, StereoCalibration


# --- helpers ----------------------------------------------------------------------------------


def read_all(source, limit: int = 2000) -> list:
    """Every frame of a finite source (bounded, so a bug cannot loop forever)."""
    frames = []
    for frame in source.frames():
        frames.append(frame)
        assert len(frames) <= limit, f"{source} yielded more than {limit} frames"
    return frames


def small_bus(data_dir: Path, size=(96, 72)) -> np.ndarray:
    """A real photo, small, as BGR (what cv2 writes)."""
    return cv2.resize(cv2.imread(str(data_dir / "photos/bus.jpg")), size, interpolation=cv2.INTER_AREA)


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image), path
    return path


def free_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rectified_calib(path: Path, width: int = 640, height: int = 480) -> Path:
    return write_stereo_calibration(path, StereoCalibration.rectified(500.0, (width - 1) / 2, (height - 1) / 2, 0.06, width, height))


# --- image folders and globs ------------------------------------------------------------------


def test_image_folder_yields_error_frames_for_bad_files_and_decodes_the_rest(data_dir, tmp_path):
    bus = (data_dir / "photos/bus.jpg").read_bytes()
    good_bgr = small_bus(data_dir)
    write_png(tmp_path / "a_good.png", good_bgr)
    (tmp_path / "b_corrupt.jpg").write_bytes(b"this is not a JPEG at all" * 40)
    (tmp_path / "c_truncated.jpg").write_bytes(bus[: len(bus) // 2])
    (tmp_path / "d_good.jpg").write_bytes(bus)
    (tmp_path / "e_empty.png").write_bytes(b"")
    png = (tmp_path / "a_good.png").read_bytes()
    (tmp_path / "f_truncated.png").write_bytes(png[: len(png) - 40])
    (tmp_path / "notes.txt").write_text("not an image, not listed")

    source = open_source(str(tmp_path))
    frames = read_all(source)

    assert [f.seq for f in frames] == list(range(6))
    assert [Path(f.meta["path"]).name for f in frames] == ["a_good.png", "b_corrupt.jpg", "c_truncated.jpg", "d_good.jpg", "e_empty.png", "f_truncated.png"]
    good = {0: cv2.cvtColor(good_bgr, cv2.COLOR_BGR2RGB), 3: cv2.cvtColor(cv2.imread(str(data_dir / "photos/bus.jpg")), cv2.COLOR_BGR2RGB)}
    for i, expected in good.items():
        assert frames[i].ok and np.array_equal(frames[i].image, expected)  # decoded, and RGB not BGR
    expected_errors = {1: "not a decodable image", 2: "truncated JPEG", 4: "empty file", 5: "truncated PNG"}
    for i, what in expected_errors.items():
        f = frames[i]
        assert f.image is None
        assert f.errors["source"].startswith(f.meta["path"] + ": ")
        assert what in f.errors["source"]
    assert source.state is SourceState.ENDED


def test_glob_reads_matching_files_sorted(data_dir, tmp_path):
    bgr = small_bus(data_dir)
    for name in ("2.png", "10.png", "1.png"):
        write_png(tmp_path / name, bgr)
    write_png(tmp_path / "other.jpg", bgr)

    frames = read_all(open_source(str(tmp_path / "*.png")))

    assert [Path(f.meta["path"]).name for f in frames] == ["1.png", "10.png", "2.png"]
    assert all(f.ok and f.image.shape == (72, 96, 3) for f in frames)


# --- video files ------------------------------------------------------------------------------


@pytest.mark.parametrize("fourcc, suffix", [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_written_video_yields_every_frame_in_order(tmp_path, fourcc, suffix):
    path = tmp_path / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (64, 48))
    assert writer.isOpened()
    colours_bgr = [(0, 0, 255), (255, 0, 0)]  # red, blue
    for i in range(10):
        writer.write(np.full((48, 64, 3), colours_bgr[i % 2], np.uint8))
    writer.release()

    frames = read_all(open_source(str(path)))

    assert [f.seq for f in frames] == list(range(10))
    assert [f.meta["frame_index"] for f in frames] == list(range(10))
    for i, f in enumerate(frames):
        r, b = f.image[..., 0].mean(), f.image[..., 2].mean()
        assert (r > 200 and b < 50) if i % 2 == 0 else (b > 200 and r < 50), f"frame {i}: RGB means {f.image.mean(axis=(0, 1))}"
    assert len({f.timestamp for f in frames}) > 1 or len(frames) == 1


def test_real_video_first_frames_then_stop(data_dir):
    source = open_source(str(data_dir / "video/vtest.avi"))
    frames = source.frames()
    first = [next(frames) for _ in range(5)]
    frames.close()

    assert [f.seq for f in first] == list(range(5))
    assert all(f.ok and f.image.shape == (576, 768, 3) and f.image.dtype == np.uint8 for f in first)
    assert [f.meta["frame_index"] for f in first] == list(range(5))
    assert source.state is SourceState.ENDED
    assert source.state_log[-1][2] == "stopped by the consumer"


# --- stereo -----------------------------------------------------------------------------------


@pytest.fixture
def stereo_folder(data_dir, tmp_path) -> Path:
    """left/ and right/ with three real chessboard pairs and a calib.yaml."""
    folder = tmp_path / "stereo"
    for i in (1, 2, 3):
        for side in ("left", "right"):
            (folder / side).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_dir / f"stereo/chessboard/{side}{i:02d}.jpg", folder / side / f"{i:02d}.jpg")
    rectified_calib(folder / "calib.yaml")
    return folder


def test_stereo_folder_pairs_left_and_right_with_its_calibration(data_dir, stereo_folder):
    source = open_source(str(stereo_folder))
    assert isinstance(source, StereoSource)
    frames = read_all(source)

    assert [f.seq for f in frames] == [0, 1, 2]
    for i, f in enumerate(frames, 1):
        left = cv2.imread(str(data_dir / f"stereo/chessboard/left{i:02d}.jpg"), cv2.IMREAD_GRAYSCALE)
        right = cv2.imread(str(data_dir / f"stereo/chessboard/right{i:02d}.jpg"), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(f.image[..., 0], left) and np.array_equal(f.right[..., 0], right)
        assert isinstance(f.calib, StereoCalibration) and f.calib.baseline == pytest.approx(0.06)
        assert Path(f.meta["path"]).parent.name == "left" and Path(f.meta["right_path"]).parent.name == "right"
    assert source.state is SourceState.ENDED


@pytest.mark.parametrize("with_calib", [True, False])
def test_two_folders_paired_by_index(stereo_folder, with_calib):
    calib = stereo_folder / "calib.yaml" if with_calib else None
    frames = read_all(open_stereo(str(stereo_folder / "left"), str(stereo_folder / "right"), calib=calib))

    assert len(frames) == 3 and all(f.ok and f.right is not None for f in frames)
    assert all((f.calib is not None) == with_calib for f in frames)  # no calibration = taken as rectified


@pytest.mark.parametrize(
    "call, expectation, names",
    [
        (lambda d: open_stereo(str(d / "left"), str(d / "right"), calib=d / "missing.yaml"), pytest.raises(FileNotFoundError), "missing.yaml"),
        (lambda d: open_stereo(str(d), calib=d / "nope.yml"), pytest.raises(FileNotFoundError), "nope.yml"),
        (lambda d: open_stereo(str(d / "left"), side_by_side=True, calib=d / "gone.json"), pytest.raises(FileNotFoundError), "gone.json"),
        (lambda d: open_stereo(str(d), calib=d / "calib.yaml"), does_not_raise(), None),
    ],
)
def test_missing_calibration_file_fails_at_open_naming_it(stereo_folder, call, expectation, names):
    with expectation as exc:
        call(stereo_folder)
    if names:
        assert names in str(exc.value)


def test_opencv_image_list_is_not_taken_for_a_calibration(data_dir, stereo_folder):
    with pytest.raises(ValueError, match="stereo_calib.xml"):
        open_stereo(str(stereo_folder), calib=data_dir / "stereo/chessboard/stereo_calib.xml")


def test_side_by_side_frames_split_in_halves(data_dir, tmp_path):
    left = cv2.imread(str(data_dir / "stereo/chessboard/left01.jpg"))
    right = cv2.imread(str(data_dir / "stereo/chessboard/right01.jpg"))
    write_png(tmp_path / "sbs/0.png", np.hstack([left, right]))
    write_png(tmp_path / "sbs/1.png", np.zeros((480, 1281, 3), np.uint8))  # odd width: cannot split
    write_png(tmp_path / "sbs/2.png", np.hstack([right, left]))
    calib = rectified_calib(tmp_path / "calib.yaml")

    source = open_stereo(str(tmp_path / "sbs"), side_by_side=True, calib=calib)
    assert isinstance(source, SideBySideSource)
    frames = read_all(source)

    assert [f.seq for f in frames] == [0, 1, 2]
    assert np.array_equal(frames[0].image, cv2.cvtColor(left, cv2.COLOR_BGR2RGB))
    assert np.array_equal(frames[0].right, cv2.cvtColor(right, cv2.COLOR_BGR2RGB))
    assert np.array_equal(frames[2].image, cv2.cvtColor(right, cv2.COLOR_BGR2RGB))
    assert frames[0].calib.width == 640
    assert frames[1].image is None and "1.png" in frames[1].errors["source"] and "odd" in frames[1].errors["source"]


# --- RGB-D ------------------------------------------------------------------------------------


def test_redwood_folder_real_frames(data_dir):
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


def test_wrong_depth_pngs_are_error_frames_naming_the_file(redwood_copy):
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


def test_tum_layout_associates_nearest_timestamps(data_dir, tmp_path):
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


def test_written_sample_reads_back_as_stereo_and_tum(tmp_path):
    seq = make_sample(n_frames=3, width=64, height=48, seed=1)
    out = write_sample(seq, tmp_path / "sample")

    stereo = read_all(open_source(str(out)))
    assert len(stereo) == 3
    assert np.array_equal(stereo[1].image, seq.lefts[1]) and np.array_equal(stereo[1].right, seq.rights[1])
    np.testing.assert_allclose(stereo[0].calib.K1, seq.calib.K1)

    rgbd = read_all(open_source(f"rgbd:{out}"))
    assert len(rgbd) == 3
    for i, f in enumerate(rgbd):
        np.testing.assert_allclose(f.sensor_depth, seq.depths[i], atol=1.0 / DEPTH_SCALE)
        np.testing.assert_allclose(f.pose, seq.poses[i], atol=1e-6)
        assert f.timestamp == pytest.approx(seq.timestamps[i])
        np.testing.assert_allclose(f.calib.K, seq.intrinsics.K)


@pytest.mark.parametrize("spec, stereo, rgbd", [("sample", True, False), ("sample:rgbd", False, True), ("sample:both", True, True)])
def test_sample_spec_renders_in_memory(spec, stereo, rgbd):
    seq = make_sample(n_frames=2, width=64, height=48, seed=3)
    source = open_source(spec, n_frames=2, width=64, height=48, seed=3)
    assert len(source) == 2
    frames = read_all(source)

    assert [f.seq for f in frames] == [0, 1]
    for i, f in enumerate(frames):
        assert np.array_equal(f.image, seq.lefts[i]) and np.array_equal(f.pose, seq.poses[i])
        assert (f.right is not None) == stereo and (f.sensor_depth is not None) == rgbd
        if stereo:
            assert np.array_equal(f.right, seq.rights[i])
            assert isinstance(f.calib, StereoCalibration) and f.calib.baseline == pytest.approx(seq.calib.baseline)
        else:
            assert isinstance(f.calib, Intrinsics) and np.array_equal(f.calib.K, seq.intrinsics.K)
        if rgbd:
            assert np.array_equal(f.sensor_depth, seq.depths[i])


def test_sample_spec_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        open_source("sample:lidar")


# --- open_source errors -----------------------------------------------------------------------


def _txt_only(d: Path) -> str:
    (d / "only.txt").write_text("x")
    return str(d)


def _not_a_video(d: Path) -> str:
    (d / "notes.md").write_text("hello")
    return str(d / "notes.md")


def _uneven_stereo(d: Path) -> str:
    img = np.zeros((8, 8, 3), np.uint8)
    for p in ("left/0.png", "left/1.png", "right/0.png"):
        write_png(d / p, img)
    return str(d)


def _bad_tum_list(d: Path) -> str:
    (d / "rgb.txt").write_text("# header\n1305031102.1 rgb/a.png\nnoon rgb/b.png\n")
    (d / "depth.txt").write_text("1305031102.1 depth/a.png\n")
    return str(d)


def _bad_trajectory(d: Path) -> str:
    for sub in ("color", "depth"):
        (d / sub).mkdir()
    (d / "trajectory.log").write_text("0 0 1\n1 0 0 0\n0 1 0\n0 0 1 0\n0 0 0 1\n")
    return str(d)


@pytest.mark.parametrize(
    "make_spec, options, expectation, names",
    [
        (lambda d: str(d / "missing/clip.mp4"), {}, pytest.raises(FileNotFoundError), "missing/clip.mp4"),
        (lambda d: str(d / "nothing-*.png"), {}, pytest.raises(FileNotFoundError), "nothing-*.png"),
        (_txt_only, {}, pytest.raises(ValueError), "no image files"),
        (lambda d: f"rgbd:{_txt_only(d)}", {}, pytest.raises(ValueError), "not an RGB-D folder"),
        (_not_a_video, {}, pytest.raises(ValueError), "notes.md"),
        (_uneven_stereo, {}, pytest.raises(ValueError), "has 2 images but"),
        (_bad_tum_list, {}, pytest.raises(ValueError), "rgb.txt:3"),
        (_bad_trajectory, {}, pytest.raises(ValueError), "trajectory.log:2"),
        (lambda d: "sample", {"colour": "red"}, pytest.raises(ValueError), "colour"),
        (lambda d: "rtsp://user:secret@127.0.0.1:1/x", {"fps": 3}, pytest.raises(ValueError), "fps"),
        (lambda d: "sample", {"n_frames": 1}, does_not_raise(), None),
        (lambda d: "0", {}, does_not_raise(), None),  # opening happens when read; nothing to fail yet
    ],
)
def test_open_source_errors_name_the_item(tmp_path, make_spec, options, expectation, names):
    spec = make_spec(tmp_path)
    with expectation as exc:
        source = open_source(spec, **options)
        source.close()
    if names:
        assert names in str(exc.value)


def test_url_credentials_are_not_in_the_source_id():
    source = open_source("rtsp://user:secret@127.0.0.1:1/stream")
    assert "secret" not in source.source_id and source.live


# --- live: reconnect and give up --------------------------------------------------------------


def test_unreachable_stream_gives_up_after_max_attempts():
    source = open_source(f"http://127.0.0.1:{free_port()}/stream.mjpg", reconnect=ReconnectPolicy(initial_delay_s=0.01, max_delay_s=0.02, max_attempts=2), open_timeout_s=1.0)
    frames = read_all(source, limit=0)

    assert frames == []
    assert source.state is SourceState.ERROR
    assert "gave up after 2 retries" in source.error and "127.0.0.1" in source.error


def test_missing_webcam_gives_up():
    source = open_source(97, reconnect={"initial_delay_s": 0.01, "max_attempts": 1})
    assert isinstance(source, CaptureSource)
    assert read_all(source, limit=0) == []
    assert source.state is SourceState.ERROR and "camera 97" in source.error


def test_mjpeg_stream_reconnects_while_other_sources_keep_flowing(data_dir, mjpeg_server):
    assert "FFMPEG:" in cv2.getBuildInformation()  # the backend that reads HTTP MJPEG here
    policy = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.2)
    live = open_source(mjpeg_server.url, reconnect=policy, open_timeout_s=2.0, read_timeout_s=2.0)
    video = open_source(str(data_dir / "video/vtest.avi"))
    dead = open_source(f"http://127.0.0.1:{free_port()}/gone", reconnect=policy, open_timeout_s=1.0)
    readers = [SourceReader(s).start() for s in (live, video, dead)]
    live_frames, video_frames = [], []
    wanted = 3 * mjpeg_server.per_connection
    try:
        deadline = time.monotonic() + 20
        while len(live_frames) < wanted and time.monotonic() < deadline:
            if (f := readers[0].get(timeout=0.05)) is not None:
                live_frames.append(f)
            if (f := readers[1].get(timeout=0)) is not None:
                video_frames.append(f)
            assert readers[2].get(timeout=0) is None
    finally:
        started = time.monotonic()
        for r in readers:
            r.stop()
        assert time.monotonic() - started < 5 and not any(r.alive for r in readers)

    assert len(live_frames) >= wanted, f"only {len(live_frames)} live frames, states {list(live.state_log)}"
    assert mjpeg_server.connections >= 3
    seqs = [f.seq for f in live_frames]
    assert seqs == sorted(set(seqs))  # numbering continues across reconnections
    assert all(f.ok and f.image.shape == (48, 64, 3) and f.image[24, 32, 0] > 200 > f.image[24, 32, 2] for f in live_frames)
    states = [s for _, s, _ in live.state_log]
    first_reconnect = states.index(SourceState.RECONNECTING)
    assert SourceState.RUNNING in states[first_reconnect:]
    # the file source kept flowing in order, the dead one never produced and never blocked the others
    assert len(video_frames) >= 10 and [f.seq for f in video_frames] == list(range(len(video_frames)))
    assert readers[2].received == 0 and SourceState.RUNNING not in [s for _, s, _ in dead.state_log]
