"""The bundled sample: a short synthetic stereo + RGB-D sequence with exact ground truth.

The project needs a default input that needs no download, exercises every input path
(stereo pair, RGB-D, poses, objects) and comes with ground truth to measure against. This
module renders one by ray casting a small scene of textured planes and boxes for each camera:

* world frame = the first left camera (X right, Y down, Z forward), metres;
* a textured back wall at Z = 6 m and a floor 1.2 m below the camera, three boxes at
  1.5-5 m (one moves a few centimetres per frame) and one panel slanted by 35 degrees;
* an ideal rectified pair (no distortion, same K, right camera ``baseline`` to the right),
  ``fx = fy = 525 * width / 640``; the rig translates a little between frames.

Texture is a function of each surface's own coordinates (world coordinates for the static
surfaces, box coordinates for boxes, so it moves with a moving box), so both views see the
same surface pattern and stereo matching has a unique answer. Octaves of value noise are faded
out where their cell is smaller than the pixel footprint (a mip-map by hand), so distant
texture does not alias differently in the two views. Sensor noise (Gaussian, sigma 1.5 grey
levels) is independent per view.

Everything is deterministic from ``seed`` (texture, colours, noise); the geometry is fixed, so
tests can rely on its depth range. 8 VGA frames render in ~1.5 s on 2 cores.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sensorium.stages.camera import Intrinsics, StereoCalibration

from sensorium.pipeline.io.calibration import write_intrinsics, write_stereo_calibration

log = logging.getLogger(__name__)

#: class names of the sample's objects (``SampleObject.class_id`` indexes this)
SAMPLE_CLASSES: tuple[str, ...] = ("box", "panel")
#: depth PNG scale (TUM convention: 5000 units per metre)
DEPTH_SCALE = 5000.0
#: frame rate and first timestamp (seconds since the epoch) of the written sequence
FPS = 30.0
T0 = 1_700_000_000.0
BASELINE_M = 0.12
WALL_Z_M = 6.0
FLOOR_Y_M = 1.2

_LATTICE = 512  # value-noise lattice size (cells), wrapped
_OCTAVES_M = (0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256)  # cell sizes
_OCTAVE_AMP = np.array([1.0, 1.0, 1.0, 0.9, 0.8, 0.6, 0.5], dtype=np.float32)
_NOISE_SIGMA = 1.5


@dataclass
class SampleObject:
    """One object of the sample as a detector and a 3D lifter should see it.

    box: (4,) float32 ``x1, y1, x2, y2`` pixels in the left image, the bounding box of the
    object's *visible* pixels. xyz: (3,) float32 metres, the box centre in the left camera
    frame. extent: (3,) float32 metres, its axis-aligned size in the left camera frame.
    """

    name: str
    class_id: int
    box: np.ndarray
    xyz: np.ndarray
    extent: np.ndarray


@dataclass
class SampleSequence:
    """The rendered sequence; every list has one entry per frame.

    lefts/rights: (H, W, 3) uint8 RGB. depths: (H, W) float32 metres (Z in the left camera,
    every pixel hits a surface). disparities: (H, W) float32 pixels, ``fx * baseline / depth``
    (left view). poses: (4, 4) float64 camera-to-world of the left camera.
    """

    calib: StereoCalibration
    intrinsics: Intrinsics
    lefts: list[np.ndarray]
    rights: list[np.ndarray]
    depths: list[np.ndarray]
    disparities: list[np.ndarray]
    poses: list[np.ndarray]
    objects: list[list[SampleObject]]

    def __len__(self) -> int:
        return len(self.lefts)

    @property
    def timestamps(self) -> list[float]:
        """Capture times, seconds since the epoch (``T0 + i / FPS``)."""
        return [T0 + i / FPS for i in range(len(self))]


# --- scene ----------------------------------------------------------------------------------


@dataclass
class _Box:
    """An oriented box: centre (3,) and rotation (3, 3) box-to-world, size (3,) metres."""

    name: str
    class_id: int
    centre: np.ndarray
    rotation: np.ndarray
    size: np.ndarray
    velocity: np.ndarray  # metres per frame, world frame

    def at(self, frame: int) -> "_Box":
        return _Box(self.name, self.class_id, self.centre + frame * self.velocity, self.rotation, self.size, self.velocity)


def _rot_y(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _scene() -> list[_Box]:
    still = np.zeros(3)
    return [
        _Box("box", 0, np.array([-0.55, 0.35, 1.8]), np.eye(3), np.array([0.5, 0.5, 0.6]), still),
        _Box("box", 0, np.array([0.75, 0.15, 3.2]), np.eye(3), np.array([0.8, 1.0, 0.8]), still),
        _Box("panel", 1, np.array([0.0, -0.45, 4.3]), _rot_y(35.0), np.array([1.2, 0.8, 0.04]), still),
        _Box("box", 0, np.array([-1.45, 0.0, 4.8]), np.eye(3), np.array([0.5, 0.5, 0.5]), np.array([0.04, 0.0, 0.0])),
    ]


def _pose(frame: int) -> np.ndarray:
    """Camera-to-world of the left camera: a slow translation (right, up, forward)."""
    pose = np.eye(4)
    pose[:3, 3] = [0.03 * frame, -0.005 * frame, 0.02 * frame]
    return pose


# --- rendering ------------------------------------------------------------------------------


class _Renderer:
    """Ray caster for one scene instance; texture tables and colours come from ``rng``."""

    def __init__(self, K: np.ndarray, width: int, height: int, n_surfaces: int, rng: np.random.Generator) -> None:
        self.K = K
        self.width, self.height = width, height
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        # camera-frame ray directions with z = 1, so the ray parameter is the camera Z (depth)
        self.dirs_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1).reshape(-1, 3)
        self.dir_norm = np.linalg.norm(self.dirs_cam, axis=1)
        self.lattice = rng.random((_LATTICE, _LATTICE), dtype=np.float32)
        # per-surface texture offsets (metres) and per-octave offsets (cells) decorrelate the
        # surfaces and the octaves; offsets stay small so float32 keeps sub-cell precision
        self.surface_offsets = rng.uniform(0, _LATTICE * _OCTAVES_M[0], size=(n_surfaces, 2))
        self.octave_offsets = rng.uniform(0, _LATTICE, size=(len(_OCTAVES_M), 2)).astype(np.float32)
        # a dark and a bright colour per surface: the texture blends between them, and the
        # luminance gap guarantees contrast for the matcher whatever the seed
        dark = rng.uniform(15, 110, size=(n_surfaces, 3))
        bright = rng.uniform(140, 240, size=(n_surfaces, 3))
        self.colours = np.stack([dark, bright], axis=1).astype(np.float32)

    def render(self, cam_to_world: np.ndarray, boxes: list[_Box]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image (H, W, 3) float32 RGB 0-255, depth (H, W) float32 metres, surface id (H, W) int16.

        Surface ids: 0 wall, 1 floor, 2 + i box i.
        """
        R, origin = cam_to_world[:3, :3], cam_to_world[:3, 3]
        world_to_cam = np.linalg.inv(cam_to_world)
        dirs = self.dirs_cam @ R.T  # (N, 3) world
        n = dirs.shape[0]
        best = np.full(n, np.inf)
        surf = np.full(n, -1, dtype=np.int16)
        uv = np.zeros((n, 2))
        cos = np.ones(n)

        with np.errstate(divide="ignore", invalid="ignore"):
            # wall Z = WALL_Z_M, floor Y = FLOOR_Y_M (Y points down)
            for sid, axis, value, uv_axes in ((0, 2, WALL_Z_M, [0, 1]), (1, 1, FLOOR_Y_M, [0, 2])):
                s = (value - origin[axis]) / dirs[:, axis]
                hit = np.nonzero((s > 0) & (s < best))[0]
                best[hit], surf[hit] = s[hit], sid
                uv[hit] = origin[uv_axes] + s[hit, None] * dirs[hit][:, uv_axes]
                cos[hit] = np.abs(dirs[hit, axis]) / self.dir_norm[hit]
            for i, box in enumerate(boxes):
                idx = self._candidates(box, world_to_cam)
                if idx.size == 0:
                    continue
                o = (origin - box.centre) @ box.rotation  # box frame
                d = dirs[idx] @ box.rotation
                d[np.abs(d) < 1e-12] = 1e-12
                half = box.size / 2
                t1, t2 = (-half - o) / d, (half - o) / d
                tnear, tfar = np.minimum(t1, t2), np.maximum(t1, t2)
                face = tnear.argmax(axis=1)  # the slab entered last is the face hit
                rows = np.arange(idx.size)
                tmin, tmax = tnear[rows, face], tfar.min(axis=1)
                hit = (tmax >= tmin) & (tmin > 0) & (tmin < best[idx])
                if not hit.any():
                    continue
                sel, face, tmin, d = idx[hit], face[hit], tmin[hit], d[hit]
                best[sel], surf[sel] = tmin, 2 + i
                p = o + tmin[:, None] * d
                # texture coordinates: the two box coordinates spanning the face
                other = np.array([[1, 2], [0, 2], [0, 1]])[face]
                uv[sel] = np.take_along_axis(p, other, axis=1)
                cos[sel] = np.abs(d[np.arange(sel.size), face]) / self.dir_norm[sel]

        if (surf < 0).any():  # cannot happen with a wall ahead of every forward ray
            raise RuntimeError("sample renderer: rays escaped the scene")
        # metres per pixel on the surface; sqrt(cos) splits the grazing stretch between axes
        footprint = best * self.dir_norm / self.K[0, 0] / np.sqrt(np.maximum(cos, 0.05))
        value = self._texture(uv + self.surface_offsets[surf], footprint)
        colours = self.colours[surf]  # (N, 2, 3)
        image = colours[:, 0] + (colours[:, 1] - colours[:, 0]) * value[:, None]
        shape = (self.height, self.width)
        return image.reshape(*shape, 3), best.reshape(shape).astype(np.float32), surf.reshape(shape)

    def _candidates(self, box: _Box, world_to_cam: np.ndarray) -> np.ndarray:
        """Flat pixel indices inside the box's projected bounding rectangle (all if it straddles Z=0)."""
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * box.size / 2
        cam = (corners @ box.rotation.T + box.centre) @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        if (cam[:, 2] <= 1e-6).any():
            return np.arange(self.width * self.height)
        px = cam[:, :2] / cam[:, 2:] * [self.K[0, 0], self.K[1, 1]] + [self.K[0, 2], self.K[1, 2]]
        u0, v0 = np.maximum(np.floor(px.min(axis=0)).astype(int) - 1, 0)
        u1 = min(int(np.ceil(px[:, 0].max())) + 2, self.width)
        v1 = min(int(np.ceil(px[:, 1].max())) + 2, self.height)
        if u0 >= u1 or v0 >= v1:
            return np.zeros(0, dtype=np.int64)
        return (np.arange(v0, v1)[:, None] * self.width + np.arange(u0, u1)[None, :]).ravel()

    def _texture(self, uv: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """Multi-octave value noise in [0, 1] at surface coordinates ``uv`` (N, 2) metres."""
        total = np.zeros(uv.shape[0], dtype=np.float32)
        u32, v32 = uv[:, 0].astype(np.float32), uv[:, 1].astype(np.float32)
        inv_fp = (1.0 / footprint).astype(np.float32)
        for k, cell in enumerate(_OCTAVES_M):
            # fade an octave in between 1 and 2 pixels per cell: finer ones would alias
            weight = np.clip(inv_fp * np.float32(cell) - 1.0, 0.0, 1.0)
            if not weight.any():
                continue
            mx = (u32 * np.float32(1.0 / cell) + self.octave_offsets[k, 0]).reshape(self.height, self.width)
            my = (v32 * np.float32(1.0 / cell) + self.octave_offsets[k, 1]).reshape(self.height, self.width)
            # cv2.remap does the wrapped bilinear lookup in C; coordinates stay well inside its
            # fixed-point range (|x| < 32767 cells: the scene spans < 10 m = 2500 finest cells)
            sample = cv2.remap(self.lattice, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP).reshape(-1)
            total += _OCTAVE_AMP[k] * weight * (sample - 0.5)
        value = 0.5 + 2.2 * total / np.sqrt(float((_OCTAVE_AMP**2).sum()))
        return np.clip(value, 0.0, 1.0)


def _visible_box(mask: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(mask)
    if xs.size < 20:  # a sliver is not a detectable object
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def _camera_extent(box: _Box, world_to_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * box.size / 2
    world = corners @ box.rotation.T + box.centre
    cam = world @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    centre = box.centre @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    return centre.astype(np.float32), (cam.max(axis=0) - cam.min(axis=0)).astype(np.float32)


def make_sample(n_frames: int = 8, width: int = 640, height: int = 480, seed: int = 0) -> SampleSequence:
    """Render the sample sequence (deterministic for a given ``seed`` and size).

    Returns images in the left and right cameras of an ideal rectified pair, ground-truth depth
    and disparity in the left camera, left camera poses and the objects visible in each frame.
    """
    if n_frames < 1:
        raise ValueError(f"make_sample: expected n_frames >= 1, got {n_frames}")
    if width < 32 or height < 32:
        raise ValueError(f"make_sample: expected an image of at least 32x32 pixels, got {width}x{height}")
    fx = 525.0 * width / 640.0
    calib = StereoCalibration.rectified(fx, (width - 1) / 2.0, (height - 1) / 2.0, BASELINE_M, width, height)
    intrinsics = Intrinsics(calib.K1.copy(), width, height)
    scene = _scene()
    rng = np.random.default_rng(seed)
    renderer = _Renderer(calib.K1, width, height, 2 + len(scene), rng)
    noise_rng = np.random.default_rng([seed, 1])

    seq = SampleSequence(calib, intrinsics, [], [], [], [], [], [])
    right_offset = np.eye(4)
    right_offset[0, 3] = BASELINE_M  # right camera sits baseline to the right: X_right = X_left - B
    for i in range(n_frames):
        boxes = [b.at(i) for b in scene]
        pose = _pose(i)
        left, depth, surf = renderer.render(pose, boxes)
        right, _, _ = renderer.render(pose @ right_offset, boxes)
        images = []
        for img in (left, right):
            img = img + np.float32(_NOISE_SIGMA) * noise_rng.standard_normal(size=img.shape, dtype=np.float32)
            images.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        seq.lefts.append(images[0])
        seq.rights.append(images[1])
        seq.depths.append(depth)
        seq.disparities.append((fx * BASELINE_M / depth).astype(np.float32))
        seq.poses.append(pose)
        world_to_cam = np.linalg.inv(pose)
        objects = []
        for k, box in enumerate(boxes):
            bbox = _visible_box(surf == 2 + k)
            if bbox is None:
                continue
            xyz, extent = _camera_extent(box, world_to_cam)
            objects.append(SampleObject(box.name, box.class_id, bbox, xyz, extent))
        seq.objects.append(objects)
    log.debug("rendered %d sample frames at %dx%d (seed %d)", n_frames, width, height, seed)
    return seq


# --- writing --------------------------------------------------------------------------------


def _quaternion_xyzw(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R).as_quat()  # (x, y, z, w), TUM's order


def write_sample(seq: SampleSequence, out_dir: Path) -> Path:
    """Write ``seq`` in the layouts the file sources read; returns ``out_dir``.

    Layout::

        left/000000.png, right/000000.png      stereo pair (8-bit BGR PNG, as cv2 writes)
        calib.yaml                             OpenCV FileStorage: K1 D1 K2 D2 R T image_width image_height
        rgbd/rgb/000000.png, rgbd/depth/000000.png   TUM RGB-D (16-bit depth, 5000 per metre)
        rgbd/rgb.txt, rgbd/depth.txt           TUM lists: "timestamp filename"
        rgbd/groundtruth.txt                   TUM poses: "timestamp tx ty tz qx qy qz qw"
        rgbd/intrinsics.json                   {"K", "width", "height", "depth_scale"}
        gt/000000.npz                          depth (H, W) float32 m, disparity (H, W) float32 px
        gt/objects.json                        per frame: [{name, class_id, box, xyz, extent}]
    """
    out = Path(out_dir)
    for sub in ("left", "right", "rgbd/rgb", "rgbd/depth", "gt"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    write_stereo_calibration(out / "calib.yaml", seq.calib)
    rgb_lines = ["# color images", "# timestamp filename"]
    depth_lines = ["# depth maps", "# timestamp filename"]
    gt_lines = ["# ground truth trajectory (left/colour camera, camera-to-world)", "# timestamp tx ty tz qx qy qz qw"]
    for i, stamp in enumerate(seq.timestamps):
        name = f"{i:06d}.png"
        left_bgr = cv2.cvtColor(seq.lefts[i], cv2.COLOR_RGB2BGR)
        for path, image in ((out / "left" / name, left_bgr), (out / "right" / name, cv2.cvtColor(seq.rights[i], cv2.COLOR_RGB2BGR)), (out / "rgbd/rgb" / name, left_bgr)):
            if not cv2.imwrite(str(path), image):
                raise OSError(f"could not write {path}")
        depth_mm = np.clip(np.rint(seq.depths[i] * DEPTH_SCALE), 0, 65535).astype(np.uint16)
        if not cv2.imwrite(str(out / "rgbd/depth" / name), depth_mm):
            raise OSError(f"could not write {out / 'rgbd/depth' / name}")
        rgb_lines.append(f"{stamp:.6f} rgb/{name}")
        depth_lines.append(f"{stamp:.6f} depth/{name}")
        t = seq.poses[i][:3, 3]
        q = _quaternion_xyzw(seq.poses[i][:3, :3])
        gt_lines.append(f"{stamp:.6f} " + " ".join(f"{v:.9f}" for v in (*t, *q)))
        np.savez_compressed(out / "gt" / f"{i:06d}.npz", depth=seq.depths[i], disparity=seq.disparities[i])
    (out / "rgbd/rgb.txt").write_text("\n".join(rgb_lines) + "\n")
    (out / "rgbd/depth.txt").write_text("\n".join(depth_lines) + "\n")
    (out / "rgbd/groundtruth.txt").write_text("\n".join(gt_lines) + "\n")
    write_intrinsics(out / "rgbd/intrinsics.json", seq.intrinsics, depth_scale=DEPTH_SCALE)
    objects = [
        [{"name": o.name, "class_id": o.class_id, "box": o.box.tolist(), "xyz": o.xyz.tolist(), "extent": o.extent.tolist()} for o in frame]
        for frame in seq.objects
    ]
    (out / "gt/objects.json").write_text(json.dumps({"classes": list(SAMPLE_CLASSES), "frames": objects}, indent=1) + "\n")
    log.info("wrote %d sample frames to %s", len(seq), out)
    return out
