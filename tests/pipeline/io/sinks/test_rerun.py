"""The Rerun sink, read back with Rerun's own reader: real runs (the bundled sample, a
calibrated real stereo pair), every result kind, the web viewer on loopback."""

from __future__ import annotations

import socket
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
import psutil
import pytest
from rerun.chunk import RrdReader
from typer.testing import CliRunner

from sensorium.pipeline.cli.run import app
from sensorium.pipeline.io.sinks.rerun.entities import source_path
from sensorium.pipeline.io.sinks import RerunSink, build_sinks
from sensorium.pipeline.io.sources import read_image
from sensorium.stages.camera import Intrinsics
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections, Faces, Gaze, Keypoints
from sensorium.stages.results.tracks import Tracks

runner = CliRunner()


def read_rrd(path: Path) -> dict[str, dict[str, list]]:
    """entity path → column → one value per logged row (Rerun's own reader, static rows too)."""
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for chunk in RrdReader(path).store().stream():
        for name, column in chunk.to_record_batch().to_pydict().items():
            out[chunk.entity_path][name] += column
    return out


def rows(rrd: dict, entity: str, column: str) -> list:
    return rrd[entity][column]


@pytest.mark.slow
def test_sample_run_records_depth_detections_faces_and_latency(sample_run):
    """The shared run of the bundled sample (tests/pipeline/conftest.py) through depth, detect and face."""
    rrd = read_rrd(sample_run / "run.rrd")
    for sid in ("sample", "sample-rgbd"):
        root = source_path(sid)
        counts = {path[len(root):]: len(cols["frame"]) for path, cols in rrd.items() if path.startswith(root + "/")}
        assert counts == {"/camera": 8, "/camera/image": 8, "/camera/detections": 8, "/camera/faces": 8, "/depth": 8,
                          "/depth/camera": 8, "/depth/camera/depth": 8, "/depth/objects": counts.get("/depth/objects"),
                          "/latency/depth": 8, "/latency/detect": 8, "/latency/face": 8}, sid
        assert sorted(rrd[f"{root}/camera/image"]["frame"]) == list(range(8))  # the frame timeline is the source's seq
        assert 1 <= counts["/depth/objects"] <= 8  # the lifted shapes, in the frames that have some
        assert all(m == [1000.0] for m in rows(rrd, f"{root}/depth/camera/depth", "DepthImage:meter"))  # millimetres
    # the rectified stereo sample: its depth camera is its own pinhole; the RGB-D one's image and depth share one
    assert rows(rrd, "/sample-rgbd/camera", "Pinhole:image_from_camera")[0] == rows(rrd, "/sample-rgbd/depth/camera", "Pinhole:image_from_camera")[0]


@pytest.fixture(scope="module")
def chessboard_calib(data_dir, tmp_path_factory) -> Path:
    """The real chessboard rig's calibration, from its 13 pairs."""
    from sensorium.pipeline.io.calibration import write_stereo_calibration
    from sensorium.stages.depth.calibration import calibrate_stereo

    board = data_dir / "stereo" / "chessboard"
    lefts, rights = sorted(board.glob("left*.jpg")), sorted(board.glob("right*.jpg"))
    calib, _report = calibrate_stereo([read_image(p) for p in lefts], [read_image(p) for p in rights], (9, 6), 0.025)
    return write_stereo_calibration(tmp_path_factory.mktemp("calib") / "calib.yaml", calib)


@pytest.mark.slow
def test_calibrated_stereo_pair_records_its_cameras_and_point_cloud(tmp_path, ray_cluster, data_dir, chessboard_calib):
    from sensorium.pipeline.io.calibration import read_stereo_calibration

    board = data_dir / "stereo" / "chessboard"
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "--left", str(board / "left01.jpg"), "--right", str(board / "right01.jpg"), "--calib", str(chessboard_calib),
                              "--stages", "depth", "--set", "depth.point_cloud=true", "--sinks", "rerun", "--no-report", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rrd = read_rrd(out / "run.rrd")
    root = source_path("left01+right01")
    assert {p for p in rrd if p.startswith(root)} == {root, *(f"{root}/{p}" for p in (
        "camera", "camera/image", "depth", "depth/camera", "depth/camera/depth", "depth/points", "latency/depth"))}
    calib = read_stereo_calibration(chessboard_calib)
    (K,) = rows(rrd, f"{root}/camera", "Pinhole:image_from_camera")
    np.testing.assert_allclose(np.reshape(K, (3, 3)).T, calib.K1, rtol=1e-5)  # Rerun stores the matrix column-major
    (R,) = rows(rrd, f"{root}/depth", "Transform3D:mat3x3")
    assert not np.allclose(np.reshape(R, (3, 3)), np.eye(3), atol=1e-4)  # the rectifying rotation, undone
    (points,) = rows(rrd, f"{root}/depth/points", "Points3D:positions")
    (colors,) = rows(rrd, f"{root}/depth/points", "Points3D:colors")
    points = np.array(points)
    assert len(points) > 1000 and len(colors) == len(points)
    assert 0.2 < np.median(points[:, 2]) < 2.0  # the board and the wall, a metre or so away
    assert rows(rrd, root, "ViewCoordinates:xyz") == [[[3, 2, 5]]]  # static, Rerun codes for X right, Y down, Z forward
    assert not (out / "report.html").exists()  # --no-report (the shared sample run shows it is on by default)


def _redwood_frame(data_dir: Path, seq: int) -> Frame:
    """A real RGB-D frame with one result of every kind the sink logs."""
    import cv2

    root = data_dir / "rgbd" / "redwood"
    image = read_image(root / "color" / f"{seq:05d}.jpg")
    depth = cv2.imread(str(root / "depth" / f"{seq:05d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    boxes = np.array([[100, 100, 200, 260], [300, 120, 380, 200]], np.float32)
    det = Detections(boxes=boxes, scores=np.array([0.9, 0.6], np.float32), class_id=np.array([0, 1]), class_names=("chair", "table"),
                     xyz=np.array([[0.1, 0.2, 1.5], [0.5, 0.0, 2.0]], np.float32), extent=np.full((2, 3), 0.4, np.float32))
    trajectory = np.full((2, 4, 3), np.nan, np.float32)
    trajectory[0, -(seq + 1):] = [[0.1 + 0.01 * k, 0.2, 1.5] for k in range(seq + 1)]
    tracks = Tracks(track_id=np.array([7, 9]), boxes=boxes, scores=det.scores, class_id=det.class_id, state=np.zeros(2, np.int64),
                    item=np.array([0, 1]), age=np.array([seq, seq]), xyz=det.xyz, trajectory=trajectory, of="detect")
    faces = Faces(boxes=np.array([[110, 105, 150, 150]], np.float32), scores=np.array([0.95], np.float32),
                  landmarks=np.full((1, 5, 2), 128, np.float32), similarity=np.array([0.71], np.float32),
                  data={"identity": np.array(["ada"], dtype=object)})
    xy = np.array([[[150, 120], [160, 140], [170, 160]]], np.float32)
    pose = Keypoints(xy=xy, sigma=np.full((1, 3, 2), 4.0, np.float32), scores=np.array([[0.9, 0.9, 0.1]], np.float32),
                     data={"camera": np.array([[[0.1, 0.1, 1.5], [0.1, 0.2, 1.5], [0.1, 0.3, 1.5]]], np.float32)})
    gaze = Gaze(yaw_pitch=np.array([[0.2, -0.1]], np.float32), origin=np.array([[130, 125]], np.float32))
    return Frame("room", seq, image=image, calib=Intrinsics(K, 640, 480), timings={"detect": 0.012, "face": 0.003},
                 results={"depth": Depth(depth=depth, confidence=(depth > 0).astype(np.float32), K=K), "detect": det, "track": tracks,
                          "face": faces, "pose": pose, "gaze": gaze})


def test_every_result_kind_is_logged_where_the_layout_says(tmp_path, data_dir):
    (sink,) = build_sinks("rerun", tmp_path, sink_options={"rerun": {"jpeg_quality": 0}})
    frames = [_redwood_frame(data_dir, seq) for seq in range(3)]
    for frame in frames:
        sink.write(frame)
    summary = sink.close()
    assert summary["written"] == 3 and summary["failed"] == 0 and summary["bytes"] > 0
    rrd = read_rrd(tmp_path / "run.rrd")
    at = "/room/"
    assert rows(rrd, at + "camera/detections", "Boxes2D:labels")[0] == ["chair 0.90 #7 1.5 m", "table 0.60 #9 2.0 m"]
    assert rows(rrd, at + "camera/tracks", "Boxes2D:class_ids")[0] == [7, 9]  # one colour per track
    np.testing.assert_allclose(rows(rrd, at + "depth/objects", "Boxes3D:half_sizes")[0], np.full((2, 3), 0.2), rtol=1e-6)
    strips = rows(rrd, at + "depth/trajectories", "LineStrips3D:strips")
    assert [len(s[0]) for s in strips] == [2, 3]  # frame 0 has one position: no strip yet
    assert rows(rrd, at + "camera/faces", "Boxes2D:labels")[0] == ["ada 0.71"]
    assert rows(rrd, at + "camera/keypoints", "Points2D:radii")[0] == [4.0, 4.0]  # sigma; the low-score joint is left out
    assert rows(rrd, at + "depth/keypoints", "Points3D:radii")[0] == pytest.approx([4.0 * 1.5 / 525] * 2)  # sigma at 1.5 m
    assert len(rows(rrd, at + "depth/gaze", "Arrows3D:vectors")[0]) == 1
    assert rows(rrd, at + "latency/detect", "Scalars:scalars") == [[pytest.approx(12.0)]] * 3
    image = rows(rrd, at + "camera/image", "Image:buffer")[0]
    assert np.array_equal(np.asarray(image, np.uint8).reshape(480, 640, 3), frames[0].image)


def _listening_pids(port: int) -> set[tuple[int | None, str]]:
    return {(c.pid, c.laddr.ip) for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.status == "LISTEN"}


def test_web_viewer_serves_on_loopback_while_running_and_stops_on_close(tmp_path, data_dir):
    sink = RerunSink(tmp_path, serve=True, web_port=0, grpc_port=0)
    viewer = sink.viewer
    try:
        assert sink.viewer_url.startswith(f"http://127.0.0.1:{viewer.web_port}/?url=rerun+http://127.0.0.1:{viewer.grpc_port}/proxy")
        with urllib.request.urlopen(f"http://127.0.0.1:{viewer.web_port}/", timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        for port in (viewer.web_port, viewer.grpc_port):
            assert {ip for _pid, ip in _listening_pids(port)} == {"127.0.0.1"}  # loopback only
        sink.write(_redwood_frame(data_dir, 0))
    finally:
        summary = sink.close()
    assert summary["viewer_exit"] is not None and summary["written"] == 1
    for port in (viewer.web_port, viewer.grpc_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert "/room/camera/image" in read_rrd(tmp_path / "run.rrd")  # the file is written too


@pytest.mark.parametrize("options, message", [
    ({"serve": "yes"}, "serve expects true or false, got 'yes'"),
    ({"web_port": 70000}, "web_port expects a TCP port 0-65535"),
    ({"jpeg_quality": 101}, "jpeg_quality expects 1-100"),
])
def test_bad_options_are_named(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        RerunSink(tmp_path, **options)
    assert not (tmp_path / "run.rrd").exists()
