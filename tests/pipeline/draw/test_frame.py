"""Whole frames: every result kind drawn, errors in red, the depth panel with its colour bar,
per-source state, and sizes legible from 320x240 to 4K."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from sensorium.pipeline.draw.colormap import DepthColorizer
from sensorium.pipeline.draw.frame import BLANK_SHAPE, DrawConfig, FrameAnnotator, default_annotators, depth_panel, primary_depth
from sensorium.stages.frame import Frame
from sensorium.stages.results import (RESULT_KINDS, Depth, Detections, Faces, Gaze, GuiAction, GuiStep, Keypoints, LineTally,
                                      Tracks, ZoneCounts, ZoneTally)
from tests.pipeline.draw.conftest import Fill, changed, lut_index

K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])


def make_depth(depth: np.ndarray, k: np.ndarray = K) -> Depth:
    return Depth(depth=depth, confidence=(depth > 0).astype(np.float32), K=k)


def every_kind() -> dict[str, object]:
    """One result of each drawable kind, each in its own part of a 640x480 image."""
    one = np.ones(1, np.float32)
    return {
        "zones": ZoneCounts((ZoneTally("door", polygon=[(20, 400), (120, 400), (120, 470), (20, 470)]),),
                            (LineTally("gate", start=(620, 300), end=(620, 470)),)),
        "detect": Detections(boxes=np.array([[20, 40, 140, 200]], np.float32), scores=one, class_id=np.zeros(1, np.int64)),
        "track": Tracks(track_id=np.array([4]), boxes=np.array([[170, 40, 290, 200]], np.float32), scores=one,
                        class_id=np.zeros(1, np.int64), state=np.zeros(1, np.int64), item=np.zeros(1, np.int64), age=np.ones(1, np.int64)),
        "pose": Keypoints(xy=np.array([[[350, 60], [380, 150]]], np.float32), sigma=np.full((1, 2, 2), 6, np.float32),
                          metadata={"skeleton": [[0, 1]]}),
        "face": Faces(boxes=np.array([[450, 40, 600, 200]], np.float32), scores=one,
                      landmarks=np.array([[[480, 90], [560, 90], [520, 120], [490, 160], [550, 160]]], np.float32)),
        "gaze": Gaze(yaw_pitch=np.array([[-0.8, 0.0]], np.float32), origin=np.array([[200, 300]], np.float32)),
        "gui": GuiStep("", (GuiAction("click", x=450, y=330),)),
    }


#: where each kind in every_kind() draws, and nothing else does
REGIONS = {"zones": (15, 395, 125, 475), "detect": (15, 35, 145, 205), "track": (165, 195, 295, 230), "pose": (340, 50, 390, 160),
           "face": (445, 35, 605, 205), "gaze": (215, 290, 330, 310), "gui": (430, 310, 470, 350)}


def test_every_result_kind_but_arrays_has_an_annotator():
    assert set(RESULT_KINDS) - set(default_annotators()) == {"depth", "embeddings"}


def test_every_kind_draws_in_its_place_and_only_there(rgbd):
    image, _ = rgbd
    results = every_kind()
    for name, result in results.items():
        out = FrameAnnotator()(Frame("cam", 0, image=image, results={name: result}))
        assert out.shape == image.shape
        assert changed(out, image, REGIONS[name]) > 40, name
        others = [REGIONS[n] for n in results if n != name and n != "gui"]
        assert all(changed(out, image, box) == 0 for box in others if not _overlaps(box, REGIONS[name])), name
    everything = FrameAnnotator()(Frame("cam", 0, image=image, results=results))
    assert all(changed(everything, image, box) > 40 for box in REGIONS.values())


def _overlaps(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_nothing_to_draw_is_the_image_itself(rgbd):
    image, _ = rgbd
    out = FrameAnnotator()(Frame("cam", 0, image=image))
    np.testing.assert_array_equal(out, image)
    assert out is not image


def test_depth_goes_to_the_right_with_its_colour_bar(rgbd):
    image, depth = rgbd
    out = FrameAnnotator()(Frame("cam", 0, image=image, results={"depth": make_depth(depth)}))
    assert out.shape == (480, 1280, 3)
    np.testing.assert_array_equal(out[:, :640], image)
    panel = out[:, 640:]
    picture, _ = DepthColorizer()(make_depth(depth))
    body = panel[:, :480]  # left of the colour bar and its labels
    np.testing.assert_array_equal(body, picture[:, :480])
    assert not body[depth[:, :480] == 0].any()
    assert np.any(panel[:, 560:] != picture[:, 560:])  # the bar
    no_bar = FrameAnnotator(DrawConfig(colorbar=False))(Frame("cam", 0, image=image, results={"depth": make_depth(depth)}))
    np.testing.assert_array_equal(no_bar[:, 640:], picture)


def test_the_depth_panel_alone_is_what_the_report_shows(rgbd):
    _, depth = rgbd
    panel = depth_panel(make_depth(depth))
    assert panel.shape == (480, 640, 3)
    np.testing.assert_array_equal(panel[:, :480], DepthColorizer(1.0)(make_depth(depth))[0][:, :480])
    assert depth_panel(make_depth(depth), 240).shape == (240, 320, 3)
    np.testing.assert_array_equal(depth_panel(make_depth(depth), colorbar=False), DepthColorizer(1.0)(make_depth(depth))[0])
    with pytest.raises(ValueError, match="height >= 1"):
        depth_panel(make_depth(depth), 0)


def test_a_smaller_depth_map_is_scaled_to_the_image_height(rgbd):
    image, depth = rgbd
    small = cv2.resize(depth, (320, 240), interpolation=cv2.INTER_NEAREST)
    out = FrameAnnotator()(Frame("cam", 0, image=image, results={"stereo": make_depth(small, K * [[0.5], [0.5], [1]])}))
    assert out.shape == (480, 1280, 3)


def test_errors_are_written_in_red_and_a_frame_without_image_still_shows_them(rgbd):
    image, _ = rgbd
    out = FrameAnnotator()(Frame("cam", 3, image=image, errors={"faces": "cam#3: faces: model not loaded"}))
    diff = np.any(out != image, axis=-1)
    assert diff[:40].sum() > 100 and diff[100:].sum() == 0  # a line at the top, nothing else
    assert ((out[..., 0].astype(int) - out[..., 1] > 150) & diff).sum() > 50
    blank = FrameAnnotator()(Frame("cam", 0, errors={"source": "cam#0: cannot decode frame"}))
    assert blank.shape == (*BLANK_SHAPE, 3) and (blank[..., 0] > 200).sum() > 50


class Broken:
    def annotate(self, image: np.ndarray, result: object) -> np.ndarray:
        raise RuntimeError("bad drawing")


def test_a_failing_annotator_is_reported_on_the_frame(rgbd):
    image, _ = rgbd
    draw = FrameAnnotator(annotators=lambda: {"detections": Broken()})
    out = draw(Frame("cam", 0, image=image, results={"detect": every_kind()["detect"]}))
    assert out.shape == image.shape and np.any(out[:40] != image[:40])  # the failure, written on the frame


def test_kinds_are_drawn_in_the_annotators_order_not_the_frames(rgbd):
    image, _ = rgbd
    draw = FrameAnnotator(annotators=lambda: {"faces": Fill((1, 1, 1)), "detections": Fill((2, 2, 2))})
    kinds = every_kind()
    out = draw(Frame("cam", 0, image=image, results={"detect": kinds["detect"], "face": kinds["face"], "pose": kinds["pose"]}))
    assert tuple(out[0, 0]) == (2, 2, 2)  # detections last although the frame lists faces after them
    assert changed(out, image, REGIONS["pose"]) == 0  # a kind without an annotator is not drawn


def test_depth_colours_hold_along_a_source_and_sources_are_apart(rgbd):
    """A near object entering the view changes the stateless picture of the wall; the stream's keeps it."""
    image, depth = rgbd
    closer = depth.copy()
    closer[200:300, 250:400] = np.where(depth[200:300, 250:400] > 0, 0.3, 0)  # something 30 cm from the camera
    stream, other = FrameAnnotator(), FrameAnnotator()
    first = stream(Frame("a", 0, image=image, results={"depth": make_depth(depth)}))[:, 640:]
    stream(Frame("b", 0, image=image, results={"depth": make_depth(depth * 3)}))  # another source, another range
    later = stream(Frame("a", 1, image=image, results={"depth": make_depth(closer)}))[:, 640:]
    alone = other(Frame("a", 1, image=image, results={"depth": make_depth(closer)}))[:, 640:]
    wall = (depth > 0) & (np.arange(640)[None, :] < 200)
    rows = [lut_index(p[:, :200])[wall[:, :200]].astype(int) for p in (first, later, alone)]  # colour-map rows
    moved_stream, moved_alone = np.abs(rows[1] - rows[0]).mean(), np.abs(rows[2] - rows[0]).mean()
    assert moved_stream < 10 and moved_alone > 5 * moved_stream, (moved_stream, moved_alone)  # of 255 rows


def label_and_line(side_h: int, side_w: int) -> tuple[int, int]:
    """(label height, box line width) in pixels of one detection drawn on a black (H, W) image."""
    img = np.zeros((side_h, side_w, 3), np.uint8)
    box = np.array([[0.3 * side_w, 0.4 * side_h, 0.7 * side_w, 0.9 * side_h]], np.float32)
    det = Detections(boxes=box, scores=np.array([0.9], np.float32), class_id=np.zeros(1, np.int64), class_names=("person",))
    out = FrameAnnotator()(Frame("cam", 0, image=img, results={"detect": det}))
    drawn = out.any(axis=-1)
    column = drawn[:, int(0.3 * side_w) + max(3, side_w // 200)]  # through the label's fill, right of the box's left edge
    label_rows = np.flatnonzero(column[: int(0.4 * side_h)])  # the label and the upper half of the box's top edge
    line_cols = np.flatnonzero(drawn[int(0.65 * side_h), : int(0.5 * side_w)])
    return len(label_rows), len(line_cols)


def test_sizes_scale_from_320x240_to_4k():
    small_label, small_line = label_and_line(240, 320)
    big_label, big_line = label_and_line(2160, 3840)
    assert 8 <= small_label <= 20 and 1 <= small_line <= 2  # legible, not swamping a thumbnail
    assert big_label >= 4 * small_label and big_line >= 4 * small_line  # and as legible at 4K


@pytest.mark.parametrize("kwargs, expectation", [
    ({}, does_not_raise()),
    ({"color_by": "track", "labels": ("class", "distance")}, does_not_raise()),
    ({"color_by": "colour"}, pytest.raises(ValueError)),
    ({"labels": ("class", "size")}, pytest.raises(ValueError, match="size")),
    ({"text_scale": 0}, pytest.raises(ValueError, match="text_scale")),
    ({"depth_adaptation": 2.0}, pytest.raises(ValueError, match="adaptation")),
    ({"max_depth_m": 0.0}, pytest.raises(ValueError, match="far_m")),
])
def test_config_is_checked_when_built(kwargs, expectation):
    with expectation:
        DrawConfig(**kwargs)


def test_primary_depth_prefers_the_depth_stage(rgbd):
    _, depth = rgbd
    a, b = make_depth(depth), make_depth(depth * 2)
    assert primary_depth(Frame("cam", 0, results={"stereo": a, "depth": b})) == ("depth", b)
    assert primary_depth(Frame("cam", 0, results={"stereo": a})) == ("stereo", a)
    assert primary_depth(Frame("cam", 0)) is None
