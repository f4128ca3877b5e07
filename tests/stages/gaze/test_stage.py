"""The gaze stage on real faces: every face gets a gaze, mirror symmetry, batch independence, empty and missing inputs, depth."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sensorium.stages.base import build_stage
from sensorium.stages.camera import Intrinsics
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Gaze

#: mirror tolerances, degrees, on faces turned less than MAX_HEAD_YAW (beyond it the far eye is hidden)
HEAD_YAW_TOL, GAZE_YAW_TOL, PITCH_TOL, MAX_HEAD_YAW = 10.0, 15.0, 8.0, 35.0
FILES = ("faces/two_people.jpg", "faces/lin-manuel-miranda.png", "faces/gallery/obama/obama.jpg", "faces/gallery/biden/biden.jpg",
         "faces/obama_partial_face.jpg", "photos/zidane.jpg")


def _rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _clip_frames(data_dir, indices) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(data_dir / "video/short_hamilton_clip.mp4"))
    out = []
    for i in range(max(indices) + 1):
        ok, bgr = cap.read()
        assert ok
        if i in indices:
            out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


@pytest.fixture(scope="module")
def stages():
    return build_stage("face", {"recognizer": "none", "keep_chips": False}), build_stage("gaze")


def _run(stages, images, **frame_kw) -> list[Frame]:
    frames = [Frame("t", i, image=img, **frame_kw) for i, img in enumerate(images)]
    for stage in stages:
        stage(frames)
    return frames


def test_every_face_in_photos_and_the_clip_gets_a_gaze(stages, data_dir):
    images = [_rgb(data_dir / f) for f in FILES] + _clip_frames(data_dir, {0, 100, 200})
    for frame in _run(stages, images):
        assert not frame.errors, frame.errors
        faces, gaze = frame.results["face"], frame.results["gaze"]
        assert isinstance(gaze, Gaze) and len(gaze) == len(faces) > 0
        assert np.isfinite(gaze.yaw_pitch).all() and (np.abs(gaze.yaw_pitch) < np.pi / 2).all()
        assert gaze.sigma is not None and (gaze.sigma > 0).all()  # the shipped head is loaded
        np.testing.assert_allclose(gaze.yaw_pitch, gaze.data["raw_yaw_pitch"] + (gaze.yaw_pitch - gaze.data["raw_yaw_pitch"]))
        json.dumps(frame.to_dict())  # JSON-safe, sigma included


def test_the_origin_lies_between_the_eyes(stages, data_dir):
    (frame,) = _run(stages, [_rgb(data_dir / "faces/two_people.jpg")])
    eyes = frame.results["face"].landmarks[:, :2]
    for origin, (right, left) in zip(frame.results["gaze"].origin, eyes):
        span = left - right
        t = np.dot(origin - right, span) / np.dot(span, span)
        off = abs(np.cross(span, origin - right)) / np.linalg.norm(span)
        assert 0.25 < t < 0.75 and off < 0.25 * np.linalg.norm(span), (t, off)


def test_a_horizontal_mirror_flips_head_and_gaze_yaw(stages, data_dir):
    images = [_rgb(data_dir / f) for f in FILES[:4]] + _clip_frames(data_dir, {0, 100, 150})
    checked = 0
    for img in images:
        a, b = (f.results["gaze"] for f in _run(stages, [img, np.ascontiguousarray(img[:, ::-1])]))
        w = img.shape[1]
        for i in range(len(a)):
            j = int(np.argmin(np.hypot(w - b.origin[:, 0] - a.origin[i, 0], b.origin[:, 1] - a.origin[i, 1])))
            ha, hb = np.degrees(a.data["head_pose"][i]), np.degrees(b.data["head_pose"][j])
            if abs(ha[0]) > MAX_HEAD_YAW:
                continue
            ga, gb = np.degrees(a.yaw_pitch[i]), np.degrees(b.yaw_pitch[j])
            assert abs(ha[0] + hb[0]) < HEAD_YAW_TOL and abs(ha[1] - hb[1]) < PITCH_TOL, (ha, hb)
            assert abs(ga[0] + gb[0]) < GAZE_YAW_TOL and abs(ga[1] - gb[1]) < PITCH_TOL, (ga, gb)
            if abs(ha[0]) > HEAD_YAW_TOL:
                assert np.sign(ha[0]) == -np.sign(hb[0])
            checked += 1
    assert checked >= 6


def test_batch_order_does_not_change_a_frames_result(stages, data_dir):
    a, b = _rgb(data_dir / "faces/two_people.jpg"), _rgb(data_dir / "photos/zidane.jpg")
    ab, ba = _run(stages, [a, b]), _run(stages, [b, a])
    for x, y in ((ab[0], ba[1]), (ab[1], ba[0])):
        gx, gy = x.results["gaze"], y.results["gaze"]
        np.testing.assert_allclose(gx.yaw_pitch, gy.yaw_pitch, atol=1e-4)
        np.testing.assert_allclose(gx.sigma, gy.sigma, atol=1e-4)


def test_no_face_gives_an_empty_gaze_and_no_face_stage_a_clear_error(stages):
    (frame,) = _run(stages, [np.full((240, 320, 3), 128, np.uint8)])
    gaze = frame.results["gaze"]
    assert len(gaze) == 0 and gaze.yaw_pitch.shape == (0, 2) and gaze.sigma.shape == (0, 2)
    lonely = Frame("t", 0, image=np.full((240, 320, 3), 128, np.uint8))
    stages[1]([lonely])
    assert "gaze" not in lonely.results and "needs the 'face' result" in lonely.errors["gaze"]


def test_a_face_cut_by_the_border_is_handled(stages, data_dir):
    img = _rgb(data_dir / "faces/lin-manuel-miranda.png")
    (full,) = _run(stages, [img])
    x0, _, x1, _ = full.results["face"].boxes[0]
    cut = np.ascontiguousarray(img[:, int(x0 + 0.3 * (x1 - x0)):])  # the face's left third is gone
    (frame,) = _run(stages, [cut])
    assert not frame.errors and len(frame.results["gaze"]) >= 1
    assert np.isfinite(frame.results["gaze"].yaw_pitch).all()


def test_with_depth_the_ray_starts_in_front_of_the_camera(stages, data_dir):
    """A real Redwood depth map (metres, PrimeSense intrinsics) under a real face frame: the eye origin
    is back-projected (z > 0), the direction is a unit vector, every hit index is a face or -1."""
    img = _clip_frames(data_dir, {0})[0]
    h, w = img.shape[:2]
    raw = cv2.imread(str(data_dir / "rgbd/redwood/depth/00000.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    depth_map = cv2.resize(raw, (w, h), interpolation=cv2.INTER_NEAREST)
    K = np.array([[525.0 * w / raw.shape[1], 0, w / 2], [0, 525.0 * h / raw.shape[0], h / 2], [0, 0, 1]])
    frame = Frame("t", 0, image=img, calib=Intrinsics(K, w, h))
    frame.results["depth"] = Depth(depth=depth_map, confidence=(depth_map > 0).astype(np.float32), K=K)
    for stage in stages:
        stage([frame])
    gaze = frame.results["gaze"]
    assert len(gaze) >= 1 and not frame.errors
    xyz = gaze.data["origin_xyz"]
    assert (xyz[:, 2] > 0).all()
    np.testing.assert_allclose(np.linalg.norm(gaze.data["direction"], axis=1), 1.0, atol=1e-5)
    assert ((gaze.data["hit_face"] >= -1) & (gaze.data["hit_face"] < len(gaze))).all()


def test_without_the_head_sigma_is_none(stages, data_dir):
    face, _ = stages
    frames = [Frame("t", 0, image=_rgb(data_dir / "faces/two_people.jpg"))]
    face(frames)
    build_stage("gaze", {"sigma_head": "none"})(frames)
    gaze = frames[0].results["gaze"]
    assert gaze.sigma is None and len(gaze) == 2
    np.testing.assert_array_equal(gaze.yaw_pitch, gaze.data["raw_yaw_pitch"])


@pytest.mark.parametrize("options, message", [
    ({"ray": {"step": 0}}, r"gaze\.ray: .*expected 0 < step"),
    ({"threads": -1}, "threads: expected >= 0"),
    ({"bogus": 1}, "unknown option"),
])
def test_bad_options_are_named(options, message):
    from sensorium.stages.base import build_config
    from sensorium.stages.config import ConfigError

    with pytest.raises((ConfigError, ValueError), match=message):
        build_config("gaze", options)


def test_the_result_says_how_to_read_sigma(data_dir):
    """sigma is a scale: the result carries the head's k for 68 % and 95 % of the errors."""
    import cv2

    from sensorium.stages.base import build_stage
    from sensorium.stages.frame import Frame

    rgb = cv2.imread(str(data_dir / "faces/two_people.jpg"))[:, :, ::-1].copy()
    frame = Frame("t", 0, image=rgb)
    for stage in (build_stage("face"), build_stage("gaze")):
        (frame,) = stage([frame])
    gaze = frame.results["gaze"]
    assert len(gaze) >= 1 and gaze.sigma is not None
    radius = {float(p): float(k) for p, k in gaze.metadata["sigma_coverage_radius"].items()}
    assert 0 < radius[0.68] < radius[0.95]
