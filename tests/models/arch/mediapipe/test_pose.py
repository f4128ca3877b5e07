"""The pose detector and landmark model on real people: sane skeletons, tracking, mirror symmetry."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from sensorium.models.arch.mediapipe import face_detection as fd
from sensorium.models.arch.mediapipe import pose
from sensorium.models.arch.mediapipe.files import onnx_file
from sensorium.models.arch.mediapipe.roi import crop

K = {name: i for i, name in enumerate(pose.KEYPOINT_NAMES)}


def _session(name, cache):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(onnx_file(name, cache_dir=cache)), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return _session("mediapipe_pose_detection", cache), _session("mediapipe_pose_landmark_full", cache)


def _rgb(data_dir, name):
    return cv2.cvtColor(cv2.imread(str(data_dir / name)), cv2.COLOR_BGR2RGB)


def _landmarks(lmk, rgb, rois):
    patches, affines = zip(*[crop(rgb, r, pose.LANDMARK_SIZE) for r in rois])
    out = dict(zip([o.name for o in lmk.get_outputs()], lmk.run(None, {"input_1": np.stack(patches).astype(np.float32) / 255})))
    return pose.decode(out["Identity"], out["Identity_4"], list(rois), list(affines)), out["Identity_1"].ravel()


def _people(models, rgb):
    det, lmk = models
    x, box = fd.letterbox(rgb, pose.DETECTOR_SIZE)
    reg, cls = det.run(None, {"input_1": x[None]})
    b, k, s = fd.weighted_nms(*fd.decode(reg[0], cls[0], fd.ssd_anchor_centres(pose.POSE_ANCHORS), input_size=pose.DETECTOR_SIZE))
    _, k = fd.to_image(b, k, box)
    rois = [pose.roi_from_detection(kk) for kk in k]
    return (*_landmarks(lmk, rgb, rois), rois)


def test_anchor_count_matches_the_detector_output():
    assert fd.ssd_anchor_centres(pose.POSE_ANCHORS).shape == (2254, 2)  # 28x28x2 + 14x14x2 + 7x7x6


def test_a_person_with_a_sane_upper_body(data_dir, models):
    rgb = _rgb(data_dir, "faces/lin-manuel-miranda.png")
    res, flag, rois = _people(models, rgb)
    assert len(rois) >= 1 and flag[0] > 0.9
    kp = res["keypoints"][0]
    shoulders_y = kp[[K["left_shoulder"], K["right_shoulder"]], 1]
    assert kp[K["left_eye"], 1] < kp[K["mouth_left"], 1] < shoulders_y.min()  # eyes above mouth above shoulders
    assert kp[K["right_shoulder"], 0] < kp[K["nose"], 0] < kp[K["left_shoulder"], 0]  # facing the camera
    assert (res["visibility"][0, [K["nose"], K["left_shoulder"], K["right_shoulder"]]] > 0.5).all()
    world = res["world"][0]  # metres, hip-centred, y down: the nose is above the hips by a torso's length
    assert 0.3 < -world[K["nose"], 1] < 1.2


def test_tracking_from_landmarks_stays_on_the_person(data_dir, models):
    rgb = _rgb(data_dir, "faces/lin-manuel-miranda.png")
    res, _, _ = _people(models, rgb)
    tracked, flag = _landmarks(models[1], rgb, [pose.next_roi(np.concatenate([res["keypoints"][0], res["aux"][0]]))])
    upper = [K[n] for n in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder")]
    assert flag[0] > 0.9
    shoulders = np.linalg.norm(res["keypoints"][0, K["left_shoulder"], :2] - res["keypoints"][0, K["right_shoulder"], :2])
    assert np.abs(tracked["keypoints"][0, upper, :2] - res["keypoints"][0, upper, :2]).max() < 0.1 * shoulders


def test_mirror_swaps_left_and_right(data_dir, models):
    rgb = _rgb(data_dir, "faces/lin-manuel-miranda.png")
    res, _, rois = _people(models, rgb)
    mres, _, _ = _people(models, np.ascontiguousarray(rgb[:, ::-1]))
    assert len(rois) >= 1
    kp, mkp = res["keypoints"][0], mres["keypoints"][0]
    back = np.stack([rgb.shape[1] - mkp[:, 0], mkp[:, 1]], axis=1)
    for left, right in (("left_eye", "right_eye"), ("left_shoulder", "right_shoulder"), ("mouth_left", "mouth_right")):
        apart = np.abs(kp[K[left], :2] - kp[K[right], :2]).max()  # unswapped, the error would be about this
        assert np.abs(back[K[right]] - kp[K[left], :2]).max() < 0.3 * apart, left
        assert np.abs(back[K[left]] - kp[K[right], :2]).max() < 0.3 * apart, right


def test_no_person_in_a_blank_frame(models):
    det, _ = models
    x, _ = fd.letterbox(np.full((480, 640, 3), 128, np.uint8), pose.DETECTOR_SIZE)
    reg, cls = det.run(None, {"input_1": x[None]})
    b, _, _ = fd.weighted_nms(*fd.decode(reg[0], cls[0], fd.ssd_anchor_centres(pose.POSE_ANCHORS), input_size=pose.DETECTOR_SIZE))
    assert len(b) == 0


def test_decode_names_wrong_shapes():
    with pytest.raises(ValueError, match=r"expected landmarks \(0, 195\) and world \(0, 117\) for 0 regions"):
        pose.decode(np.zeros((1, 195), np.float32), np.zeros((1, 117), np.float32), [], [])


REFERENCE = Path(__file__).parent / "reference" / "mediapipe_0_10_21.json"  # made by reference/make_reference.py


@pytest.mark.parametrize("name", ["faces/two_people.jpg", "faces/lin-manuel-miranda.png"])
def test_matches_mediapipes_own_pipeline(data_dir, models, name):
    """MediaPipe 0.10.21's Pose (static image, full model) on the same photo: the keypoints it
    calls visible agree with ours to a tenth of the shoulder width on average (the detectors' regions differ a little)."""
    ref = np.array(json.loads(REFERENCE.read_text())["pose"][name])
    res, _, _ = _people(models, _rgb(data_dir, name))
    visible = ref[:, 3] > 0.5
    err = np.linalg.norm(ref[visible, :2] - res["keypoints"][0][visible, :2], axis=1)
    shoulders = np.linalg.norm(ref[K["left_shoulder"], :2] - ref[K["right_shoulder"], :2])
    print(f"{name}: {visible.sum()} visible keypoints vs MediaPipe: mean {err.mean():.1f} px, max {err.max():.1f} px, "
          f"shoulder width {shoulders:.0f} px")
    assert visible.sum() >= 10 and err.mean() < 0.1 * shoulders
