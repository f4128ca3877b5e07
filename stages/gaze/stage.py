"""The ``gaze`` stage: per face of the ``face`` result, head pose and eye gaze in camera coordinates.

Per batch: the face mesh (468 points) for every face of every frame in one session call, then
the iris model on both eyes of every face in one call (``mesh.py``); per face, head pose by
solvePnP against our 3-D face model (``head_pose.py``), eye-in-head angles from the iris centre
relative to the eye contour (``eyes.py``), combined into one gaze direction (the mean of the two
eyes' directions, turned into the camera frame). With a ``depth`` result on the frame, the gaze
becomes a 3-D ray and names what it hits (``ray.py``). sigma comes from the trained head
(``models/zoo/gaze_sigma``), which also corrects the estimate; without it sigma is None.

Result: :class:`~sensorium.stages.results.Gaze` (yaw_pitch, sigma, origin between the irises in
pixels) with ``data``: head_pose (N, 3) yaw, pitch, roll; eye_angles (N, 2, 2) per eye (right,
left) yaw, pitch in the head frame; iris_centres (N, 2, 2) pixels; raw_yaw_pitch (N, 2) the
geometric estimate before the head's correction; presence (N,) the mesh model's face probability;
with depth: origin_xyz, direction (N, 3) metres / unit, camera frame, hit_xyz (N, 3) (NaN: none),
hit_face and hit_detection (N,) indices into this frame's faces / detections (-1: none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sensorium.models.hub.runtime import Provider
from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.frame import Frame
from sensorium.stages.gaze import head_pose as hp
from sensorium.stages.gaze.eyes import eye_geometry
from sensorium.stages.gaze.mesh import FaceLandmarks, run_landmarks
from sensorium.stages.gaze.ray import RayConfig, hit_detection, hit_face, march, origin_3d
from sensorium.stages.gaze.sigma import FEATURES, apply_correction, face_features
from sensorium.stages.images import as_rgb
from sensorium.stages.results import Depth, Gaze

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GazeConfig(StageConfig):
    """sigma_head: registered weights name (``gaze_sigma``) or an ``.onnx`` path of a head made by
    ``sensorium train gaze``; ``none``: no correction and sigma None. ray: how a gaze is followed
    through a depth map. providers/threads: onnxruntime's."""

    sigma_head: str = "gaze_sigma"
    ray: RayConfig = field(default_factory=RayConfig)
    providers: tuple[Provider, ...] = ("cpu",)
    threads: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.threads < 0:
            raise ValueError(f"threads: expected >= 0, got {self.threads}")


@dataclass(frozen=True)
class FaceGaze:
    """The geometric estimate of one face (see the module docstring for the fields)."""

    yaw_pitch: np.ndarray
    origin: np.ndarray
    direction: np.ndarray
    head: np.ndarray
    eye_angles: np.ndarray
    iris_centres: np.ndarray
    presence: float
    features: np.ndarray


def _camera(frame: Frame) -> np.ndarray:
    h, w = frame.image.shape[:2]
    depth = frame.results.get("depth")
    if isinstance(depth, Depth) and depth.depth.shape == (h, w) and np.isfinite(depth.K).all():
        return depth.K  # depth registered to the image: the same camera
    K = getattr(frame.calib, "K", None)
    if K is None:
        K = getattr(frame.calib, "K1", None)
    return hp.camera_matrix(w, h, K)


def estimate_face(lm: FaceLandmarks, i: int, K: np.ndarray) -> FaceGaze:
    """The geometric gaze of face ``i`` of one image's landmarks."""
    R, t = hp.solve_head_pose(lm.mesh[i], K)
    head = hp.head_angles(R)
    eyes = eye_geometry(lm.contour[i], lm.iris[i], R)
    d = R @ eyes["directions"].mean(0)
    d /= np.linalg.norm(d)
    yp = hp.yaw_pitch(d[None])[0]
    iris_c = lm.iris[i, :, 0, :2]
    model = hp.face_model()[list(hp.RIGID)].astype(np.float64)
    proj = _project(model, R, t, K)
    pnp_error = float(np.sqrt(np.mean(np.sum((proj - lm.mesh[i][list(hp.RIGID), :2]) ** 2, 1)))) / float(lm.roi_side[i])
    feats = face_features(roi_side=float(lm.roi_side[i]), presence=float(lm.presence[i]), openness=eyes["openness"],
                          iris_ratio=eyes["iris_ratio"], head=head, eye_angles=eyes["angles"], sharpness=float(lm.sharpness[i]),
                          outside=float(lm.outside[i]), pnp_error=pnp_error, gaze=yp, eye_width=eyes["width"])
    return FaceGaze(yp.astype(np.float32), iris_c.mean(0).astype(np.float32), d, head.astype(np.float32),
                    eyes["angles"].astype(np.float32), iris_c.astype(np.float32), float(lm.presence[i]), feats)


def _project(points: np.ndarray, R: np.ndarray, t: np.ndarray, K: np.ndarray) -> np.ndarray:
    cam = points @ R.T + t
    uv = cam @ K.T
    return uv[:, :2] / uv[:, 2:3]


class GazeStage(Stage):
    name = "gaze"
    requires = ("face",)
    Config = GazeConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._mesh = self._iris = None
        self._head = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        from sensorium.models.hub.weights import status

        for name in ("mediapipe_face_landmark", "mediapipe_iris_landmark"):
            st = status(name)
            if not st.present:
                return False, f"{name}: {st.detail}"
        return True, ""

    def setup(self) -> None:
        if self._mesh is not None:
            return
        from sensorium.models.arch.mediapipe.files import onnx_file
        from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig

        c = self.config
        rc = RuntimeConfig(providers=c.providers, intra_op_threads=c.threads or None, warmup_runs=0)
        self._mesh = OnnxModel(onnx_file("mediapipe_face_landmark"), rc, name="face_mesh")
        self._iris = OnnxModel(onnx_file("mediapipe_iris_landmark"), rc, name="iris")
        self._head = load_sigma_head(c.sigma_head, c.providers)

    def estimate(self, frames: Sequence[Frame]) -> list[list[FaceGaze]]:
        """The geometric estimate (no correction, no sigma) of every face of every frame."""
        self.setup()
        images = [as_rgb(f.image, name=f"frame {f.key}") for f in frames]
        faces = [(f.results["face"].boxes, f.results["face"].landmarks) for f in frames]
        marks = run_landmarks(lambda x: list(self._mesh.run([x]).values()), lambda x: list(self._iris.run([x]).values()),
                              images, faces)
        return [[estimate_face(lm, i, _camera(f)) for i in range(len(lm.presence))] for f, lm in zip(frames, marks)]

    def process(self, frames: Sequence[Frame]) -> list[Gaze]:
        per_frame = self.estimate(frames)
        flat = [g for faces in per_frame for g in faces]
        sigma = correction = None
        if self._head is not None:
            feats = np.stack([g.features for g in flat]) if flat else np.zeros((0, len(FEATURES)), np.float32)
            correction, sigma = self._head(feats)
        out, start = [], 0
        for frame, faces in zip(frames, per_frame):
            s = slice(start, start + len(faces))
            start += len(faces)
            out.append(self._result(frame, faces, None if correction is None else correction[s], None if sigma is None else sigma[s]))
        return out

    def _result(self, frame: Frame, faces: list[FaceGaze], correction: np.ndarray | None, sigma: np.ndarray | None) -> Gaze:
        n = len(faces)
        raw = np.array([g.yaw_pitch for g in faces], np.float32).reshape(n, 2)
        yp = raw if correction is None else apply_correction(raw, correction)
        data: dict[str, np.ndarray] = {
            "head_pose": np.array([g.head for g in faces], np.float32).reshape(n, 3),
            "eye_angles": np.array([g.eye_angles for g in faces], np.float32).reshape(n, 2, 2),
            "iris_centres": np.array([g.iris_centres for g in faces], np.float32).reshape(n, 2, 2),
            "raw_yaw_pitch": raw,
            "presence": np.array([g.presence for g in faces], np.float32).reshape(n),
        }
        depth = frame.results.get("depth")
        if isinstance(depth, Depth) and depth.depth.shape == frame.image.shape[:2]:
            data.update(self._rays(frame, depth, yp, np.array([g.origin for g in faces], np.float32).reshape(n, 2)))
        meta = {"sigma_head": self.config.sigma_head if self._head is not None else None,
                # sigma is a scale: the region holding a share p of the errors is k * sigma (as the pose stage says)
                "sigma_coverage_radius": dict(self._head.meta.radius) if self._head is not None else None}
        origin = np.array([g.origin for g in faces], np.float32).reshape(n, 2)
        return Gaze(yaw_pitch=yp, sigma=sigma, origin=origin, data=data, metadata=meta)

    def _rays(self, frame: Frame, depth: Depth, yaw_pitch: np.ndarray, origins: np.ndarray) -> dict[str, np.ndarray]:
        n = len(yaw_pitch)
        dirs = hp.direction(yaw_pitch[:, 0].astype(np.float64), yaw_pitch[:, 1].astype(np.float64)).reshape(n, 3)
        xyz = np.array([origin_3d(depth, o, self.config.ray.window) for o in origins]).reshape(n, 3)
        hit_xyz = np.full((n, 3), np.nan)
        who, what = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
        boxes = frame.results["face"].boxes
        for i in range(n):
            hit = march(depth, xyz[i], dirs[i], self.config.ray)
            if hit is None:
                continue
            hit_xyz[i] = hit[0]
            who[i] = hit_face(boxes, i, hit[1])
            what[i] = hit_detection(frame.results.get("detect"), hit[0], hit[1])
        return {"origin_xyz": xyz.astype(np.float32), "direction": dirs.astype(np.float32), "hit_xyz": hit_xyz.astype(np.float32),
                "hit_face": who, "hit_detection": what}


def load_sigma_head(name: str, providers: Sequence[str]):
    """The trained sigma head (registered name or .onnx path), or None for ``none`` or a missing file (logged)."""
    if name == "none":
        return None
    from sensorium.models.zoo import gaze_sigma
    from sensorium.models.hub import weights

    try:
        path = Path(name) if name.endswith(".onnx") else weights.resolve(name)
    except FileNotFoundError as exc:
        log.warning("gaze: no sigma head (%s); sigma will be None", exc)
        return None
    if not path.is_file():
        log.warning("gaze: no sigma head at %s; sigma will be None", path)
        return None
    return gaze_sigma.GazeSigmaHead(path, FEATURES, providers=tuple(providers))
