"""Every sink on real Redwood RGB-D frames, read back with the libraries that consume the files."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d
import pytest

from sensorium.pipeline.io.sinks import SINKS, JsonlSink, NpzSink, Sink, VideoSink, build_sinks, frame_stem, safe_name
from sensorium.stages.camera import Intrinsics
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections

SRC = "redwood/cam 0"  # not a safe file name: exercises sanitising
K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])


def load_rgbd(root: Path, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Redwood frame i: (H, W, 3) uint8 RGB, (H, W) float32 metres, (4, 4) camera-to-world pose."""
    image = cv2.cvtColor(cv2.imread(str(root / "color" / f"{i:05d}.jpg")), cv2.COLOR_BGR2RGB)
    depth = cv2.imread(str(root / "depth" / f"{i:05d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    lines = [ln for ln in (root / "trajectory.log").read_text().splitlines() if ln.strip()]
    return image, depth, np.loadtxt(lines[5 * i + 1 : 5 * i + 5])


def make_depth(image: np.ndarray, depth: np.ndarray, K: np.ndarray, stride: int = 8) -> Depth:
    """The Depth an RGB-D depth stage would produce, with a strided back-projected cloud."""
    v, u = np.mgrid[0 : depth.shape[0] : stride, 0 : depth.shape[1] : stride]
    z = depth[v, u]
    keep = z > 0
    u, v, z = u[keep], v[keep], z[keep]
    points = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=1).astype(np.float32)
    return Depth(depth=depth, confidence=(depth > 0).astype(np.float32), K=K, points=points, colors=image[v, u])


def make_frames(root: Path) -> list[Frame]:
    frames = []
    for seq in range(3):
        image, depth, pose = load_rgbd(root, seq)
        frames.append(Frame(SRC, seq, image=image, sensor_depth=depth, pose=pose, calib=Intrinsics(K, 640, 480),
                            results={"depth": make_depth(image, depth, K)}))
    image, _, pose = load_rgbd(root, 3)
    # the depth stage failed: no Depth result, the error is on the frame
    frames.append(Frame(SRC, 3, image=image, pose=pose, errors={"depth": f"{SRC}#3: depth: sensor dropped out"}))
    image, depth, pose = load_rgbd(root, 4)
    # another stage failed, depth is fine: array sinks still write it
    frames.append(Frame(SRC, 4, image=image, pose=pose, results={"depth": make_depth(image, depth, K)},
                        errors={"faces": f"{SRC}#4: faces: no model"}))
    # a resolution change mid-stream (and a pose-less frame for TSDF to track)
    small = cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)
    small_depth = cv2.resize(depth, (320, 240), interpolation=cv2.INTER_NEAREST)
    K_small = K * np.array([[0.5], [0.5], [1.0]])
    frames.append(Frame(SRC, 5, image=small, pose=pose, results={"stereo": make_depth(small, small_depth, K_small, stride=4)}))
    # a second source: an image with detections and no depth at all
    det = Detections(boxes=np.array([[10, 10, 100, 100]], np.float32), scores=np.array([0.9], np.float32),
                     class_id=np.array([0]), class_names=("chair",))
    frames.append(Frame("b", 0, image=image, results={"detections": det}))
    return frames


@pytest.fixture(scope="module")
def written(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sinks")
    frames = make_frames(data_dir / "rgbd" / "redwood")
    sinks = build_sinks("jsonl,npz,video,ply,tsdf", out, fps=5, voxel_length=0.02)
    assert [s.name for s in sinks] == ["jsonl", "npz", "video", "ply", "tsdf"]
    for frame in frames:
        for sink in sinks:
            sink.write(frame)
    summaries = {s.name: s.close() for s in sinks}
    return out, frames, summaries


def test_jsonl_has_every_frame_and_round_trips(written):
    out, frames, summaries = written
    lines = [json.loads(ln) for ln in (out / "frames.jsonl").read_text().splitlines()]
    assert len(lines) == len(frames) and summaries["jsonl"]["written"] == len(frames)
    for line, frame in zip(lines, frames):
        back = Frame.from_dict(line)
        assert (back.source_id, back.seq, back.errors, back.timestamp) == (frame.source_id, frame.seq, frame.errors, frame.timestamp)
        assert (back.pose is None) == (frame.pose is None)
        if frame.pose is not None:
            np.testing.assert_array_equal(back.pose, frame.pose)
        # depth is summarised, not embedded; everything else is the container itself
        depth = {n: r for n, r in frame.results.items() if isinstance(r, Depth)}
        assert set(back.results) == set(frame.results) - set(depth)
        for name in back.results:
            assert back.results[name] == frame.results[name]
        if depth:
            ((stage, result),) = depth.items()
            summary = line["depth"][stage]
            npz = summary.pop("npz")
            assert summary == result.summary()
            assert npz == f"arrays/{frame_stem(frame)}.npz" and (out / npz).is_file()
        else:
            assert "depth" not in line
    assert lines[3]["errors"] == {"depth": f"{SRC}#3: depth: sensor dropped out"}
    assert len((out / "frames.jsonl").read_text()) < 200_000  # no full depth maps in the log


def test_npz_holds_the_documented_arrays(written):
    out, frames, summaries = written
    files = sorted((out / "arrays").glob("*.npz"))
    with_depth = [f for f in frames if any(isinstance(r, Depth) for r in f.results.values())]
    assert [p.name for p in files] == sorted(f"{frame_stem(f)}.npz" for f in with_depth)
    assert summaries["npz"]["written"] == 5 and summaries["npz"]["skipped"] == {"no depth result": 2}
    for frame in with_depth:
        (depth,) = [r for r in frame.results.values() if isinstance(r, Depth)]
        with np.load(out / "arrays" / f"{frame_stem(frame)}.npz") as npz:
            want = {"depth", "confidence", "K", "pose"} | ({"sensor_depth"} if frame.sensor_depth is not None else set())
            assert set(npz.files) == want  # no disparity: this is RGB-D input
            assert npz["depth"].dtype == np.float32 and npz["confidence"].dtype == np.float32 and npz["K"].dtype == np.float64
            np.testing.assert_array_equal(npz["depth"], depth.depth)
            np.testing.assert_array_equal(npz["confidence"], depth.confidence)
            np.testing.assert_array_equal(npz["K"], depth.K)
            np.testing.assert_array_equal(npz["pose"], frame.pose)
            if frame.sensor_depth is not None:
                np.testing.assert_array_equal(npz["sensor_depth"], frame.sensor_depth)


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    images = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        images.append(image)
    cap.release()
    return images


def test_video_per_source_with_every_frame(written):
    out, frames, summaries = written
    video_a = read_video(out / f"{safe_name(SRC)}.mp4")
    assert len(video_a) == 6  # the frame whose depth failed is shown too, error in red
    assert all(v.shape == (480, 1280, 3) for v in video_a)  # image | depth, first size kept
    video_b = read_video(out / "b.mp4")
    assert len(video_b) == 1 and video_b[0].shape == (480, 640, 3)
    assert summaries["video"]["videos"]["b"]["frames"] == 1 and summaries["video"]["written"] == 7
    # what was encoded is the image beside its depth (lossy codec: compare coarsely)
    first = cv2.cvtColor(video_a[0], cv2.COLOR_BGR2RGB).astype(int)
    assert np.abs(first[:, :640] - frames[0].image).mean() < 8
    assert first[:, 640:][frames[0].results["depth"].depth == 0].mean() < 30  # unknown depth is black


def test_ply_clouds_have_the_depth_points(written):
    out, frames, summaries = written
    clouds = sorted((out / "clouds").glob("*.ply"))
    assert len(clouds) == 5 and summaries["ply"]["written"] == 5
    for frame in frames:
        found = [r for r in frame.results.values() if isinstance(r, Depth)]
        path = out / "clouds" / f"{frame_stem(frame)}.ply"
        assert path.exists() == bool(found)
        if found:
            cloud = o3d.io.read_point_cloud(str(path))
            assert len(cloud.points) == len(found[0].points) > 1000
            np.testing.assert_allclose(np.asarray(cloud.points), found[0].points, atol=1e-6)
            np.testing.assert_allclose(np.asarray(cloud.colors) * 255, found[0].colors, atol=0.5)


def test_tsdf_mesh_per_source(written):
    out, _, summaries = written
    path = out / f"{safe_name(SRC)}_mesh.ply"
    mesh = o3d.io.read_triangle_mesh(str(path))
    assert len(mesh.triangles) > 10_000 and mesh.has_vertex_colors()
    extent = mesh.get_axis_aligned_bounding_box().get_extent()
    assert np.all(extent > 0.5) and np.all(extent < 4.0), extent
    entry = summaries["tsdf"]["meshes"][SRC]
    assert entry["path"] == str(path) and entry["triangles"] == len(mesh.triangles)
    assert entry["frames_integrated"] == 5
    assert summaries["tsdf"]["skipped"] == {"no depth result": 2}
    assert not (out / "b_mesh.ply").exists()


def test_a_failing_frame_is_counted_and_the_sink_goes_on(data_dir: Path, tmp_path: Path):
    frames = make_frames(data_dir / "rgbd" / "redwood")[:3]
    sink = NpzSink(tmp_path)
    (tmp_path / "arrays" / f"{frame_stem(frames[1])}.npz").mkdir()  # something in the way of frame 1
    for frame in frames:
        sink.write(frame)
    summary = sink.close()
    assert (summary["written"], summary["failed"]) == (2, 1)
    assert (tmp_path / "arrays" / f"{frame_stem(frames[2])}.npz").is_file()
    assert sink.close() is summary  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        sink.write(frames[0])


def test_sinks_follow_the_protocol(tmp_path: Path):
    for cls in SINKS.values():
        sink = cls(tmp_path)
        assert isinstance(sink, Sink)
        assert sink.close()["written"] == 0


@pytest.mark.parametrize(
    "source_id, expected",
    [
        ("cam0", "cam0"),
        ("left-cam_2.front", "left-cam_2.front"),
        ("rtsp://10.0.0.1/stream", None),
        ("../../etc/passwd", None),
        ("", None),
        (".hidden", None),
        ("x" * 200, None),
    ],
)
def test_safe_name(source_id, expected):
    name = safe_name(source_id)
    assert name == expected if expected else name != source_id
    assert name and "/" not in name and not name.startswith(".") and len(name) <= 80
    assert all(c.isalnum() or c in "._-" for c in name)


def test_safe_names_never_collide():
    ids = ["cam/0", "cam:0", "cam_0", "cam 0", "cam\\0"]
    assert len({safe_name(i) for i in ids}) == len(ids)


@pytest.mark.parametrize(
    "names, opts, expectation",
    [
        ("jsonl, npz", {}, does_not_raise()),
        (["video"], {"fps": 30, "voxel_length": 0.02}, does_not_raise()),  # tsdf's option, unused
        ("jsonl,mp3", {}, pytest.raises(ValueError, match="unknown sink.*mp3")),
        ("jsonl,jsonl", {}, pytest.raises(ValueError, match="twice")),
        ("video", {"fsp": 30}, pytest.raises(ValueError, match="unknown sink option.*fsp")),
        ("video", {"fps": 0}, pytest.raises(ValueError, match="fps")),
        ("jsonl,tsdf", {"voxel_length": -1}, pytest.raises(ValueError, match="voxel_length")),
    ],
)
def test_build_sinks(tmp_path: Path, names, opts, expectation):
    with expectation:
        sinks = build_sinks(names, tmp_path, **opts)
        for sink in sinks:
            sink.close()


def test_jsonl_names_npz_only_when_the_npz_sink_runs(data_dir: Path, tmp_path: Path):
    frame = make_frames(data_dir / "rgbd" / "redwood")[0]
    for names, npz in (("jsonl", None), ("jsonl,npz", f"arrays/{frame_stem(frame)}.npz")):
        out = tmp_path / names.replace(",", "_")
        (sink,) = [s for s in build_sinks(names, out) if isinstance(s, JsonlSink)]
        sink.write(frame)
        sink.close()
        assert json.loads((out / "frames.jsonl").read_text())["depth"]["depth"]["npz"] == npz


def test_video_resizes_to_the_first_frame(data_dir: Path, tmp_path: Path):
    frames = make_frames(data_dir / "rgbd" / "redwood")
    sink = VideoSink(tmp_path, fps=5)
    sink.write(frames[5])  # 320x240 image + depth → 640x240 video
    sink.write(frames[0])  # 640x480 image + depth, resized
    sink.write(frames[3])  # no depth panel (its depth failed), resized
    assert sink.close()["written"] == 3
    video = read_video(tmp_path / f"{safe_name(SRC)}.mp4")
    assert len(video) == 3 and all(v.shape == (240, 640, 3) for v in video)


def test_tsdf_uses_the_rectified_camera_pose_of_stereo_depth(data_dir: Path, tmp_path: Path):
    """Stereo depth is in the rectified left camera (X_rect = R_rect @ X_left); the source's pose
    is the original left camera's. Fusing must undo R_rect, or the surface lands rotated."""
    from sensorium.pipeline.io.sinks import TsdfSink
    from sensorium.stages.depth.fusion import TSDFFusion
    from sensorium.stages.results import Rectification

    a = np.radians(5.0)
    R_rect = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    left_to_rect = np.eye(4)
    left_to_rect[:3, :3] = R_rect
    reference = TSDFFusion(voxel_length=0.02, sdf_trunc=0.08)
    sink = TsdfSink(tmp_path, voxel_length=0.02)
    for seq in range(3):
        image, depth, pose = load_rgbd(data_dir / "rgbd" / "redwood", seq)
        reference.integrate(image, depth, K, pose)  # `pose` is the depth (rectified) camera's
        result = Depth(depth=depth, confidence=np.ones_like(depth), K=K, metadata={"source": "stereo"},
                       rectification=Rectification(R=R_rect, K=K, D=np.zeros(5), P=K))
        sink.write(Frame("stereo", seq, image=image, pose=pose @ left_to_rect, results={"depth": result}))
    entry = sink.close()["meshes"]["stereo"]
    mesh = o3d.io.read_triangle_mesh(entry["path"])
    want = reference.extract_mesh()
    assert abs(len(mesh.triangles) - len(want.triangles)) <= 0.01 * len(want.triangles)
    np.testing.assert_allclose(mesh.get_min_bound(), want.get_min_bound(), atol=0.02)
    np.testing.assert_allclose(mesh.get_max_bound(), want.get_max_bound(), atol=0.02)
