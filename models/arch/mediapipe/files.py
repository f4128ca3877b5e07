"""The ONNX graphs of MediaPipe's registered .tflite weights, converted on first use into the cache."""

from __future__ import annotations

from pathlib import Path

from sensorium.models.hub import weights as registry
from sensorium.models.hub.tflite import converted_path

#: registered weights names of the MediaPipe models this reader converts
MEDIAPIPE_WEIGHTS = ("mediapipe_face_detection_short_range", "mediapipe_face_landmark", "mediapipe_iris_landmark",
                     "mediapipe_pose_detection", "mediapipe_pose_landmark_full")


def onnx_file(weights: str, *, cache_dir: str | Path | None = None) -> Path:
    """Path of the ONNX conversion of the registered .tflite ``weights`` (sha256-verified first).

    The conversion is deterministic, so it is made here once per source file and cached under
    the source's sha256 rather than shipped. Raises WeightsNotFoundError (saying where to get
    the file) when the .tflite is missing, TFLiteConversionError for a graph that does not convert.
    """
    entry = registry.get_weights(weights)
    if entry.format != "tflite":
        raise ValueError(f"weights {weights!r}: expected a tflite entry, got format {entry.format!r}")
    src = registry.resolve(weights, cache_dir=cache_dir)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else registry.default_cache_dir()
    return converted_path(src, cache / "mediapipe")
