"""select_model_file on the layout models/hub/export.py writes (NAME.onnx, NAME.fp16.onnx, NAME.manifest.json)."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise

import pytest

from sensorium.models.hub.manifest import MANIFEST_NAME, select_model_file


@pytest.fixture
def export(tmp_path):
    (tmp_path / "m.manifest.json").write_text(json.dumps({"model": "m.onnx", "model_int8": "m.int8.onnx"}))
    return tmp_path


@pytest.mark.parametrize(
    "given, precision, expected",
    [
        ("m.onnx", "fp32", "m.onnx"),  # fp32 and a plain .onnx: no manifest read
        ("m.onnx", "int8", "m.int8.onnx"),  # the sibling manifest lists it
        ("m.onnx", "fp16", "m.onnx"),  # it does not: the fp32 file
        ("m.int8.onnx", "int8", "m.int8.onnx"),
        (".", "int8", "m.int8.onnx"),  # the folder's one manifest
        ("m.manifest.json", "fp32", "m.onnx"),
        ("other.onnx", "int8", "other.onnx"),  # no manifest beside it: as given
    ],
)
def test_precision_picks_the_file_the_manifest_names(export, given, precision, expected):
    assert select_model_file(export / given, precision) == export / expected


@pytest.mark.parametrize(
    "content, expectation",
    [
        ('{"model": "m.onnx"}', does_not_raise()),
        ("not json", pytest.raises(ValueError, match=r"manifest.json: expected JSON, got an unreadable file")),
        ('["m.onnx"]', pytest.raises(ValueError, match=r"expected a 'model' entry naming the \.onnx file, got list")),
        ('{"model": 3}', pytest.raises(ValueError, match=r"got \['model'\]")),
    ],
)
def test_bad_manifests_are_named(tmp_path, content, expectation):
    (tmp_path / MANIFEST_NAME).write_text(content)
    with expectation:
        assert select_model_file(tmp_path) == tmp_path / "m.onnx"


def test_missing_or_ambiguous_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="model manifest not found: .*gone.json"):
        select_model_file(tmp_path / "gone.json")
    with pytest.raises(ValueError, match=r"expected one \*.manifest.json \(or manifest.json\), got none"):
        select_model_file(tmp_path)
