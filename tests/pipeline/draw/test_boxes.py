"""Boxes and labels for detections and tracks: where they go and what they say."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.pipeline.draw.boxes import BoxAnnotator, LabelAnnotator, distance_m, label_text
from sensorium.pipeline.draw.style import ColorLookup, palette
from sensorium.stages.results import Detections, Tracks
from tests.pipeline.draw.conftest import changed

BOXES = np.array([[60, 80, 220, 300], [380, 100, 560, 260]], np.float32)


def detections(xyz=None) -> Detections:
    return Detections(boxes=BOXES, scores=np.array([0.91, 0.4], np.float32), class_id=np.array([0, 1]),
                      xyz=xyz, class_names=("person", "chair"))


def tracks(state=(0, 0)) -> Tracks:
    n = len(BOXES)
    return Tracks(track_id=np.array([7, 12]), boxes=BOXES, scores=np.array([0.9, 0.8], np.float32), class_id=np.array([0, 0]),
                  state=np.array(state), item=np.arange(n), age=np.ones(n, np.int64), class_names=("person",))


def test_boxes_are_drawn_around_the_items_and_nowhere_else(zidane):
    out = BoxAnnotator().annotate(zidane.copy(), detections())
    assert changed(out, zidane, (55, 75, 65, 305)) > 200  # box 0's left edge
    assert changed(out, zidane, (375, 95, 565, 105)) > 150  # box 1's top edge
    assert changed(out, zidane, (80, 100, 200, 280)) == 0  # not filled
    assert changed(out, zidane, (240, 320, 360, 470)) == 0


def test_box_colour_by_class_or_track(zidane):
    by_class = BoxAnnotator().annotate(zidane.copy(), tracks())
    by_track = BoxAnnotator(ColorLookup.TRACK).annotate(zidane.copy(), tracks())
    assert tuple(by_class[190, 60]) == tuple(by_class[180, 380]) == palette(0)  # both "person"
    assert tuple(by_track[190, 60]) == palette(7) and tuple(by_track[180, 380]) == palette(12)


def test_a_lost_track_is_drawn_thin(zidane):
    seen = BoxAnnotator(thickness_scale=3).annotate(zidane.copy(), tracks())
    lost = BoxAnnotator(thickness_scale=3).annotate(zidane.copy(), tracks(state=(1, 0)))
    assert changed(lost, zidane, (50, 150, 75, 160)) < changed(seen, zidane, (50, 150, 75, 160))


def test_label_text_says_class_score_track_and_distance():
    det = detections(xyz=np.array([[0.6, 0.0, 0.8], [np.nan, np.nan, np.nan]], np.float32))
    assert label_text(det, 0, ("class", "score", "track", "distance")) == "person 0.91 1.00 m"
    assert label_text(det, 1, ("class", "score", "distance")) == "chair 0.40"  # not lifted: no distance
    assert label_text(tracks(), 1, ("class", "track")) == "person #12"
    assert label_text(det, 0, ("distance",)) == "1.00 m" and distance_m(None, 0) is None
    far = detections(xyz=np.array([[0, 0, 12.34], [0, 0, 1]], np.float32))
    assert label_text(far, 0, ("distance",)) == "12.3 m"


def test_labels_sit_above_their_boxes(zidane):
    out = LabelAnnotator().annotate(zidane.copy(), detections())
    assert changed(out, zidane, (60, 55, 220, 80)) > 300  # above box 0's top-left corner
    assert changed(out, zidane, (60, 85, 220, 300)) == 0
    at_top = Detections(boxes=np.array([[100, 0, 200, 100]], np.float32), scores=np.ones(1, np.float32), class_id=np.zeros(1, np.int64))
    out = LabelAnnotator().annotate(zidane.copy(), at_top)
    assert changed(out, zidane, (100, 0, 200, 30)) > 100  # no room above: drawn inside


@pytest.mark.parametrize("fields, expectation", [
    (("class", "distance"), does_not_raise()),
    ((), does_not_raise()),
    (("class", "colour"), pytest.raises(ValueError, match="unknown.*colour")),
])
def test_label_fields_are_checked(fields, expectation):
    with expectation:
        LabelAnnotator(fields)


def test_empty_results_draw_nothing(zidane):
    empty = Detections.empty()
    for annotator in (BoxAnnotator(), LabelAnnotator()):
        np.testing.assert_array_equal(annotator.annotate(zidane.copy(), empty), zidane)
