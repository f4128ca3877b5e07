"""RGB-D folders: colour images with registered 16-bit depth PNGs, in the TUM layout
(``rgb.txt``/``depth.txt`` associated by timestamp) or the Redwood/Open3D one (``color/``, ``depth/``)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from sensorium.pipeline.io.images import read_depth, read_image
from sensorium.pipeline.io.sources.base import Source, SourceItem, existing_path, failed_item
from sensorium.pipeline.io.sources.files import image_files
from sensorium.stages.camera import Intrinsics

log = logging.getLogger(__name__)

#: depth PNG units per metre: TUM RGB-D (and the bundled sample) and Redwood/Open3D (millimetres)
TUM_DEPTH_SCALE = 5000.0
REDWOOD_DEPTH_SCALE = 1000.0


@dataclass(frozen=True)
class RGBDEntry:
    """One RGB-D item: colour and depth files, capture time (None = unknown), camera-to-world pose."""

    color: Path
    depth: Path
    timestamp: float | None = None
    pose: np.ndarray | None = None


class RGBDSource(Source):
    """Colour images with registered 16-bit depth PNGs (``depth_scale`` units per metre).

    Frames carry ``sensor_depth`` (H, W) float32 metres (0 = no reading), ``calib`` = the
    intrinsics when known and ``pose`` when a trajectory was given.
    """

    def __init__(self, entries: Sequence[RGBDEntry], *, depth_scale: float, intrinsics: Intrinsics | None = None, source_id: str) -> None:
        super().__init__(source_id)
        if not entries:
            raise ValueError(f"source {source_id}: no colour/depth pairs")
        if depth_scale <= 0:
            raise ValueError(f"source {source_id}: depth_scale must be positive, got {depth_scale}")
        self.entries, self.depth_scale, self.intrinsics = list(entries), float(depth_scale), intrinsics

    @property
    def extras(self) -> frozenset[str]:
        return frozenset({"sensor_depth"})

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self) -> Iterator[SourceItem]:
        for e in self.entries:
            if self._closed.is_set():
                return
            meta = {"path": str(e.color), "depth_path": str(e.depth)}
            try:
                image = read_image(e.color)
            except (OSError, ValueError) as exc:
                yield failed_item(e.color, exc, meta)
                continue
            try:
                depth = read_depth(e.depth, self.depth_scale, image.shape[:2])
            except (OSError, ValueError) as exc:
                yield failed_item(e.depth, exc, meta)
                continue
            yield SourceItem(image=image, sensor_depth=depth, calib=self.intrinsics, pose=e.pose, timestamp=e.timestamp, meta=meta)


def _read_list(path: Path, min_fields: int) -> tuple[np.ndarray, list[list[str]]]:
    """Timestamps (N,) float64 and rows of a TUM-style list ("timestamp ..." lines, ``#`` comments)."""
    stamps, rows = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.replace(",", " ").split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if len(fields) < min_fields:
                raise ValueError(f"expected at least {min_fields} fields")
            stamps.append(float(fields[0]))
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: {exc}, got {line!r}") from None
        rows.append(fields)
    return np.array(stamps, dtype=np.float64), rows


def associate(a: np.ndarray, b: np.ndarray, max_dt: float) -> list[tuple[int, int]]:
    """Match timestamps ``a`` to ``b`` one-to-one, closest pairs first, within ``max_dt`` seconds
    (as TUM's associate.py); returns (i, j) pairs sorted by i."""
    order = np.argsort(b)
    sb = b[order]
    candidates = set()
    lo, hi = np.searchsorted(sb, a - max_dt, "left"), np.searchsorted(sb, a + max_dt, "right")
    for i, t in enumerate(a):
        for j in range(lo[i], hi[i]):
            candidates.add((abs(sb[j] - t), i, int(order[j])))
    used_a, used_b, pairs = set(), set(), []
    for _, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _quat_to_matrix(t: Sequence[float], q: Sequence[float]) -> np.ndarray:
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    pose = np.eye(4)
    pose[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    pose[:3, 3] = t
    return pose


def _tum_entries(folder: Path, max_dt: float) -> list[RGBDEntry]:
    (rgb_t, rgb_rows), (depth_t, depth_rows) = _read_list(folder / "rgb.txt", 2), _read_list(folder / "depth.txt", 2)
    pairs = associate(rgb_t, depth_t, max_dt)
    if len(pairs) < len(rgb_rows):
        log.warning("%s: %d of %d colour images have no depth within %.3f s; skipped", folder, len(rgb_rows) - len(pairs), len(rgb_rows), max_dt)
    poses: dict[int, np.ndarray] = {}
    gt = folder / "groundtruth.txt"
    if gt.is_file():
        gt_t, gt_rows = _read_list(gt, 8)
        for i, j in associate(rgb_t, gt_t, max_dt):
            try:
                values = [float(v) for v in gt_rows[j][1:8]]
            except ValueError as exc:
                raise ValueError(f"{gt}: bad pose row {' '.join(gt_rows[j])!r} ({exc})") from None
            poses[i] = _quat_to_matrix(values[:3], values[3:])
    return [RGBDEntry(folder / rgb_rows[i][1], folder / depth_rows[j][1], float(rgb_t[i]), poses.get(i)) for i, j in pairs]


def _read_trajectory_log(path: Path) -> list[np.ndarray]:
    """Open3D/Redwood ``.log`` trajectory: blocks of a metadata line and a 4x4 camera-to-world pose."""
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    if len(lines) % 5:
        raise ValueError(f"{path}: expected blocks of 5 lines (metadata + 4x4 pose), got {len(lines)} lines")
    poses = []
    for b in range(0, len(lines), 5):
        try:
            pose = np.array([[float(v) for v in row] for row in lines[b + 1 : b + 5]], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"{path}:{b + 2}: bad pose ({exc})") from None
        if pose.shape != (4, 4):
            raise ValueError(f"{path}:{b + 2}: expected a 4x4 pose, got rows of {[len(r) for r in lines[b + 1 : b + 5]]} values")
        poses.append(pose)
    return poses


def _redwood_entries(folder: Path) -> list[RGBDEntry]:
    colors, depths = image_files(folder / "color"), image_files(folder / "depth")
    if len(colors) != len(depths):
        raise ValueError(f"{folder}: {len(colors)} colour images in color/ but {len(depths)} depth images in depth/")
    poses: list[np.ndarray] = []
    if (folder / "trajectory.log").is_file():
        poses = _read_trajectory_log(folder / "trajectory.log")
        if len(poses) != len(colors):
            log.warning("%s: trajectory.log has %d poses for %d frames; frames beyond it get none", folder, len(poses), len(colors))
    return [RGBDEntry(c, d, None, poses[i] if i < len(poses) else None) for i, (c, d) in enumerate(zip(colors, depths))]


def rgbd_layout(folder: Path) -> str | None:
    """``"tum"`` (rgb.txt + depth.txt), ``"redwood"`` (color/ + depth/) or None."""
    if (folder / "rgb.txt").is_file() and (folder / "depth.txt").is_file():
        return "tum"
    if (folder / "color").is_dir() and (folder / "depth").is_dir():
        return "redwood"
    return None


def open_rgbd(path: str | Path, *, depth_scale: float | None = None, intrinsics: Intrinsics | str | Path | None = None,
              max_dt: float = 0.02, source_id: str | None = None) -> RGBDSource:
    """An RGB-D folder in the TUM layout (``rgb.txt``/``depth.txt`` associated by nearest timestamp
    within ``max_dt`` s, poses from ``groundtruth.txt``, ``intrinsics.json``, depth scale 5000) or
    the Redwood/Open3D layout (``color/``, ``depth/`` paired by sorted name, ``trajectory.log``,
    ``camera_primesense.json``, depth in millimetres). A folder holding such a layout in ``rgbd/``
    (the written sample) works too. ``depth_scale``/``intrinsics`` override the layout's.
    """
    folder = existing_path(path)
    layout = rgbd_layout(folder)
    if layout is None and rgbd_layout(folder / "rgbd"):
        folder = folder / "rgbd"
        layout = rgbd_layout(folder)
    if layout is None:
        raise ValueError(f"{folder}: not an RGB-D folder (expected rgb.txt + depth.txt, or color/ + depth/)")
    from sensorium.pipeline.io.calibration import read_intrinsics

    default_file = folder / ("intrinsics.json" if layout == "tum" else "camera_primesense.json")
    if intrinsics is None and default_file.is_file():
        intrinsics = default_file
    if isinstance(intrinsics, (str, Path)):
        intrinsics = read_intrinsics(Path(intrinsics))
    if depth_scale is None:
        depth_scale = TUM_DEPTH_SCALE if layout == "tum" else REDWOOD_DEPTH_SCALE
        if default_file.is_file():  # the written sample keeps its scale beside K
            try:
                depth_scale = float(json.loads(default_file.read_text()).get("depth_scale", depth_scale))
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"{default_file}: bad depth_scale ({exc})") from None
    entries = _tum_entries(folder, max_dt) if layout == "tum" else _redwood_entries(folder)
    return RGBDSource(entries, depth_scale=depth_scale, intrinsics=intrinsics, source_id=source_id or str(path))
