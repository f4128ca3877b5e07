"""Iris landmarks on eye crops from the face mesh, on real faces: inside the eye, the mirrored eye mirrored back."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from sensorium.models.arch.mediapipe import face_detection as fd
from sensorium.models.arch.mediapipe import face_mesh as fm
from sensorium.models.arch.mediapipe import iris
from sensorium.models.arch.mediapipe.files import onnx_file

MIRROR = {33: 263, 133: 362}  # the right eye's corners -> the left eye's


def _session(name, cache):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(onnx_file(name, cache_dir=cache)), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return tuple(_session(n, cache) for n in ("mediapipe_face_detection_short_range", "mediapipe_face_landmark", "mediapipe_iris_landmark"))


def _faces(models, rgb):
    det, mesh, eye_model = models
    x, box = fd.letterbox(rgb)
    reg, cls = det.run(None, {"input": x[None]})
    b, k, _ = fd.weighted_nms(*fd.decode(reg[0], cls[0], fd.ssd_anchor_centres(fd.FACE_SHORT_RANGE_ANCHORS)))
    b, k = fd.to_image(b, k, box)
    batch, affines = fm.preprocess(rgb, [fm.roi_from_detection(bb, kk) for bb, kk in zip(b, k)])
    landmarks, _ = fm.decode(*mesh.run(None, {"input_1": batch}), affines)
    out = []
    for lm in landmarks:
        rois = iris.eye_rois(lm)
        eyes_in, eye_affines = iris.preprocess(rgb, rois)
        contour, irises = iris.decode(*eye_model.run(None, {"input_1": eyes_in}), list(rois), eye_affines)
        out.append((lm, dict(zip(rois, contour)), dict(zip(rois, irises))))
    return out


def test_iris_centres_lie_inside_their_eyes(data_dir, models):
    rgb = cv2.cvtColor(cv2.imread(str(data_dir / "faces/two_people.jpg")), cv2.COLOR_BGR2RGB)
    faces = _faces(models, rgb)
    assert len(faces) == 2
    for lm, _, irises in faces:
        for eye, (a, b, _) in iris.EYES.items():
            corner_a, corner_b, centre = lm[a, :2], lm[b, :2], irises[eye][0, :2]
            width = np.linalg.norm(corner_b - corner_a)
            t = np.dot(centre - corner_a, corner_b - corner_a) / width**2  # position along the corner line
            off = abs(np.cross(corner_b - corner_a, centre - corner_a)) / width  # distance from it
            assert 0.2 < t < 0.8 and off < 0.3 * width, (eye, t, off / width)
            radius = np.linalg.norm(irises[eye][1:, :2] - centre, axis=1)
            assert (0.1 * width < radius).all() and (radius < 0.4 * width).all()


def test_the_mirrored_eye_comes_back_mirrored(data_dir, models):
    """The contour's points keep their meaning on both eyes: a point nearest the right eye's
    outer corner is, on the left eye, nearest the left eye's outer corner (so the flip is undone)."""
    rgb = cv2.cvtColor(cv2.imread(str(data_dir / "faces/lin-manuel-miranda.png")), cv2.COLOR_BGR2RGB)
    (lm, contours, _), = _faces(models, rgb)
    for corner, mirrored in MIRROR.items():
        k = int(np.argmin(np.linalg.norm(contours["right"][:, :2] - lm[corner, :2], axis=1)))
        nearest = min(MIRROR.values(), key=lambda m: np.linalg.norm(contours["left"][k, :2] - lm[m, :2]))
        assert nearest == mirrored


def test_decode_names_wrong_shapes():
    with pytest.raises(ValueError, match=r"expected contours \(1, 213\) and iris \(1, 15\) for eyes \['right'\]"):
        iris.decode(np.zeros((1, 212), np.float32), np.zeros((1, 15), np.float32), ["right"], [np.eye(2, 3)])
