"""Read and write camera calibrations: OpenCV FileStorage (YAML/XML) and JSON.

Stereo files hold ``K1 D1 K2 D2 R T`` (``cv2.stereoCalibrate``'s names) plus ``image_width``
and ``image_height``; OpenCV's own samples name the intrinsics ``M1``/``M2``, which are read as
``K1``/``K2``. JSON files hold the same keys as nested lists (``width``/``height`` or
``image_size`` are accepted too). Intrinsics JSON holds ``K`` (3x3), or ``fx fy cx cy``, or
Open3D's column-major ``intrinsic_matrix``, plus ``width``/``height``.

Errors name the file: a missing file raises FileNotFoundError, a malformed one ValueError with
the offending key.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sensorium.stages.camera import Intrinsics, StereoCalibration

log = logging.getLogger(__name__)

_STEREO_KEYS = ("K1", "D1", "K2", "D2", "R", "T")
_ALIASES = {"K1": ("K1", "M1"), "K2": ("K2", "M2")}
_OPENCV_SUFFIXES = (".yaml", ".yml", ".xml")


def _require_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file not found: {path}")
    return path


def _matrix(path: Path, key: str, value: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: key {key!r}: expected numbers, got {value!r:.80}") from None
    if shape is not None:
        if arr.size != int(np.prod(shape)):
            raise ValueError(f"{path}: key {key!r}: expected {'x'.join(map(str, shape))} values, got shape {arr.shape}")
        arr = arr.reshape(shape)
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: key {key!r}: contains NaN or inf")
    return arr


_SHAPES = {"K1": (3, 3), "K2": (3, 3), "R": (3, 3), "T": (3,), "D1": None, "D2": None}


# --- OpenCV FileStorage -----------------------------------------------------------------------


def _read_opencv(path: Path) -> dict[str, Any]:
    """All top-level nodes of a FileStorage file as numpy arrays / numbers / lists of str."""
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except cv2.error as exc:
        raise ValueError(f"{path}: not a readable OpenCV YAML/XML file ({exc.err})") from None
    if not fs.isOpened():
        raise ValueError(f"{path}: not a readable OpenCV YAML/XML file")
    try:
        out: dict[str, Any] = {}
        for key in fs.root().keys():
            node = fs.getNode(key)
            if node.isMap() or (node.isSeq() and node.size() and node.at(0).isReal()):
                mat = node.mat()
                if mat is None and node.isSeq():
                    mat = np.array([node.at(i).real() for i in range(node.size())])
                out[key] = mat
            elif node.isSeq():
                out[key] = [node.at(i).string() if node.at(i).isString() else node.at(i).real() for i in range(node.size())]
            elif node.isInt() or node.isReal():
                out[key] = node.real()
            elif node.isString():
                out[key] = node.string()
        return out
    finally:
        fs.release()


def _stereo_from_values(path: Path, values: dict[str, Any]) -> StereoCalibration:
    picked: dict[str, np.ndarray] = {}
    for key in _STEREO_KEYS:
        name = next((n for n in _ALIASES.get(key, (key,)) if values.get(n) is not None), None)
        if name is None:
            hint = ""
            if "imagelist" in values:
                hint = " (this is an image list for calibration, not a calibration result)"
            raise ValueError(f"{path}: missing key {key!r}{hint}; found: {', '.join(sorted(values)) or 'nothing'}")
        picked[key] = _matrix(path, name, values[name], _SHAPES[key])
    size = values.get("image_size")
    width = values.get("image_width", values.get("width", None if size is None else np.asarray(size).reshape(-1)[0]))
    height = values.get("image_height", values.get("height", None if size is None else np.asarray(size).reshape(-1)[1]))
    for key, v in (("image_width", width), ("image_height", height)):
        if v is None:
            raise ValueError(f"{path}: missing key {key!r} (or width/height, image_size)")
        if float(v) <= 0 or float(v) != int(float(v)):
            raise ValueError(f"{path}: key {key!r}: expected a positive integer, got {v!r}")
    try:
        return StereoCalibration(
            picked["K1"], picked["D1"].reshape(-1), picked["K2"], picked["D2"].reshape(-1),
            picked["R"], picked["T"], int(float(width)), int(float(height)),
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def read_stereo_calibration(path: str | Path) -> StereoCalibration:
    """Read a StereoCalibration from OpenCV YAML/XML (``.yaml .yml .xml``) or ``.json``.

    T is taken in the file's unit; sensorium expects metres (depth comes out in T's unit).
    """
    path = _require_file(Path(path))
    if path.suffix.lower() == ".json":
        values = _read_json(path)
    elif path.suffix.lower() in _OPENCV_SUFFIXES:
        values = _read_opencv(path)
    else:
        raise ValueError(f"{path}: unknown calibration format {path.suffix!r}; expected .yaml, .yml, .xml or .json")
    return _stereo_from_values(path, values)


def write_stereo_calibration(path: str | Path, calib: StereoCalibration) -> Path:
    """Write ``calib`` as OpenCV FileStorage YAML/XML or JSON, chosen by the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        d = calib.to_dict()
        d["image_width"], d["image_height"] = d.pop("width"), d.pop("height")
        path.write_text(json.dumps(d, indent=2) + "\n")
        return path
    if path.suffix.lower() not in _OPENCV_SUFFIXES:
        raise ValueError(f"{path}: unknown calibration format {path.suffix!r}; expected .yaml, .yml, .xml or .json")
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    if not fs.isOpened():
        raise OSError(f"could not open {path} for writing")
    try:
        fs.write("image_width", int(calib.width))
        fs.write("image_height", int(calib.height))
        for key in _STEREO_KEYS:
            value = getattr(calib, key)
            # distortion and T as row/column vectors, the shapes stereoCalibrate returns
            fs.write(key, value.reshape(1, -1) if key in ("D1", "D2") else value.reshape(3, 1) if key == "T" else value)
    finally:
        fs.release()
    return path


def read_image_list(path: str | Path) -> list[str]:
    """The ``imagelist`` of an OpenCV calibration-sample config (e.g. ``stereo_calib.xml``).

    Returns file names as written (relative to the list's folder), in order (left, right, ...).
    """
    path = _require_file(Path(path))
    values = _read_opencv(path)
    names = values.get("imagelist")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{path}: missing key 'imagelist' (a sequence of file names)")
    return names


# --- JSON ------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level, got {type(values).__name__}")
    return values


def intrinsics_from_values(values: dict[str, Any], source: str | Path = "<dict>") -> Intrinsics:
    """Intrinsics from a dict holding ``K``, ``fx fy cx cy`` or ``intrinsic_matrix`` plus width/height."""
    path = Path(str(source))
    if "K" in values:
        K = _matrix(path, "K", values["K"], (3, 3))
    elif "intrinsic_matrix" in values:  # Open3D's PinholeCameraIntrinsic JSON is column-major
        K = _matrix(path, "intrinsic_matrix", values["intrinsic_matrix"], (3, 3)).T
    elif all(k in values for k in ("fx", "fy", "cx", "cy")):
        fx, fy, cx, cy = (float(_matrix(path, k, values[k], (1,))[0]) for k in ("fx", "fy", "cx", "cy"))
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float64)
    else:
        raise ValueError(f"{path}: missing key 'K' (or 'fx'/'fy'/'cx'/'cy', or 'intrinsic_matrix'); found: {', '.join(sorted(values))}")
    if K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1:
        raise ValueError(f"{path}: key 'K': expected positive focal lengths and K[2, 2] == 1, got {K.tolist()}")
    size = {}
    for key, alt in (("width", "image_width"), ("height", "image_height")):
        v = values.get(key, values.get(alt))
        if v is None:
            raise ValueError(f"{path}: missing key {key!r}")
        if not isinstance(v, (int, float)) or v <= 0 or int(v) != v:
            raise ValueError(f"{path}: key {key!r}: expected a positive integer, got {v!r}")
        size[key] = int(v)
    return Intrinsics(K, size["width"], size["height"])


def read_intrinsics(path: str | Path) -> Intrinsics:
    """Read pinhole Intrinsics from a JSON file (see :func:`intrinsics_from_values`)."""
    path = _require_file(Path(path))
    return intrinsics_from_values(_read_json(path), path)


def write_intrinsics(path: str | Path, intrinsics: Intrinsics, **extra: Any) -> Path:
    """Write Intrinsics as JSON (``K``, ``width``, ``height`` and any ``extra`` keys, e.g. depth_scale)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**intrinsics.to_dict(), **extra}, indent=2) + "\n")
    return path
