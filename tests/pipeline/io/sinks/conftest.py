"""Shared sink fixtures: real Redwood RGB-D frames written once through every sink."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sinks import build_sinks
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


@pytest.fixture(scope="session")
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
