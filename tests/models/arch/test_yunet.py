"""YuNet graph preparation and decoding: parity with OpenCV's FaceDetectorYN on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from sensorium.models.arch.yunet import decode, dynamic_yunet, dynamic_yunet_file, letterbox_batch, nms_faces, padded
from sensorium.models.hub.weights import resolve


@pytest.fixture(scope="module")
def yunet_path():
    return resolve("yunet_s")


@pytest.fixture(scope="module")
def session(yunet_path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(dynamic_yunet_file("yunet_s")), so, providers=["CPUExecutionProvider"])


def _iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _ours(session, images, max_side, score=0.6):
    batch, boxes = letterbox_batch(images, max_side)
    out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": batch})))
    b, k, s = decode(out, batch.shape[2], batch.shape[3])
    res = []
    for i, lb in enumerate(boxes):
        keep = nms_faces(b[i], s[i], score_threshold=score, nms_threshold=0.3, top_k=5000)
        res.append((b[i][keep] / lb.scale, k[i][keep] / lb.scale, s[i][keep]))
    return res


@pytest.mark.parametrize("name", ["faces/two_people.jpg", "faces/lin-manuel-miranda.png", "faces/gallery/obama/obama.jpg", "faces/obama_partial_face.jpg", "photos/zidane.jpg"])
def test_matches_opencv_face_detector_yn(data_dir, yunet_path, session, name):
    """Same image, same input size: our decoding of the dynamic graph equals OpenCV's."""
    img = cv2.imread(str(data_dir / name))
    h, w = img.shape[:2]
    det = cv2.FaceDetectorYN.create(str(yunet_path), "", (w, h), 0.6, 0.3, 5000)
    _, ref = det.detect(img)
    ref = np.zeros((0, 15), np.float32) if ref is None else ref
    (boxes, kps, scores), = _ours(session, [img], max(h, w))
    assert len(ref) >= 1 and len(boxes) == len(ref)
    for r in ref:  # pair each OpenCV face with our best-overlapping one
        rb = [r[0], r[1], r[0] + r[2], r[1] + r[3]]
        j = int(np.argmax([_iou(rb, b) for b in boxes]))
        assert _iou(rb, boxes[j]) >= 0.95
        assert np.abs(kps[j] - r[4:14].reshape(5, 2)).max() <= 1.0
        assert abs(scores[j] - r[14]) < 1e-3


def test_one_call_detects_a_batch_of_mixed_sizes(data_dir, session):
    """A batch of two different images in one session call gives each image's own faces."""
    a = cv2.imread(str(data_dir / "faces/two_people.jpg"))
    b = cv2.imread(str(data_dir / "faces/lin-manuel-miranda.png"))
    together = _ours(session, [a, b], 640)
    alone = [_ours(session, [x], 640)[0] for x in (a, b)]
    assert [len(t[0]) for t in together] == [2, 1]
    for (bt, kt, _), (ba, ka, _) in zip(together, alone):
        np.testing.assert_allclose(bt, ba, atol=1e-3)  # zero padding does not change the faces
        np.testing.assert_allclose(kt, ka, atol=1e-3)


def test_letterbox_scales_down_only_and_pads_to_32():
    big, small = np.zeros((1000, 500, 3), np.uint8), np.zeros((30, 40, 3), np.uint8)
    batch, boxes = letterbox_batch([big, small], 640)
    assert batch.shape == (2, 3, 640, 320) and boxes[0].scale == pytest.approx(0.64) and boxes[1].scale == 1.0
    assert padded(1) == 32 and padded(32) == 32 and padded(33) == 64


def test_rejects_a_graph_that_is_not_yunet():
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    model = onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
    with pytest.raises(ValueError, match="not a YuNet graph"):
        dynamic_yunet(model)


def test_a_truncated_model_file_is_a_clear_error(tmp_path, yunet_path):
    bad = tmp_path / "yunet_cut.onnx"
    bad.write_bytes(yunet_path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a loadable ONNX"):
        dynamic_yunet_file(str(bad))
