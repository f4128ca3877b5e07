"""The face mesh on real faces: from a detection, tracked from its own landmarks, turned, mirrored."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from sensorium.models.arch.mediapipe import face_detection as fd
from sensorium.models.arch.mediapipe import face_mesh as fm
from sensorium.models.arch.mediapipe.files import onnx_file
from sensorium.models.arch.mediapipe.roi import Roi

NOSE_TIP, UPPER_LIP, CHIN = 1, 13, 152
MIRROR_PAIRS = ((33, 263), (61, 291), (1, 1), (152, 152))  # eye corners, mouth corners swap; nose, chin stay


def _session(name, cache):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(onnx_file(name, cache_dir=cache)), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return _session("mediapipe_face_detection_short_range", cache), _session("mediapipe_face_landmark", cache)


def _rgb(data_dir, name):
    return cv2.cvtColor(cv2.imread(str(data_dir / name)), cv2.COLOR_BGR2RGB)


def _detect(det, rgb):
    x, box = fd.letterbox(rgb)
    reg, cls = det.run(None, {"input": x[None]})
    b, k, s = fd.weighted_nms(*fd.decode(reg[0], cls[0], fd.ssd_anchor_centres(fd.FACE_SHORT_RANGE_ANCHORS)))
    return fd.to_image(b, k, box)


def _mesh(mesh, rgb, rois):
    batch, affines = fm.preprocess(rgb, rois)
    raw, presence = mesh.run(None, {"input_1": batch})
    return fm.decode(raw, presence, affines)


def _from_detections(models, rgb):
    det, mesh = models
    boxes, kps = _detect(det, rgb)
    rois = [fm.roi_from_detection(b, k) for b, k in zip(boxes, kps)]
    return (*_mesh(mesh, rgb, rois), rois)


def test_two_faces_meshed_inside_their_regions_eyes_above_mouth(data_dir, models):
    landmarks, presence, rois = _from_detections(models, _rgb(data_dir, "faces/two_people.jpg"))
    assert landmarks.shape == (2, 468, 3) and (presence > 0.9).all()
    for lm, roi in zip(landmarks, rois):
        assert (np.abs(lm[:, :2] - [roi.cx, roi.cy]) < roi.side / 2).all()
        eyes_y = lm[[fm.RIGHT_EYE_OUTER, fm.LEFT_EYE_OUTER], 1]
        assert eyes_y.max() < lm[NOSE_TIP, 1] < lm[UPPER_LIP, 1] < lm[CHIN, 1]
        assert lm[fm.RIGHT_EYE_OUTER, 0] < lm[NOSE_TIP, 0] < lm[fm.LEFT_EYE_OUTER, 0]


def test_tracking_from_landmarks_stays_on_the_face(data_dir, models):
    """Frame t+1's region from frame t's landmarks (same image): the mesh moves under 2 % of the face."""
    rgb = _rgb(data_dir, "faces/two_people.jpg")
    first, _, rois = _from_detections(models, rgb)
    tracked, presence = _mesh(models[1], rgb, [fm.next_roi(lm) for lm in first])
    assert (presence > 0.9).all()
    for a, b, roi in zip(first, tracked, rois):
        assert np.abs(a[:, :2] - b[:, :2]).max() < 0.02 * roi.side


@pytest.mark.parametrize("turn", [0.4, -0.6])
def test_a_turned_region_over_a_turned_image_gives_the_turned_landmarks(data_dir, models, turn):
    """Rotate the photo about the face and the region with it: the model sees the same crop, so
    the landmarks are the originals rotated (projection and crop agree, angle sign included)."""
    rgb = _rgb(data_dir, "faces/lin-manuel-miranda.png")
    landmarks, _, (roi,) = _from_detections(models, rgb)
    rot = cv2.getRotationMatrix2D((roi.cx, roi.cy), -np.degrees(turn), 1.0)  # cv2: positive = counter-clockwise
    turned_img = cv2.warpAffine(rgb, rot, rgb.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    turned, presence = _mesh(models[1], turned_img, [Roi(roi.cx, roi.cy, roi.side, roi.angle + turn)])
    expected = landmarks[0][:, :2] @ rot[:, :2].T + rot[:, 2]
    assert presence[0] > 0.9
    assert np.abs(turned[0][:, :2] - expected).max() < 0.01 * roi.side


def test_mirror_swaps_eyes_and_mouth_corners(data_dir, models):
    rgb = _rgb(data_dir, "faces/lin-manuel-miranda.png")
    (lm,), _, (roi,) = _from_detections(models, rgb)
    (mlm,), _, _ = _from_detections(models, np.ascontiguousarray(rgb[:, ::-1]))
    back = np.stack([rgb.shape[1] - mlm[:, 0], mlm[:, 1]], axis=1)
    for a, b in MIRROR_PAIRS:
        assert np.abs(back[b] - lm[a, :2]).max() < 0.03 * roi.side, (a, b)


def test_no_region_gives_empty_arrays_and_bad_outputs_are_named():
    landmarks, presence = fm.decode(np.zeros((0, 1, 1, 1404), np.float32), np.zeros((0, 1, 1, 1), np.float32), [])
    assert landmarks.shape == (0, 468, 3) and presence.shape == (0,)
    batch, affines = fm.preprocess(np.zeros((10, 10, 3), np.uint8), [])
    assert batch.shape == (0, 192, 192, 3) and affines == []
    with pytest.raises(ValueError, match=r"expected landmarks \(1, 1, 1, 1404\), got \(1, 1, 1, 1434\)"):
        fm.decode(np.zeros((1, 1, 1, 1434), np.float32), np.zeros((1, 1, 1, 1), np.float32), [np.eye(2, 3)])


REFERENCE = Path(__file__).parent / "reference" / "mediapipe_0_10_21.json"  # made by reference/make_reference.py


@pytest.mark.parametrize("name", ["faces/two_people.jpg", "faces/lin-manuel-miranda.png"])
def test_matches_mediapipes_own_pipeline(data_dir, models, name):
    """MediaPipe 0.10.21's FaceDetection and FaceMesh (static images) on the same photo: our
    detections within 8 % of the face's size (resampling differs), our meshes within 3 px."""
    ref = json.loads(REFERENCE.read_text())
    rgb = _rgb(data_dir, name)
    boxes, kps = _detect(models[0], rgb)
    landmarks, _, _ = _from_detections(models, rgb)
    assert len(boxes) == len(ref["face_detection"][name]) and len(landmarks) == len(ref["face_mesh"][name])
    for det in ref["face_detection"][name]:
        box, side = np.array(det["box"]), det["box"][2] - det["box"][0]
        j = int(np.argmin([np.abs(box - b).max() for b in boxes]))
        assert np.abs(box - boxes[j]).max() < 0.08 * side
        assert np.abs(np.array(det["keypoints"]) - kps[j]).max() < 0.1 * side
    for mesh in ref["face_mesh"][name]:
        mesh = np.array(mesh)
        err = min((np.abs(mesh[:, :2] - lm[:, :2]) for lm in landmarks), key=lambda e: e.mean())
        print(f"{name}: mesh vs MediaPipe max {err.max():.2f} px, mean {err.mean():.2f} px")
        assert err.max() < 3.0 and err.mean() < 1.5
