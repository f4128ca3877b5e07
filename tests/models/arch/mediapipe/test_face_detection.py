"""The short-range face detector's anchors, decoding and weighted NMS, on hand-made numbers and real faces."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from sensorium.models.arch.mediapipe import face_detection as fd
from sensorium.models.arch.mediapipe.files import onnx_file


def _box(x0, y0, x1, y1):
    return np.array([x0, y0, x1, y1], np.float32)


def test_anchor_layout_is_mediapipes():
    centres = fd.ssd_anchor_centres(fd.FACE_SHORT_RANGE_ANCHORS)
    assert centres.shape == (896, 2)  # 16x16 cells x 2 + 8x8 cells x 6
    np.testing.assert_allclose(centres[0], centres[1])  # two anchors per stride-8 cell
    np.testing.assert_allclose(centres[:3], [[0.5 / 16, 0.5 / 16]] * 2 + [[1.5 / 16, 0.5 / 16]])  # x runs fastest
    np.testing.assert_allclose(centres[511], [15.5 / 16, 15.5 / 16])
    np.testing.assert_allclose(centres[512:518], [[0.5 / 8, 0.5 / 8]] * 6)  # six per stride-16 cell
    np.testing.assert_allclose(centres[-1], [7.5 / 8, 7.5 / 8])


def test_decode_offsets_are_input_pixels_from_the_anchor():
    centres = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    reg = np.zeros((2, 4 + 2 * fd.NUM_KEYPOINTS), np.float32)
    reg[0, :4] = [2, -4, 20, 10]  # centre offset (2, -4), size 20 x 10
    reg[0, 4:6] = [-3, 1]  # first keypoint
    boxes, kps, scores = fd.decode(reg, np.array([[0.0], [1000.0]], np.float32), centres)
    np.testing.assert_allclose(boxes[0], [32 + 2 - 10, 64 - 4 - 5, 32 + 2 + 10, 64 - 4 + 5])
    np.testing.assert_allclose(kps[0, 0], [29, 65])
    np.testing.assert_allclose(kps[1], [[96, 96]] * fd.NUM_KEYPOINTS)
    np.testing.assert_allclose(scores, [0.5, 1.0])  # logits clipped at 100 before the sigmoid


@pytest.mark.parametrize("shape, expectation", [
    ((896, 16), does_not_raise()),
    ((895, 16), pytest.raises(ValueError, match=r"expected regressors \(896, 4 \+ 2K\), got \(895, 16\)")),
    ((896, 15), pytest.raises(ValueError, match=r"got \(896, 15\)")),
])
def test_decode_checks_the_regressor_shape(shape, expectation):
    centres = fd.ssd_anchor_centres(fd.FACE_SHORT_RANGE_ANCHORS)
    with expectation:
        fd.decode(np.zeros(shape, np.float32), np.zeros((896, 1), np.float32), centres)


def test_weighted_nms_blends_overlaps_by_score_and_keeps_the_rest():
    boxes = np.stack([_box(0, 0, 10, 10), _box(1, 1, 11, 11), _box(50, 50, 60, 60), _box(0, 0, 10, 10)])
    kps = boxes[:, None, :2].copy()
    scores = np.array([0.9, 0.6, 0.7, 0.4], np.float32)  # the last is under the threshold
    b, k, s = fd.weighted_nms(boxes, kps, scores, score_threshold=0.5, iou_threshold=0.3)
    np.testing.assert_allclose(s, [0.9, 0.7])  # the best one's score, best first
    np.testing.assert_allclose(b[0], (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(k[0, 0], (0.9 * kps[0, 0] + 0.6 * kps[1, 0]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(b[1], boxes[2])
    b, k, s = fd.weighted_nms(boxes, kps, scores, score_threshold=0.95)
    assert b.shape == (0, 4) and k.shape == (0, 1, 2) and s.shape == (0,)


@pytest.mark.parametrize("image, expectation", [
    (np.full((40, 100, 3), 255, np.uint8), does_not_raise()),
    (np.zeros((40, 100, 4), np.uint8), pytest.raises(ValueError, match=r"expected \(H, W, 3\) uint8 RGB image, got \(40, 100, 4\) uint8")),
    (np.zeros((40, 100, 3), np.float32), pytest.raises(ValueError, match=r"float32")),
])
def test_letterbox_centres_the_image_and_maps_back(image, expectation):
    with expectation:
        x, box = fd.letterbox(image)
        assert x.shape == (128, 128, 3) and x.dtype == np.float32 and x.min() == -1.0
        assert (box.scale_x, box.scale_y, box.pad_x, box.pad_y) == (1.28, 51 / 40, 0.0, 38.0)  # 100x40 -> 128x51, centred
        assert x[37].max() == -1.0 and x[38].min() == 1.0 and x[88].min() == 1.0 and x[89].max() == -1.0  # black borders
        np.testing.assert_allclose(box.to_image(np.array([[0.0, 38.0], [128.0, 89.0]])), [[0, 0], [100, 40]], atol=1e-4)


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    path = onnx_file("mediapipe_face_detection_short_range", cache_dir=tmp_path_factory.mktemp("cache"))
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _detect(session, rgb):
    x, box = fd.letterbox(rgb)
    reg, cls = session.run(["regressors", "classificators"], {"input": x[None]})
    b, k, s = fd.decode(reg[0], cls[0], fd.ssd_anchor_centres(fd.FACE_SHORT_RANGE_ANCHORS))
    b, k, s = fd.weighted_nms(b, k, s)
    return (*fd.to_image(b, k, box), s)


def _iou(a, b):
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(rb - lt, 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def test_two_people_two_faces_agreeing_with_yunet(data_dir, detector):
    from sensorium.stages.face.stage import FaceStage

    rgb = cv2.cvtColor(cv2.imread(str(data_dir / "faces/two_people.jpg")), cv2.COLOR_BGR2RGB)
    boxes, kps, scores = _detect(detector, rgb)
    assert len(boxes) == 2 and scores.min() > 0.8
    yunet = FaceStage().detect([rgb])[0][0]
    assert len(yunet) == 2
    for ref in yunet:
        assert max(_iou(ref, b) for b in boxes) > 0.5
    for face in kps:  # eyes above the mouth, nose between; subject's right eye on the image's left
        right_eye, left_eye, nose, mouth = face[:4]
        assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
        assert right_eye[0] < nose[0] < left_eye[0]


def test_mirror_swaps_the_eyes(data_dir, detector):
    rgb = cv2.cvtColor(cv2.imread(str(data_dir / "faces/lin-manuel-miranda.png")), cv2.COLOR_BGR2RGB)
    boxes, kps, _ = _detect(detector, rgb)
    mboxes, mkps, _ = _detect(detector, np.ascontiguousarray(rgb[:, ::-1]))
    assert len(boxes) == len(mboxes) == 1
    w = rgb.shape[1]
    mirrored_back = np.stack([w - mkps[0][:, 0], mkps[0][:, 1]], axis=1)
    # the mirror's "right eye" is the original's left eye, back in the original's pixels (within 3 % of the face)
    tol = 0.03 * (boxes[0][2] - boxes[0][0])
    np.testing.assert_allclose(mirrored_back[[1, 0, 2, 3]], kps[0][:4], atol=tol)


def test_no_face_gives_no_detection(detector):
    gray = np.full((480, 640, 3), 128, np.uint8)
    boxes, kps, scores = _detect(detector, gray)
    assert boxes.shape == (0, 4) and kps.shape == (0, fd.NUM_KEYPOINTS, 2) and scores.shape == (0,)
