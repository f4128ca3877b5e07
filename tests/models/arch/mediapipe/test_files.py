"""MediaPipe weights: converted on first use into the cache; missing files say where to get them."""

from __future__ import annotations

import onnx
import pytest

from sensorium.models.arch.mediapipe.files import MEDIAPIPE_WEIGHTS, onnx_file
from sensorium.models.hub.weights import WeightsNotFoundError, get_weights, status


@pytest.mark.parametrize("name", MEDIAPIPE_WEIGHTS)
def test_registered_with_sha256_licence_and_a_verified_file(data_dir, name):
    entry = get_weights(name)
    assert entry.format == "tflite" and entry.license == "Apache-2.0" and entry.sha256
    assert "mediapipe==0.10.21" in entry.description
    found = status(name)
    assert found.present and found.verified, found.detail


def test_converts_once_into_the_cache(data_dir, tmp_path):
    path = onnx_file("mediapipe_face_landmark", cache_dir=tmp_path)
    assert path.parent == tmp_path / "mediapipe"
    model = onnx.load(str(path))
    assert [o.name for o in model.graph.output] == ["conv2d_21", "conv2d_31"]
    assert onnx_file("mediapipe_face_landmark", cache_dir=tmp_path) == path


def test_missing_file_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORIUM_DATA", str(tmp_path / "no-data"))
    with pytest.raises(WeightsNotFoundError) as err:
        onnx_file("mediapipe_face_detection_short_range", cache_dir=tmp_path)
    msg = str(err.value)
    assert "face_detection_short_range.tflite" in msg and str(tmp_path / "no-data" / "weights/mediapipe") in msg
    assert "pip install mediapipe" in msg and "https://storage.googleapis.com/mediapipe-assets/" in msg


def test_only_tflite_entries_convert():
    with pytest.raises(ValueError, match=r"weights 'yunet_s': expected a tflite entry, got format 'onnx'"):
        onnx_file("yunet_s")
