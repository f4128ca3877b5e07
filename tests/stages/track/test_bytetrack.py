"""ByteTrack's behaviour on scripted scenes: ids through crossings, the low-score association
that keeps an occluded object's track (ByteTrack's point), confirmation, ids never reused,
lost tracks kept for seconds (not frames), class-aware matching, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.results.tracks import LOST, TRACKED
from sensorium.stages.track.bytetrack import ByteTracker, Observations, TrackerParams


def box(cx, cy, w=40.0, h=100.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def obs(boxes, scores=None, classes=None):
    boxes = np.array(boxes, np.float64).reshape(-1, 4)
    scores = np.full(len(boxes), 0.9) if scores is None else np.array(scores, np.float64)
    return Observations(boxes, scores, np.zeros(len(boxes), np.int64) if classes is None else np.array(classes))


def ids_at(state, x):
    """The id of the tracked box whose centre x is nearest ``x``."""
    cx = (state.boxes[:, 0] + state.boxes[:, 2]) / 2
    return int(state.track_id[np.argmin(np.abs(cx - x))])


def test_two_objects_crossing_keep_their_ids():
    tr = ByteTracker()
    first = None
    for t in range(60):
        a, b = 100 + 5 * t, 400 - 5 * t  # they cross at t = 30
        st = tr.update(t / 30, obs([box(a, 200), box(b, 205)]))
        if t == 2:
            first = (ids_at(st, a), ids_at(st, b))
    assert (ids_at(st, a), ids_at(st, b)) == first
    assert sorted(st.track_id.tolist()) == [1, 2]


def test_a_low_score_box_keeps_an_occluded_track_where_dropping_it_loses_it():
    def run(params):
        tr = ByteTracker(params)
        for t in range(40):
            score = 0.3 if 15 <= t < 30 else 0.9  # half hidden for half a second
            st = tr.update(t / 30, obs([box(100 + 3 * t, 200)], [score]))
            if t == 29:
                mid = st
        return mid, st

    mid, end = run(TrackerParams(max_age_s=0.2))
    assert mid.state.tolist() == [TRACKED] and end.track_id.tolist() == [1]
    mid, end = run(TrackerParams(max_age_s=0.2, low_threshold=0.5))  # low boxes ignored: the track dies
    assert mid.track_id.size == 0 and end.track_id.tolist() == [2]


def test_tentative_tracks_need_min_hits_and_a_false_positive_burns_no_id():
    tr = ByteTracker(TrackerParams(min_hits=3))
    assert tr.update(0.0, obs([])).track_id.size == 0
    assert tr.update(0.1, obs([box(50, 50)])).track_id.size == 0  # a one-frame false positive
    for t in range(2, 4):
        st = tr.update(t / 10, obs([box(300, 300)]))
    assert st.track_id.size == 0  # two hits, not yet confirmed
    st = tr.update(0.4, obs([box(300, 300)]))
    assert st.track_id.tolist() == [1] and st.item.tolist() == [0]


def test_lost_tracks_live_max_age_seconds_whatever_the_frame_rate():
    for fps in (10, 30):
        tr = ByteTracker(TrackerParams(max_age_s=1.0))
        t = 0.0
        for k in range(5):
            st = tr.update(k / fps, obs([box(100, 100)]))
        alive = []
        for k in range(5, 5 + 2 * fps):
            st = tr.update(k / fps, obs([]))
            alive.append(bool(st.track_id.size))
        # lost at 5/fps, kept while (now - last seen) <= 1 s
        assert sum(alive) == fps, (fps, sum(alive))
        assert st.track_id.size == 0


def test_ids_are_never_reused():
    tr = ByteTracker(TrackerParams(max_age_s=0.1))
    seen = []
    for t in range(60):
        boxes = [box(100, 100)] if (t // 10) % 2 == 0 else []
        st = tr.update(t / 30, obs(boxes))
        seen += st.track_id.tolist()
    assert sorted(set(seen)) == [1, 2, 3]


def test_lost_tracks_are_reported_with_item_minus_one():
    tr = ByteTracker()
    for t in range(3):
        tr.update(t / 30, obs([box(100, 100), box(300, 100)]))
    st = tr.update(3 / 30, obs([box(300, 100)]))
    assert st.state.tolist() == [LOST, TRACKED] and st.item.tolist() == [-1, 0]


def test_class_aware_matching_never_mixes_classes():
    def run(class_aware):
        tr = ByteTracker(TrackerParams(class_aware=class_aware))
        tr.update(0.0, obs([box(100, 100)], classes=[0]))
        tr.update(1 / 30, obs([box(100, 100)], classes=[0]))
        return tr.update(2 / 30, obs([box(101, 100)], classes=[1]))

    assert run(False).track_id.tolist() == [1]
    st = run(True)
    assert st.state.tolist() == [LOST] and st.class_id.tolist() == [0]


def test_same_frames_same_tracks():
    rng = np.random.default_rng(3)
    frames = [obs(rng.uniform(0, 500, (8, 4)).cumsum(axis=1)[:, :4] % 500 + [0, 0, 60, 60], rng.uniform(0.05, 1, 8)) for _ in range(30)]

    def run():
        tr = ByteTracker()
        return [tr.update(t / 30, f) for t, f in enumerate(frames)]

    for a, b in zip(run(), run()):
        assert a.track_id.tolist() == b.track_id.tolist() and np.array_equal(a.boxes, b.boxes)


@pytest.mark.parametrize("make, message", [
    (lambda: Observations(np.zeros((2, 4)), np.zeros(3), np.zeros(3, np.int64)), "expected boxes"),
    (lambda: Observations(np.full((1, 4), np.nan), np.zeros(1), np.zeros(1, np.int64)), "finite"),
    (lambda: Observations(np.zeros((1, 4)), np.zeros(1), np.zeros(1, np.int64), xyz=np.zeros((1, 2))), "xyz"),
    (lambda: TrackerParams(low_threshold=0.7, high_threshold=0.5), "low_threshold"),
    (lambda: TrackerParams(min_hits=0), "min_hits"),
])
def test_bad_input_is_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_frames_out_of_order_are_refused():
    tr = ByteTracker()
    tr.update(1.0, obs([]))
    with pytest.raises(ValueError, match="out of order"):
        tr.update(0.5, obs([]))
