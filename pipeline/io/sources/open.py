"""Opening a source from a spec string (``0``, ``rtsp://...``, ``sample:rgbd``, a folder, a glob,
a file) or a stereo pair; options go to the kind and unknown ones are named."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from sensorium.pipeline.io.sources.base import Source, existing_path
from sensorium.pipeline.io.sources.capture import STREAM_SCHEMES, CaptureSource
from sensorium.pipeline.io.sources.files import ImageFilesSource, image_files
from sensorium.pipeline.io.sources.rgbd import open_rgbd, rgbd_layout
from sensorium.pipeline.io.sources.sample import SampleSource
from sensorium.pipeline.io.sources.stereo import STEREO_CALIB_NAMES, SideBySideSource, StereoSource, stereo_calibration
from sensorium.pipeline.io.sources.video import VideoFileSource
from sensorium.stages.camera import StereoCalibration
from sensorium.stages.images import IMAGE_SUFFIXES


def _with_options(kind: str, spec: Any, factory: Callable[..., Source], options: dict[str, Any], *args: Any, **fixed: Any) -> Source:
    """Call ``factory`` naming any option it does not take (instead of a bare TypeError)."""
    params = inspect.signature(factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return factory(*args, **fixed, **options)  # it passes them on and checks them itself
    known = sorted(n for n, p in params.items() if n != "source_id" and (p.kind is p.KEYWORD_ONLY or (p.default is not p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)))
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"source {spec!r} ({kind}): unknown option(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}")
    return factory(*args, **fixed, **options)


def _is_stereo_folder(p: Path) -> bool:
    return (p / "left").is_dir() and (p / "right").is_dir() and not image_files(p)


def is_live_spec(spec: str | int | Path) -> bool:
    """Whether ``spec`` opens a live source (a camera index or a network stream), the kinds that
    take a ``reconnect`` policy."""
    text = str(spec).strip()
    return isinstance(spec, int) or text.isdigit() or text.lower().startswith(STREAM_SCHEMES)


def open_source(spec: str | int | Path, *, source_id: str | None = None, **options: Any) -> Source:
    """Open a source from a spec string; ``options`` go to that kind (unknown ones raise).

    ``0`` (any integer): webcam; ``rtsp://``, ``http(s)://`` …: network stream (both live:
    ``reconnect``, ``open_timeout_s``, ``read_timeout_s``); ``sample``, ``sample:rgbd``, ``sample:both``: the synthetic sample
    (``n_frames``, ``width``, ``height``, ``seed``); ``rgbd:PATH`` or a folder in an RGB-D layout:
    :func:`open_rgbd`; a folder with ``left/`` and ``right/``: :func:`open_stereo`; a folder of
    images, a glob (``*``, ``?``, ``[``) or one image file: :class:`ImageFilesSource`; any other
    file: :class:`VideoFileSource`. A missing path raises FileNotFoundError naming it.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        return _with_options("webcam", spec, CaptureSource, options, index, source_id=source_id)
    text = str(spec)
    if text.lower().startswith(STREAM_SCHEMES):
        return _with_options("stream", spec, CaptureSource, options, text, source_id=source_id)
    if text == "sample" or text.startswith("sample:"):
        mode = text.partition(":")[2] or "stereo"
        return _with_options("sample", spec, SampleSource, options, mode=mode, source_id=source_id or text.replace(":", "-"))
    if text.startswith("rgbd:"):
        return _with_options("rgbd", spec, open_rgbd, options, text[len("rgbd:"):], source_id=source_id or text)
    if any(c in text for c in "*?[") and not Path(text).exists():
        return _with_options("glob", spec, ImageFilesSource.from_glob, options, text, source_id=source_id)
    path = existing_path(text)
    if path.is_dir():
        if rgbd_layout(path):
            return _with_options("rgbd", spec, open_rgbd, options, path, source_id=source_id or text)
        if _is_stereo_folder(path):
            return _with_options("stereo folder", spec, open_stereo, options, path, source_id=source_id)
        return _with_options("image folder", spec, ImageFilesSource.from_folder, options, path, source_id=source_id or text)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _with_options("image", spec, ImageFilesSource, options, [path], source_id=source_id or text)
    return _with_options("video", spec, VideoFileSource, options, path, source_id=source_id or text)


def open_stereo(left: str | Path | int, right: str | Path | int | None = None, *, calib: StereoCalibration | str | Path | None = None,
                side_by_side: bool = False, source_id: str | None = None, **options: Any) -> Source:
    """Open a stereo source; ``calib`` (a file read by :mod:`sensorium.pipeline.io.calibration`, or a StereoCalibration)
    is attached to every frame, None means the pair is already rectified.

    * ``open_stereo(left, right)``: two specs (folders, videos, streams) paired by index;
      two folders must hold as many images;
    * ``open_stereo(spec, side_by_side=True)``: each frame of ``spec`` split into halves;
    * ``open_stereo(folder)``: ``folder/left`` and ``folder/right``, with ``folder/calib.yaml``
      (or .yml/.json/.xml) when ``calib`` is not given.

    ``options`` go to the underlying :func:`open_source` call(s). A calibration file that does not
    exist raises FileNotFoundError naming it, before anything is read.
    """
    if side_by_side:
        if right is not None:
            raise ValueError("open_stereo: side_by_side takes one source, got a right one too")
        calib = stereo_calibration(calib)
        inner = open_source(left, **options)
        return SideBySideSource(inner, calib=calib, source_id=source_id or inner.source_id)
    if right is None:
        folder = existing_path(left)
        if not _is_stereo_folder(folder):
            raise ValueError(f"{folder}: expected a stereo folder with left/ and right/ image folders (or pass right=..., or side_by_side=True)")
        if calib is None:
            calib = next((folder / n for n in STEREO_CALIB_NAMES if (folder / n).is_file()), None)
        if options:
            raise ValueError(f"open_stereo({str(left)!r}): a stereo folder takes no option(s) {', '.join(sorted(options))}")
        calib = stereo_calibration(calib)
        left_src = ImageFilesSource.from_folder(folder / "left", source_id=f"{folder}/left")
        right_src = ImageFilesSource.from_folder(folder / "right", source_id=f"{folder}/right")
    else:
        calib = stereo_calibration(calib)
        left_src, right_src = open_source(left, **options), open_source(right, **options)
    if isinstance(left_src, ImageFilesSource) and isinstance(right_src, ImageFilesSource) and len(left_src) != len(right_src):
        raise ValueError(f"stereo pair: {left_src.source_id} has {len(left_src)} images but {right_src.source_id} has {len(right_src)}")
    return StereoSource(left_src, right_src, calib=calib, source_id=source_id or (str(left) if right is None else None))
