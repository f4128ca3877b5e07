"""TFLite -> ONNX: the converted MediaPipe graphs against the LiteRT interpreter on real images."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from sensorium.models.hub.files import sha256_file
from sensorium.models.hub.tflite import CONVERTER_VERSION, TFLiteConversionError, convert_tflite, converted_path
from sensorium.models.hub.weights import resolve

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter

# weights name -> (input normalisation (lo, hi), outputs that are coordinates in input pixels, what it sees)
MODELS = {
    "mediapipe_face_detection_short_range": ((-1.0, 1.0), ("regressors",), "image"),
    "mediapipe_face_landmark": ((0.0, 1.0), ("conv2d_21",), "face"),
    "mediapipe_iris_landmark": ((0.0, 1.0), ("output_eyes_contours_and_brows", "output_iris"), "face"),
    "mediapipe_pose_detection": ((-1.0, 1.0), ("Identity",), "image"),
    "mediapipe_pose_landmark_full": ((0.0, 1.0), ("Identity", "Identity_4"), "person"),
}
# Crops (x0, y0, x1, y1) of each photo: a face (YuNet's box scaled 1.5x, as MediaPipe crops) and a person.
IMAGES = {
    "faces/two_people.jpg": {"face": (170, 0, 455, 285), "person": (0, 0, 563, 661)},
    "faces/lin-manuel-miranda.png": {"face": (110, 30, 680, 600), "person": (0, 0, 704, 612)},
    "photos/zidane.jpg": {"face": (854, 57, 1114, 317), "person": (560, 0, 1280, 720)},
}
PIXEL_TOL = 0.5  # landmarks within half a pixel at the model's input size (the bound)


def _input(data_dir, image: str, size: int, lo: float, hi: float, *, crop: str) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(data_dir / image)), cv2.COLOR_BGR2RGB)
    if crop != "image":
        x0, y0, x1, y1 = IMAGES[image][crop]
        rgb = rgb[y0:y1, x0:x1]
    x = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return (x * (hi - lo) + lo)[None]  # (1, size, size, 3)


def _litert(path, x: np.ndarray) -> dict[str, np.ndarray]:
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def converted():
    return {name: convert_tflite(resolve(name).read_bytes(), name=name) for name in MODELS}


@pytest.mark.parametrize("image", sorted(IMAGES))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_matches_litert_on_real_images(data_dir, converted, name, image):
    (lo, hi), pixel_outputs, crop = MODELS[name]
    sess = _session(converted[name])
    size = sess.get_inputs()[0].shape[1]
    x = _input(data_dir, image, size, lo, hi, crop=crop)
    ref = _litert(resolve(name), x)
    ours = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x})))
    assert sorted(ours) == sorted(ref)
    errors = {k: float(np.abs(ours[k] - ref[k]).max()) for k in ref}
    print(f"{name} on {image}: max abs error per output {errors}")  # the report's numbers (pytest -s)
    for k in ref:
        assert ours[k].shape == ref[k].shape, k
        tol = PIXEL_TOL if k in pixel_outputs else 1e-2 * max(1.0, float(np.abs(ref[k]).max()))
        assert errors[k] < tol, f"{name} output {k}: max abs error {errors[k]} over {tol} on {image}"
    if name == "mediapipe_face_landmark":  # a real face: the presence logit says so
        assert ref["conv2d_31"].item() > 0


def test_batch_axis_is_dynamic_and_each_item_matches_batch_one(data_dir, converted):
    sess = _session(converted["mediapipe_face_landmark"])
    xs = np.concatenate([_input(data_dir, im, 192, 0.0, 1.0, crop="face") for im in sorted(IMAGES)])
    batched = sess.run(None, {"input_1": xs})
    for i in range(len(xs)):
        single = sess.run(None, {"input_1": xs[i:i + 1]})
        for b, s in zip(batched, single):
            np.testing.assert_allclose(b[i:i + 1], s, atol=1e-4)


def test_conversion_is_deterministic_and_keeps_tflite_names():
    data = resolve("mediapipe_face_detection_short_range").read_bytes()
    a, b = convert_tflite(data), convert_tflite(data)
    assert a.SerializeToString() == b.SerializeToString()
    assert [i.name for i in a.graph.input] == ["input"]
    assert [o.name for o in a.graph.output] == ["regressors", "classificators"]
    assert not any(t.data_type == onnx.TensorProto.FLOAT16 for t in a.graph.initializer)  # fp16 weights dequantised


def test_unsupported_ops_are_named(data_dir):
    with pytest.raises(TFLiteConversionError, match=r"CUSTOM:Landmarks2TransformMatrix"):
        convert_tflite(resolve("mediapipe_face_landmark_with_attention").read_bytes())


def test_converted_path_is_cached_by_source_sha256(tmp_path):
    src = resolve("mediapipe_iris_landmark")
    first = converted_path(src, tmp_path)
    mtime = first.stat().st_mtime_ns
    again = converted_path(src, tmp_path)
    assert again == first and again.stat().st_mtime_ns == mtime  # not rewritten
    assert first.name == f"iris_landmark.{sha256_file(src)[:16]}.c{CONVERTER_VERSION}.onnx"  # another source or converter, another name
    onnx.checker.check_model(onnx.load(str(first)))
