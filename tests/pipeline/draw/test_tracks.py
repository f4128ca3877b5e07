"""Track tags and trails, remembered per annotator across frames."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.draw.tracks import TraceAnnotator, track_text
from sensorium.stages.results import Tracks
from tests.pipeline.draw.conftest import changed


def track_at(x: float, tid: int = 3, name=None) -> Tracks:
    data = {} if name is None else {"name": np.array([name], dtype=object)}
    return Tracks(track_id=np.array([tid]), boxes=np.array([[x, 200, x + 60, 340]], np.float32), scores=np.ones(1, np.float32),
                  class_id=np.zeros(1, np.int64), state=np.zeros(1, np.int64), item=np.zeros(1, np.int64),
                  age=np.ones(1, np.int64), data=data)


def test_the_tag_names_the_track():
    assert track_text(track_at(0), 0) == "#3"
    assert track_text(track_at(0, name="ada"), 0) == "#3 ada"


def test_a_trail_follows_the_track_across_frames(zidane):
    annotator = TraceAnnotator(tail=10)
    for x in range(200, 400, 20):  # 10 frames walking right
        out = annotator.annotate(zidane.copy(), track_at(x))
    # the trail runs along the bottom centres from x=230 to x=410 at y=340
    assert changed(out, zidane, (240, 335, 380, 346)) > 200
    first = TraceAnnotator(tail=10).annotate(zidane.copy(), track_at(380))
    assert changed(first, zidane, (240, 335, 380, 346)) == 0  # a new annotator has no past


def test_a_track_unseen_for_the_tail_is_forgotten(zidane):
    def last_frame(gap: int) -> np.ndarray:
        annotator = TraceAnnotator(tail=3)
        annotator.annotate(zidane.copy(), track_at(200))  # bottom centre (230, 340)
        for _ in range(gap):
            annotator.annotate(zidane.copy(), track_at(600, tid=9))
        return annotator.annotate(zidane.copy(), track_at(240))  # bottom centre (270, 340), its tag below y=340

    segment = (235, 333, 265, 340)  # between the two bottom centres, above the tag
    assert changed(last_frame(gap=1), zidane, segment) > 30  # seen 2 frames ago: joined
    assert changed(last_frame(gap=3), zidane, segment) == 0  # unseen for the tail: forgotten


def test_tail_is_checked():
    with pytest.raises(ValueError, match="tail"):
        TraceAnnotator(tail=0)
