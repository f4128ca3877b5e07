"""The ``track`` stage on frames: registered and ordered, the chain check demands the tracked
stage, one tracker per source, the item link back to the tracked result, 3-D fields when
detections carry positions, face names voted over the track, pose boxes, media time from
video frames, and bad input named."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.base import ConfigError, build_stage, check_chain, get_stage_class
from sensorium.stages.frame import Frame
from sensorium.stages.results import Detections, Faces, Keypoints, Tracks
from sensorium.stages.results.tracks import LOST, TRACKED
from sensorium.stages.track.stage import TrackStage

IMAGE = np.zeros((8, 8, 3), np.uint8)


def det_frame(source, seq, boxes, scores=None, xyz=None, fps=30.0):
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    scores = np.full(len(boxes), 0.9, np.float32) if scores is None else np.array(scores, np.float32)
    d = Detections(boxes=boxes, scores=scores, class_id=np.zeros(len(boxes), np.int64), class_names=("person",),
                   xyz=None if xyz is None else np.array(xyz, np.float32), xyz_spread=None if xyz is None else np.full((len(boxes), 3), 0.05, np.float32))
    return Frame(source, seq, timestamp=1000.0 + seq / fps, image=IMAGE, results={"detect": d})


def test_registered_ordered_and_the_chain_demands_the_tracked_stage():
    assert get_stage_class("track") is TrackStage and TrackStage.ordered
    check_chain([("detect", None), ("track", None)])
    check_chain([("face", None), ("track", {"of": "face"})])
    with pytest.raises(ConfigError, match="'track' needs the 'face' stage"):
        check_chain([("detect", None), ("track", {"of": "face"})])
    with pytest.raises(ConfigError, match="'track' needs the 'detect' stage"):
        check_chain([("track", None), ("detect", None)])


@pytest.mark.parametrize("options, message", [
    ({"of": "depth"}, "track.of"),
    ({"min_hits": 0}, "min_hits"),
    ({"low_threshold": 0.9}, "low_threshold"),
    ({"name_min_share": 0}, "min_share"),
    ({"gate_3d": -1}, "gate_3d"),
])
def test_bad_config_is_named(options, message):
    with pytest.raises(ValueError, match=message):
        build_stage("track", options)


def test_one_tracker_per_source_and_items_link_back():
    stage = TrackStage()
    frames = []
    for seq in range(12):
        frames += [det_frame("a", seq, [[10 + seq, 10, 50 + seq, 110], [200, 10, 240, 110]]), det_frame("b", seq, [[300, 300, 340, 400]])]
    out = stage(frames)
    a3, b3 = out[-2].results["track"], out[-1].results["track"]
    assert isinstance(a3, Tracks) and a3.of == "detect" and a3.class_names == ("person",)
    assert a3.track_id.tolist() == [1, 2] and b3.track_id.tolist() == [1]  # ids count per source
    assert a3.item.tolist() == [0, 1] and a3.state.tolist() == [TRACKED, TRACKED]
    assert a3.age.tolist() == [11, 11] and a3.xyz is None
    assert a3.velocity_px[0, 0] == pytest.approx(30.0, rel=0.3)  # 1 px a frame at 30 fps
    gone = stage([det_frame("a", 12, [[200, 10, 240, 110]])])[0].results["track"]
    assert gone.state.tolist() == [LOST, TRACKED] and gone.item.tolist() == [-1, 0]
    assert Tracks.from_dict(gone.to_dict()) == gone  # JSON round trip (the JSONL sink)


def test_3d_fields_when_detections_carry_positions():
    stage = TrackStage({"trajectory_length": 3})
    for seq in range(3):
        (f,) = stage([det_frame("s", seq, [[10, 10, 50, 110]], xyz=[[0.1 * seq, 0.0, 4.0]], fps=10)])
    tr = f.results["track"]
    assert tr.xyz.shape == (1, 3) and tr.trajectory.shape == (1, 3, 3)
    assert tr.velocity[0, 0] == pytest.approx(1.0, abs=0.3)  # 0.1 m a frame at 10 fps


def test_face_tracks_carry_the_voted_name():
    stage = TrackStage({"of": "face", "name_min_votes": 3})
    names = ["lin", "lin", "obama", "lin", "lin"]
    for seq, name in enumerate(names):
        faces = Faces(boxes=np.array([[10, 10, 50, 60]], np.float32), scores=np.array([0.9], np.float32),
                      landmarks=np.zeros((1, 5, 2), np.float32), similarity=np.array([0.93], np.float32),
                      data={"identity": np.array([name], dtype=object)})
        (f,) = stage([Frame("v", seq, timestamp=seq / 30, image=IMAGE, results={"face": faces})])
        got = f.results["track"].data["name"].tolist()
        assert got == ([None] if seq < 3 else ["lin"]), (seq, got)


def test_pose_instances_are_tracked_by_their_boxes():
    stage = TrackStage({"of": "pose"})
    kp = Keypoints(xy=np.zeros((1, 33, 2), np.float32), scores=np.full((1, 33), 0.8, np.float32), boxes=np.array([[5, 5, 40, 90]], np.float32))
    for seq in range(3):
        (f,) = stage([Frame("p", seq, timestamp=seq / 30, image=IMAGE, results={"pose": kp})])
    assert f.results["track"].track_id.tolist() == [1] and f.results["track"].class_names == ("person",)
    no_boxes = Keypoints(xy=np.zeros((1, 33, 2), np.float32))
    (f,) = stage([Frame("p", 3, timestamp=4.0, image=IMAGE, results={"pose": no_boxes})])
    assert "no instance boxes" in f.errors["track"]


def test_video_frames_use_media_time_not_the_wall_clock():
    stage, other = TrackStage({"max_age_s": 0.5}), TrackStage({"max_age_s": 0.5})
    for seq in range(3):
        f = det_frame("v", seq, [[10, 10, 50, 110]])
        f.meta["pos_msec"] = seq * 100.0
        g = det_frame("v", seq, [[10, 10, 50, 110]])
        g.meta["pos_msec"] = seq * 100.0
        g.timestamp = 5000.0 + 7 * seq  # another wall clock: the same answer
        a, b = stage([f])[0].results["track"], other([g])[0].results["track"]
        assert a == b
    assert a.metadata["frame_time"] == pytest.approx(0.2)


def test_out_of_order_frames_are_an_error_on_the_frame():
    stage = TrackStage()
    stage([det_frame("s", 5, [[0, 0, 10, 10]])])
    (f,) = stage([det_frame("s", 2, [[0, 0, 10, 10]])])
    assert "out of order" in f.errors["track"] and "track" not in f.results


def test_a_bad_frame_in_a_batch_fails_alone_and_the_others_are_tracked_once():
    stage = TrackStage()
    frames = [det_frame("s", 0, [[0, 0, 10, 10]]), det_frame("s", 1, [[0, 0, 10, 10]])]
    bad = Frame("s", 2, timestamp=1000.05, image=IMAGE, results={"detect": "not detections"})
    out = stage([*frames, bad, det_frame("s", 3, [[0, 0, 10, 10]])])
    assert "cannot track a str" in out[2].errors["track"]
    assert [f.results["track"].age.tolist() for f in (out[0], out[1], out[3])] == [[0], [1], [2]]


def test_pose_tracks_use_the_pose_score_and_lifted_keypoints():
    stage = TrackStage({"of": "pose", "high_threshold": 0.6, "new_track_threshold": 0.7})
    camera = np.full((1, 33, 3), np.nan, np.float32)
    camera[0, :10] = [0.5, 0.0, 3.0]
    kp = Keypoints(xy=np.zeros((1, 33, 2), np.float32), scores=np.full((1, 33), 0.2, np.float32), boxes=np.array([[5, 5, 40, 90]], np.float32),
                   data={"pose_score": np.array([0.9], np.float32), "camera": camera})
    for seq in range(2):
        (f,) = stage([Frame("p", seq, timestamp=seq / 30, image=IMAGE, results={"pose": kp})])
    tr = f.results["track"]
    assert tr.track_id.tolist() == [1] and tr.scores.tolist() == [pytest.approx(0.9)]
    np.testing.assert_allclose(tr.xyz[0], [0.5, 0.0, 3.0], atol=0.01)
