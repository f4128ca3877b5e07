"""Drawing: shapes, depth colouring, and that every overlay draws where its result is."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sinks import annotate as ann
from sensorium.pipeline.io.sinks.annotate import OVERLAYS, annotate, colorize_depth, register_overlay
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections, Embeddings, Faces, Gaze, Keypoints

K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])


@pytest.fixture(scope="module")
def rgbd(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    root = data_dir / "rgbd" / "redwood"
    image = cv2.cvtColor(cv2.imread(str(root / "color" / "00000.jpg")), cv2.COLOR_BGR2RGB)
    depth = cv2.imread(str(root / "depth" / "00000.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    return image, depth


def make_depth(depth: np.ndarray) -> Depth:
    return Depth(depth=depth, confidence=(depth > 0).astype(np.float32), K=K)


def changed(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> int:
    """Pixels that differ between ``a`` and ``b`` inside ``box`` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    return int(np.any(a[y1:y2, x1:x2] != b[y1:y2, x1:x2], axis=-1).sum())


def test_colorize_depth_black_where_unknown_and_red_near(rgbd):
    _, depth = rgbd
    out = colorize_depth(depth)
    assert out.shape == (*depth.shape, 3) and out.dtype == np.uint8
    unknown = depth == 0
    assert unknown.any() and (~unknown).any()
    assert np.all(out[unknown] == 0)
    assert np.all(out[~unknown].max(axis=-1) > 0)  # turbo never reaches black

    ramp = np.tile(np.linspace(0.5, 3.0, 64, dtype=np.float32), (4, 1))
    ramp[:, 0] = np.nan
    ramp[:, 1] = -1.0
    col = colorize_depth(ramp, max_depth=3.0)
    assert np.all(col[:, :2] == 0)  # NaN and negative are unknown too
    near, far = col[0, 2].astype(int), col[0, -1].astype(int)
    assert near[0] > near[2] and far[2] > far[0]  # near is red, far is blue


def test_colorize_depth_without_any_valid_depth_is_black():
    assert not colorize_depth(np.zeros((5, 7), np.float32)).any()


@pytest.mark.parametrize(
    "depth, max_depth, expectation",
    [
        (np.ones((3, 4), np.float32), None, does_not_raise()),
        (np.ones((3, 4), np.uint16), 2.0, does_not_raise()),
        (np.ones((3, 4, 1), np.float32), None, pytest.raises(ValueError, match=r"\(H, W\)")),
        (np.ones((3, 4), bool), None, pytest.raises(ValueError, match=r"\(H, W\)")),
        (np.ones((3, 4), np.float32), 0.0, pytest.raises(ValueError, match="max_depth")),
    ],
)
def test_colorize_depth_validates(depth, max_depth, expectation):
    with expectation:
        colorize_depth(depth, max_depth)


def test_annotate_shapes(rgbd):
    image, depth = rgbd
    plain = annotate(Frame("cam", 0, image=image))
    assert plain.shape == image.shape and plain.dtype == np.uint8
    np.testing.assert_array_equal(plain, image)  # nothing to draw: the image itself

    with_depth = annotate(Frame("cam", 0, image=image, results={"depth": make_depth(depth)}))
    assert with_depth.shape == (480, 1280, 3)
    np.testing.assert_array_equal(with_depth[:, :640], image)
    np.testing.assert_array_equal(with_depth[:, 640:], colorize_depth(depth))

    # a depth map at another resolution is scaled to the image height, aspect kept
    small = cv2.resize(depth, (320, 240), interpolation=cv2.INTER_NEAREST)
    K_small = K.copy()
    K_small[:2] /= 2
    out = annotate(Frame("cam", 0, image=image, results={"d": Depth(depth=small, confidence=np.ones_like(small), K=K_small)}))
    assert out.shape == (480, 1280, 3)

    no_image = annotate(Frame("cam", 0, errors={"source": "cam#0: cannot decode frame"}))
    assert no_image.shape == (*ann.BLANK_SHAPE, 3)
    assert (no_image[..., 0] > 200).sum() > 50  # the error, in red


def test_errors_are_written_in_red(rgbd):
    image, _ = rgbd
    out = annotate(Frame("cam", 3, image=image, errors={"faces": "cam#3: faces: model not loaded"}))
    diff = np.any(out != image, axis=-1)
    assert diff[:40].sum() > 100 and diff[100:].sum() == 0  # a line at the top, nothing else
    red = (out[..., 0].astype(int) - out[..., 1] > 150) & diff
    assert red.sum() > 50


def test_every_overlay_draws_inside_its_box(rgbd):
    image, _ = rgbd
    boxes = np.array([[60, 80, 220, 300], [380, 100, 560, 260]], np.float32)
    results = {
        "detections": Detections(
            boxes=boxes, scores=np.array([0.9, 0.4], np.float32), class_id=np.array([0, 1]),
            xyz=np.array([[0.1, 0.2, 1.5], [np.nan, np.nan, np.nan]], np.float32), class_names=("person", "chair"),
        ),
        "faces": Faces(
            boxes=boxes[:1] + 5, scores=np.array([0.8], np.float32),
            landmarks=np.array([[[100, 150], [170, 150], [135, 190], [110, 230], [160, 230]]], np.float32),
            similarity=np.array([0.7], np.float32), data={"identity": np.array(["ada"], dtype=object)},
        ),
        "keypoints": Keypoints(
            xy=np.array([[[450, 150], [500, 200], [470, 240]]], np.float32),
            sigma=np.array([[[4, 8], [6, 3], [2, 2]]], np.float32), scores=np.array([[0.9, 0.8, 0.1]], np.float32),
        ),
        "gaze": Gaze(yaw_pitch=np.array([[0.5, -0.3]], np.float32), sigma=np.full((1, 2), 0.1, np.float32),
                     origin=np.array([[470, 180]], np.float32)),
    }
    drawn = {}
    for name, result in results.items():
        out = annotate(Frame("cam", 0, image=image, results={name: result}))
        assert out.shape == image.shape
        drawn[name] = out
    assert changed(drawn["detections"], image, (55, 40, 225, 305)) > 500
    assert changed(drawn["detections"], image, (375, 60, 565, 265)) > 300
    assert changed(drawn["detections"], image, (240, 320, 360, 470)) == 0  # away from both boxes
    assert changed(drawn["faces"], image, (60, 80, 230, 310)) > 500
    assert changed(drawn["faces"], image, (380, 100, 560, 260)) == 0  # the face is only in box 0
    # landmarks: each drawn in its own colour at its point
    assert tuple(drawn["faces"][150, 100]) == ann._LANDMARK_COLORS[0]
    # keypoints: the confident two are drawn, the low-score third is not
    assert changed(drawn["keypoints"], image, (440, 140, 460, 160)) > 10
    assert changed(drawn["keypoints"], image, (490, 190, 510, 210)) > 10
    assert changed(drawn["keypoints"], image, (462, 232, 478, 248)) == 0
    # gaze: this yaw/pitch gives a vector pointing image-left (x < 0) and down (y > 0)
    arrow = np.argwhere(np.any(drawn["gaze"] != image, axis=-1))
    assert arrow[:, 1].min() < 470 - 40 and arrow[:, 0].max() > 180 + 20


def test_unknown_kinds_are_ignored_and_custom_overlays_register(rgbd):
    image, _ = rgbd
    emb = Embeddings(vectors=np.eye(2, 4, dtype=np.float32))
    assert "embeddings" not in OVERLAYS
    np.testing.assert_array_equal(annotate(Frame("cam", 0, image=image, results={"clip": emb})), image)

    @register_overlay("embeddings")
    def fill_corner(img: np.ndarray, result: Embeddings) -> None:
        img[:10, :10] = (1, 2, 3)

    try:
        out = annotate(Frame("cam", 0, image=image, results={"clip": emb}))
        assert np.all(out[:10, :10] == (1, 2, 3)) and np.array_equal(out[10:], image[10:])
        with pytest.raises(ValueError, match="registered twice"):
            register_overlay("embeddings")(fill_corner)
    finally:
        del OVERLAYS["embeddings"]


def test_a_failing_overlay_reports_instead_of_raising(rgbd):
    image, _ = rgbd

    @register_overlay("embeddings")
    def broken(img: np.ndarray, result: Embeddings) -> None:
        raise RuntimeError("bad drawing")

    try:
        out = annotate(Frame("cam", 0, image=image, results={"clip": Embeddings(vectors=np.eye(1, 4, dtype=np.float32))}))
        assert out.shape == image.shape
        assert np.any(out[:40] != image[:40])  # the failure is written on the frame
    finally:
        del OVERLAYS["embeddings"]
