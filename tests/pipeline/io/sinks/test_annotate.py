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


# --- skeletons, uncertainty ellipses and gaze cones on a real photo ---------------------------------
@pytest.fixture(scope="module")
def zidane(data_dir: Path) -> np.ndarray:
    """(720, 1280, 3) uint8 RGB."""
    return cv2.cvtColor(cv2.imread(str(data_dir / "photos" / "zidane.jpg")), cv2.COLOR_BGR2RGB)


def kps(xy, sigma=None, scores=None, skeleton=None) -> Keypoints:
    """One instance from (K, 2) points, (K, 2) sigmas and (K,) scores."""
    return Keypoints(xy=np.array([xy], np.float32), sigma=None if sigma is None else np.array([sigma], np.float32),
                     scores=None if scores is None else np.array([scores], np.float32),
                     metadata={} if skeleton is None else {"skeleton": skeleton})


def draw(image: np.ndarray, result) -> np.ndarray:
    out = image.copy()
    OVERLAYS[result.kind](out, result)
    return out


def ring(a: np.ndarray, b: np.ndarray, centre: tuple[int, int], r0: float, r1: float) -> int:
    """Changed pixels at distance [r0, r1) from ``centre``."""
    yy, xx = np.mgrid[: a.shape[0], : a.shape[1]]
    d = np.hypot(xx - centre[0], yy - centre[1])
    return int((np.any(a != b, axis=-1) & (d >= r0) & (d < r1)).sum())


def test_skeleton_edges_are_drawn_only_when_given(zidane):
    points = [[300, 300], [500, 420]]
    with_edge = draw(zidane, kps(points, skeleton=[[0, 1]]))
    without = draw(zidane, kps(points))
    middle = (390, 350, 410, 370)  # around the edge's midpoint (400, 360), far from both joints
    assert changed(with_edge, zidane, middle) > 20
    assert changed(without, zidane, middle) == 0


@pytest.mark.parametrize(
    "skeleton, expectation",
    [
        ([[0, 1]], does_not_raise()),
        ([], does_not_raise()),
        ([[0, 2]], pytest.raises(ValueError, match=r"skeleton.*\[0, 2\)")),
        ([[0, 1, 1]], pytest.raises(ValueError, match="skeleton")),
        ([[0.5, 1]], pytest.raises(ValueError, match="skeleton")),
    ],
)
def test_skeleton_is_validated(zidane, skeleton, expectation):
    with expectation:
        draw(zidane, kps([[300, 300], [500, 420]], skeleton=skeleton))


def test_larger_sigma_draws_a_larger_ellipse_and_none_draws_none(zidane):
    centre = (640, 300)
    big = draw(zidane, kps([centre], sigma=[[10, 10]]))
    small = draw(zidane, kps([centre], sigma=[[2, 2]]))
    none = draw(zidane, kps([centre], sigma=None))
    box = (610, 270, 671, 331)
    assert changed(big, zidane, box) > changed(small, zidane, box) > 0
    dot = 2 * (ann._style(zidane)[0] + 1)  # the joint's dot with its outline
    assert ring(big, zidane, centre, dot + 2, 10) > 100  # the 10 px ellipse fills the ring around the dot
    assert ring(none, zidane, centre, dot + 2, 40) == 0  # sigma None: only the dot
    assert ring(small, zidane, centre, dot + 2, 40) == 0


def test_ellipse_axes_follow_sigma_x_and_sigma_y(zidane):
    centre = (640, 300)
    wide = draw(zidane, kps([centre], sigma=[[30, 5]]))
    assert changed(wide, zidane, (662, 296, 668, 304)) > 0  # 25 px right: inside sigma_x
    assert changed(wide, zidane, (636, 322, 644, 328)) == 0  # 25 px down: outside sigma_y


def test_nan_and_low_score_points_draw_nothing_nor_their_edges(zidane):
    nan = draw(zidane, kps([[np.nan, np.nan]], sigma=[[10, 10]]))
    assert changed(nan, zidane, (0, 0, zidane.shape[1], zidane.shape[0])) == 0
    # joint 1 is NaN, joint 2 scores too low: neither they nor the edges to them show; joint 0 does
    out = draw(zidane, kps([[300, 300], [np.nan, 400], [500, 300]], sigma=[[5, 5], [5, 5], [5, 5]],
                           scores=[0.9, 0.9, 0.1], skeleton=[[0, 1], [0, 2], [1, 2]]))
    assert changed(out, zidane, (290, 290, 311, 311)) > 0
    assert changed(out, zidane, (320, 280, 480, 320)) == 0  # where the 0-2 edge would run
    assert changed(out, zidane, (490, 290, 511, 311)) == 0


def test_lines_thicken_with_the_image(zidane):
    """Legible from thumbnails to 4K: the edge across a cut is wider on a larger image."""
    widths = []
    for side in (320, 3840):
        img = cv2.resize(zidane, (side, side * 9 // 16), interpolation=cv2.INTER_AREA)
        h = img.shape[0]
        out = draw(img, kps([[side * 0.2, h * 0.5], [side * 0.8, h * 0.5]], skeleton=[[0, 1]]))
        widths.append(int(np.any(out[:, side // 2] != img[:, side // 2], axis=-1).sum()))
    assert 1 <= widths[0] <= 4 and widths[1] >= 2 * widths[0] + 2


def gaze(yaw_pitch, origin, sigma=None) -> Gaze:
    return Gaze(yaw_pitch=np.array([yaw_pitch], np.float32), origin=np.array([origin], np.float32),
                sigma=None if sigma is None else np.array([sigma], np.float32))


def test_a_gaze_to_the_right_draws_right_of_its_origin(zidane):
    g = gaze([-0.6, 0.0], [640, 360])  # yaw -0.6 rad: Gaze.vectors points to +x (image right)
    assert g.vectors[0, 0] > 0.5 and abs(g.vectors[0, 1]) < 1e-6
    out = draw(zidane, g)
    assert changed(out, zidane, (660, 340, 720, 380)) > 50
    assert changed(out, zidane, (560, 300, 630, 420)) == 0  # nothing left of the origin


def test_gaze_sigma_draws_a_cone_around_the_arrow(zidane):
    plain = draw(zidane, gaze([-0.6, 0.0], [640, 360]))
    cone = draw(zidane, gaze([-0.6, 0.0], [640, 360], sigma=[0.2, 0.2]))
    wider = draw(zidane, gaze([-0.6, 0.0], [640, 360], sigma=[0.4, 0.4]))
    box = (640, 260, 800, 460)
    assert changed(wider, zidane, box) > changed(cone, zidane, box) > changed(plain, zidane, box)
    # the cone opens above and below the arrow, which itself stays on its row
    assert changed(plain, zidane, (655, 340, 700, 354)) == 0 and changed(cone, zidane, (655, 340, 700, 354)) > 50


def test_a_gaze_at_the_camera_is_a_ring_and_no_origin_draws_nothing(zidane):
    at_camera = draw(zidane, gaze([0.0, 0.0], [640, 360]))
    assert 0 < changed(at_camera, zidane, (600, 320, 681, 401)) < 1000
    no_origin = Gaze(yaw_pitch=np.array([[0.3, 0.1]], np.float32))
    assert changed(draw(zidane, no_origin), zidane, (0, 0, zidane.shape[1], zidane.shape[0])) == 0


def test_zones_and_lines_are_drawn_where_they_are(rgbd):
    from sensorium.stages.results import LineTally, ZoneCounts, ZoneTally

    image, _ = rgbd
    counts = ZoneCounts((ZoneTally("door", [1], 1, 0, polygon=[(100, 100), (200, 100), (200, 200), (100, 200)]),),
                        (LineTally("gate", 2, 1, start=(400, 50), end=(400, 400)),))
    out = annotate(Frame("cam", 0, image=image, results={"zones": counts}))
    assert changed(out, image, (95, 60, 205, 205)) > 300  # the outline and its label
    assert changed(out, image, (396, 100, 404, 400)) > 300  # the line
    assert changed(out, image, (130, 130, 170, 170)) == 0  # a zone is outlined, not filled
