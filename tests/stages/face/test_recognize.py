"""Recognisers: dlib on real chips, and the ONNX backend for a user's ArcFace-style model
(an exported random-weight 112x112 → 512 network: the mechanics, not the accuracy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sensorium.stages.face.align import ARCFACE_112, DLIB_150
from sensorium.stages.face.recognize import DlibRecognizer, OnnxArcFace, RecognizerSpec, build_recognizer


def _export(path, batch_dynamic=True):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, 512)).eval()
    x = torch.randn(1, 3, 112, 112)
    torch.onnx.export(net, (x,), str(path), input_names=["data"], output_names=["fc1"], dynamo=False,
                      dynamic_axes={"data": {0: "n"}, "fc1": {0: "n"}} if batch_dynamic else None, opset_version=17)
    return net


@pytest.mark.parametrize("dynamic", [True, False], ids=["dynamic batch", "batch fixed at 1"])
def test_onnx_arcface_backend(tmp_path, dynamic):
    net = _export(tmp_path / "arc.onnx", dynamic)
    rec = OnnxArcFace(tmp_path / "arc.onnx")
    chips = np.random.default_rng(0).integers(0, 255, (3, 112, 112, 3), dtype=np.uint8)
    emb = rec.embed(chips)
    assert emb.shape == (3, 512) and rec.dim == 512 and rec.template is ARCFACE_112
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    with torch.no_grad():
        ref = net(torch.from_numpy((chips.astype(np.float32) - 127.5) / 127.5).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(emb, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-4)


def test_onnx_backend_refuses_a_model_of_another_shape(tmp_path):
    net = nn.Conv2d(3, 4, 3).eval()
    torch.onnx.export(net, (torch.randn(1, 3, 64, 64),), str(tmp_path / "x.onnx"), input_names=["x"], dynamo=False)
    with pytest.raises(ValueError, match=r"expected input \(N, 3, 112, 112\)"):
        OnnxArcFace(tmp_path / "x.onnx")


def test_chips_of_the_wrong_template_are_refused():
    rec = DlibRecognizer()
    with pytest.raises(ValueError, match="aligned to dlib_150"):
        rec.embed(np.zeros((1, 112, 112, 3), np.uint8))
    assert rec.embed(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)


def test_build_recognizer_errors():
    with pytest.raises(ValueError, match="needs a model path"):
        build_recognizer(RecognizerSpec("onnx"))
    with pytest.raises(ValueError, match="unknown recognizer backend"):
        build_recognizer(RecognizerSpec("facenet"))
    with pytest.raises(FileNotFoundError):
        build_recognizer(RecognizerSpec("dlib", path="/nope.dat"))
    assert build_recognizer(RecognizerSpec("dlib")).template is DLIB_150
