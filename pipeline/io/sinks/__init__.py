"""Sinks: where processed frames go (JSON lines, arrays, video, point clouds, a fused mesh).

A sink receives every frame, in order per source, through ``write(frame)`` and finishes with
``close()``, which returns a JSON-safe summary. Sinks never raise on a bad frame: a failure is
logged, counted in the summary and the next frame is written (one unwritable frame must not
end a long run). Frames with errors are still logged to JSONL, with their errors; the array
sinks skip frames that lack what they write (no Depth result because the depth stage failed,
no image because the source failed) and count why.

Layout under ``out_dir`` (``<src>`` is the sanitised source id, see ``safe_name``)::

    frames.jsonl                    JsonlSink: one JSON object per frame
    arrays/<src>_<seq:06d>.npz      NpzSink: the depth maps of one frame
    <src>.mp4                       VideoSink: annotated frames of one source
    clouds/<src>_<seq:06d>.ply      PlySink: the Depth result's point cloud
    <src>_mesh.ply                  TsdfSink: the fused surface of one source

Sinks are not thread-safe: the pipeline calls each from one thread.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import logging
import os
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Iterable, Protocol, runtime_checkable

import cv2
import numpy as np

from sensorium.pipeline.io.sinks.annotate import annotate, primary_depth
from sensorium.stages.frame import Frame
from sensorium.stages.depth.fusion import TSDFFusion
from sensorium.stages.results import Depth

log = logging.getLogger(__name__)


@runtime_checkable
class Sink(Protocol):
    """Anything frames can be written to."""

    name: str

    def write(self, frame: Frame) -> None:
        """Consume one frame; never raises for a bad frame (counts it instead)."""

    def close(self) -> dict[str, Any]:
        """Flush and release files; return a JSON-safe summary. Idempotent."""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(source_id: str) -> str:
    """A file-name-safe, collision-free stem for ``source_id``.

    Ids made of letters, digits, ``.``, ``_`` and ``-`` (not starting with a dot, at most 80
    characters) are kept as they are; any other id (``rtsp://cam/1``, ``../x``, ``""``) becomes
    its sanitised form plus 8 hex digits of its sha1, so two ids never share a file.
    """
    text = str(source_id)
    if text and len(text) <= 80 and not _UNSAFE.search(text) and not text.startswith("."):
        return text
    stem = _UNSAFE.sub("_", text).strip("._")[:60] or "source"
    return f"{stem}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]}"


def frame_stem(frame: Frame) -> str:
    """``<safe source id>_<seq:06d>``: the per-frame file stem shared by the array sinks."""
    return f"{safe_name(frame.source_id)}_{frame.seq:06d}"


class BaseSink:
    """Bookkeeping shared by the sinks: counters, failure isolation, idempotent close.

    Subclasses implement ``_write(frame) -> None | str`` (None when written, else the reason
    for skipping) and optionally ``_close() -> dict`` (extra summary fields).
    """

    name: ClassVar[str] = ""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.written = 0
        self.failed = 0
        self.skipped: Counter[str] = Counter()
        self._summary: dict[str, Any] | None = None

    def write(self, frame: Frame) -> None:
        if self._summary is not None:
            raise RuntimeError(f"{self.name} sink: write after close")
        try:
            reason = self._write(frame)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not end the run
            self.failed += 1
            # the first traceback explains the rest; later failures are one line each
            log.warning("%s sink failed on %s: %s: %s", self.name, getattr(frame, "key", frame), type(exc).__name__, exc,
                        exc_info=self.failed == 1)
            return
        if reason is None:
            self.written += 1
        else:
            self.skipped[reason] += 1

    def close(self) -> dict[str, Any]:
        if self._summary is not None:
            return self._summary
        extra: dict[str, Any] = {}
        try:
            extra = self._close() or {}
        except Exception as exc:  # noqa: BLE001 - report it; the other sinks still close
            log.exception("%s sink failed to close", self.name)
            extra = {"close_error": f"{type(exc).__name__}: {exc}"}
        self._summary = {"sink": self.name, "written": self.written, "skipped": dict(self.skipped), "failed": self.failed, **extra}
        log.info("%s sink closed: %s", self.name, self._summary)
        return self._summary

    def _write(self, frame: Frame) -> str | None:
        raise NotImplementedError

    def _close(self) -> dict[str, Any]:
        return {}

    def __enter__(self) -> "BaseSink":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class JsonlSink(BaseSink):
    """``out_dir/frames.jsonl``: one ``frame.to_dict()`` per line, every frame (errors too).

    Depth results are too big for a log line: each is moved from ``results`` to a top-level
    ``"depth"`` dict, ``{stage: {**Depth.summary(), "npz": path or None}}``, where ``npz`` is
    the file NpzSink writes for the frame's primary depth, relative to ``out_dir``, when
    ``npz_names`` (``build_sinks`` sets it when the npz sink runs too). The rest of the line is
    exactly ``to_dict()``, so ``Frame.from_dict(line)`` rebuilds the frame without its depth.
    Each line is flushed, so a crash loses at most the frame being written.
    """

    name = "jsonl"

    def __init__(self, out_dir: str | os.PathLike[str], *, npz_names: bool = False) -> None:
        super().__init__(out_dir)
        self.npz_names = npz_names
        self.path = self.out_dir / "frames.jsonl"
        self._file = self.path.open("w", encoding="utf-8")

    def _write(self, frame: Frame) -> str | None:
        depths = {stage: r for stage, r in frame.results.items() if isinstance(r, Depth)}
        if depths:
            # a shallow copy without the depth maps: to_dict would base64 them only to be dropped
            light = copy.copy(frame)
            light.results = {stage: r for stage, r in frame.results.items() if stage not in depths}
            line = light.to_dict()
            primary = primary_depth(frame)
            line["depth"] = {
                stage: {
                    **result.summary(),
                    "npz": f"{NpzSink.subdir}/{frame_stem(frame)}.npz" if self.npz_names and primary and primary[0] == stage else None,
                }
                for stage, result in depths.items()
            }
        else:
            line = frame.to_dict()
        # serialise fully before writing, so a failure never leaves half a line
        text = json.dumps(line, separators=(",", ":"))
        self._file.write(text + "\n")
        self._file.flush()
        return None

    def _close(self) -> dict[str, Any]:
        self._file.close()
        return {"path": str(self.path)}


class NpzSink(BaseSink):
    """``out_dir/arrays/<src>_<seq:06d>.npz`` (compressed) for every frame with a Depth result.

    Keys: ``depth`` (H, W) float32 metres, 0 where unknown; ``confidence`` (H, W) float32 in
    [0, 1]; ``K`` (3, 3) float64 intrinsics of the camera the maps are in; ``disparity``
    (H, W) float32 pixels, <= 0 where unknown (stereo input only); ``sensor_depth`` (H', W')
    float32 metres (RGB-D input only, registered to the input image); ``pose`` (4, 4) float64
    camera-to-world (only when the source knows it).
    """

    name = "npz"
    subdir = "arrays"

    def __init__(self, out_dir: str | os.PathLike[str], compress_level: int = 1) -> None:
        """compress_level: zlib level 0 (store) to 9. Level 1 is ~3x faster than numpy's
        ``savez_compressed`` (level 6) on depth maps for ~15% bigger files (measured: 30 vs 96 ms
        and 0.97 vs 0.83 MB per VGA frame); 0 writes 4.9 MB in 3 ms."""
        super().__init__(out_dir)
        if not 0 <= compress_level <= 9:
            raise ValueError(f"npz sink: compress_level must be 0..9, got {compress_level}")
        self.compress_level = compress_level
        self.dir = self.out_dir / self.subdir
        self.dir.mkdir(parents=True, exist_ok=True)

    def _write(self, frame: Frame) -> str | None:
        found = primary_depth(frame)
        if found is None:
            return "no depth result"
        depth = found[1]
        arrays: dict[str, np.ndarray] = {"depth": depth.depth, "confidence": depth.confidence, "K": depth.K}
        if depth.disparity is not None:
            arrays["disparity"] = depth.disparity
        if frame.sensor_depth is not None:
            arrays["sensor_depth"] = frame.sensor_depth
        if frame.pose is not None:
            arrays["pose"] = frame.pose
        path = self.dir / f"{frame_stem(frame)}.npz"
        tmp = path.with_name(path.name + ".tmp")
        # the .npz format (a zip of .npy members) with our own zlib level; np.load reads it as usual
        mode = zipfile.ZIP_DEFLATED if self.compress_level else zipfile.ZIP_STORED
        with zipfile.ZipFile(tmp, "w", compression=mode, compresslevel=self.compress_level or None) as zf:
            for key, value in arrays.items():
                with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
        os.replace(tmp, path)  # write then rename: readers never see a partial file
        return None

    def _close(self) -> dict[str, Any]:
        return {"dir": str(self.dir)}


class VideoSink(BaseSink):
    """``out_dir/<src>.mp4`` per source (mp4v), of ``annotate(frame)``.

    Every frame with an image (or a depth map) is written, errors drawn in red on it. A
    source's video takes the size of its first annotated frame; later frames of another size
    (the depth panel appearing, a resolution change) are resized to it. max_depth: metres at
    the far end of the depth colormap; pass one for colours that mean the same in every frame.
    """

    name = "video"

    def __init__(self, out_dir: str | os.PathLike[str], fps: float = 10.0, *, max_depth: float | None = None) -> None:
        super().__init__(out_dir)
        if not fps > 0:
            raise ValueError(f"VideoSink: expected fps > 0, got {fps}")
        self.fps = float(fps)
        self.max_depth = max_depth
        self._writers: dict[str, Any] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._counts: Counter[str] = Counter()
        self._paths: dict[str, Path] = {}

    def _write(self, frame: Frame) -> str | None:
        if frame.image is None and primary_depth(frame) is None:
            return "no image"
        picture = annotate(frame, max_depth=self.max_depth)
        src = frame.source_id
        if src not in self._writers:
            h, w = picture.shape[:2]
            path = self.out_dir / f"{safe_name(src)}.mp4"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not writer.isOpened():
                raise RuntimeError(f"cv2.VideoWriter could not open {path} (mp4v, {w}x{h})")
            self._writers[src], self._sizes[src], self._paths[src] = writer, (w, h), path
        w, h = self._sizes[src]
        if picture.shape[:2] != (h, w):
            picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA)
        self._writers[src].write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        self._counts[src] += 1
        return None

    def _close(self) -> dict[str, Any]:
        for writer in self._writers.values():
            writer.release()
        return {"videos": {src: {"path": str(self._paths[src]), "frames": self._counts[src]} for src in self._writers}}


class PlySink(BaseSink):
    """``out_dir/clouds/<src>_<seq:06d>.ply`` (binary) from the Depth result's point cloud.

    Points are metres in the camera frame of the depth map, colours RGB; frames whose Depth
    has no ``points`` (the depth stage was not asked for them) are skipped.
    """

    name = "ply"
    subdir = "clouds"

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        super().__init__(out_dir)
        self.dir = self.out_dir / self.subdir
        self.dir.mkdir(parents=True, exist_ok=True)

    def _write(self, frame: Frame) -> str | None:
        import open3d as o3d

        found = primary_depth(frame)
        if found is None:
            return "no depth result"
        depth = found[1]
        if depth.points is None:
            return "no point cloud"
        if depth.points.shape[0] == 0:
            return "empty point cloud"
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(depth.points.astype(np.float64)))
        cloud.colors = o3d.utility.Vector3dVector(depth.colors.astype(np.float64) / 255.0)
        path = self.dir / f"{frame_stem(frame)}.ply"
        if not o3d.io.write_point_cloud(str(path), cloud, write_ascii=False):
            raise RuntimeError(f"Open3D could not write {path}")
        return None

    def _close(self) -> dict[str, Any]:
        return {"dir": str(self.dir)}


class TsdfSink(BaseSink):
    """Fuses each source's frames into a TSDF volume; ``out_dir/<src>_mesh.ply`` on close.

    Every frame with a Depth result and an image is fused (``TSDFFusion``): its depth map and
    K, the image registered to the depth map (rectified for stereo, resized when sizes differ),
    and ``frame.pose`` when the source knows it, turned into the depth camera's pose (else
    RGB-D odometry). Mesh vertices are metres in the world frame of the poses
    (of the first frame when they are estimated). Options go to ``TSDFFusion``; sdf_trunc
    defaults to 4 voxels; min_observations drops surface seen by fewer frames.
    """

    name = "tsdf"

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        voxel_length: float = 0.01,
        *,
        sdf_trunc: float | None = None,
        depth_trunc: float = 3.0,
        color: bool = True,
        min_observations: int = 1,
        device: str = "CPU:0",
    ) -> None:
        super().__init__(out_dir)
        self._fusion_args = dict(
            voxel_length=voxel_length,
            sdf_trunc=4 * voxel_length if sdf_trunc is None else sdf_trunc,
            depth_trunc=depth_trunc,
            color=color,
            device=device,
        )
        if min_observations < 1:
            raise ValueError(f"TsdfSink: expected min_observations >= 1, got {min_observations}")
        self.min_observations = min_observations
        self._fusions: dict[str, TSDFFusion] = {}
        TSDFFusion(**self._fusion_args)  # validate the options now, not on the first frame

    def _write(self, frame: Frame) -> str | None:
        found = primary_depth(frame)
        if found is None:
            return "no depth result"
        if frame.image is None:
            return "no image"
        depth = found[1]
        color, pose = _in_depth_camera(frame, depth)
        fusion = self._fusions.get(frame.source_id)
        if fusion is None:
            fusion = self._fusions[frame.source_id] = TSDFFusion(**self._fusion_args)
        if fusion.integrate(color, depth.depth, depth.K, pose) is None:
            return f"not fused: {fusion.last_skip_reason}"
        return None

    def _close(self) -> dict[str, Any]:
        import open3d as o3d

        meshes: dict[str, Any] = {}
        for src, fusion in self._fusions.items():
            entry: dict[str, Any] = {**fusion.stats(), "path": None}
            meshes[src] = entry
            try:  # one source's failure must not cost the others their mesh
                mesh = fusion.extract_mesh(min_observations=self.min_observations)
                entry.update(vertices=len(mesh.vertices), triangles=len(mesh.triangles))
                if len(mesh.triangles) == 0:
                    log.warning("tsdf sink: no surface fused for source %r; no mesh written", src)
                    continue
                path = self.out_dir / f"{safe_name(src)}_mesh.ply"
                if not o3d.io.write_triangle_mesh(str(path), mesh, write_ascii=False):
                    raise RuntimeError(f"Open3D could not write {path}")
                entry["path"] = str(path)
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                log.exception("tsdf sink: mesh of source %r failed", src)
                entry["error"] = f"{type(exc).__name__}: {exc}"
        self._fusions.clear()  # the volumes can be large; free them
        return {"meshes": meshes}


def _in_depth_camera(frame: Frame, depth: Depth) -> tuple[np.ndarray, np.ndarray | None]:
    """The frame's colour image and pose expressed in the camera its depth map is in.

    Stereo depth lives in the *rectified* left camera, which ``depth.rectification`` relates
    to the source's left camera (None: the maps are in the source's camera already). The
    source's pose is the original left camera's, so the depth camera's pose is
    pose @ ``rectification.to_source``, and the colour is rectified the same way. RGB-D depth
    is in the colour camera already; only a size difference is resized away.
    """
    color = frame.image
    h, w = depth.depth.shape
    rect = depth.rectification
    if rect is not None and color.shape[:2] == (h, w):
        color = rect.rectify_image(color)
    if color.shape[:2] != (h, w):
        color = cv2.resize(color, (w, h), interpolation=cv2.INTER_AREA)
    pose = frame.pose
    if pose is not None and rect is not None:
        pose = pose @ rect.to_source
    return color, pose


#: sink name → class, in the order ``build_sinks`` documents
SINKS: dict[str, type[BaseSink]] = {cls.name: cls for cls in (JsonlSink, NpzSink, VideoSink, PlySink, TsdfSink)}


def build_sinks(names: str | Iterable[str], out_dir: str | os.PathLike[str], **opts: Any) -> list[BaseSink]:
    """Sinks by name (``"jsonl,npz,video,ply,tsdf"`` or a list), all writing under ``out_dir``.

    Each option goes to every selected sink whose constructor takes it (``fps`` → video,
    ``voxel_length`` → tsdf, ...); options meant for unselected sinks are ignored, options no
    sink knows raise ValueError. The jsonl sink names the npz files when the npz sink is built
    too (unless ``npz_names`` is given).
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    wanted = [n for n in names if n]
    unknown = [n for n in wanted if n not in SINKS]
    if unknown:
        raise ValueError(f"unknown sink(s) {', '.join(map(repr, unknown))}; known: {', '.join(SINKS)}")
    duplicates = sorted({n for n in wanted if wanted.count(n) > 1})
    if duplicates:
        raise ValueError(f"sink(s) listed twice: {', '.join(duplicates)}")
    params = {name: set(inspect.signature(cls.__init__).parameters) - {"self", "out_dir"} for name, cls in SINKS.items()}
    known = set().union(*params.values())
    stray = sorted(set(opts) - known)
    if stray:
        raise ValueError(f"unknown sink option(s) {', '.join(stray)}; known: {', '.join(sorted(known))}")
    sinks: list[BaseSink] = []
    try:
        for name in wanted:
            kwargs = {k: v for k, v in opts.items() if k in params[name]}
            if name == "jsonl":
                kwargs.setdefault("npz_names", "npz" in wanted)
            sinks.append(SINKS[name](out_dir, **kwargs))
    except Exception:
        for sink in sinks:  # don't leak the files the earlier sinks opened
            sink.close()
        raise
    return sinks
