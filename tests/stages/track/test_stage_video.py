"""The ``track`` stage on real video, in-process, frames in capture order (subsampled; the
detections are computed once per module):

* ``video/vtest.avi`` pedestrians, found by the pose stage's MediaPipe person detector on a
  4 x 4 tile grid (the shipped DETR knows only generated shapes): the couple who enter on the
  right at frame 20 and walk up to the building keep one track id from frame 20 to 140 (12 s;
  checkpoints hand-placed on the couple, docs/tracking.md).
* ``video/short_hamilton_clip.mp4`` with the face stage: Lin-Manuel Miranda keeps one id over
  seq 109-169 (every 3rd frame), where he is the only face, and the track's voted name at seq 142 is his; with
  ``identify_low_quality`` on, seq 6 names a small background face ``alex_lacamoire`` on that
  frame alone, and the voted track name never takes it.
"""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.io.sources import read_image
from sensorium.stages.face.gallery import FaceGallery
from sensorium.stages.face.stage import FaceStage
from sensorium.stages.frame import Frame
from sensorium.stages.results import Detections
from sensorium.stages.results.tracks import TRACKED
from sensorium.stages.track.stage import TrackStage

#: vtest.avi frame -> a point on the walking couple's heads (full-resolution pixels, placed by eye)
COUPLE = {20: (708, 288), 60: (500, 220), 100: (508, 161), 140: (630, 127)}
PEOPLE = ("alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie")


def read_frames(path, keep):
    import cv2

    cap = cv2.VideoCapture(str(path))
    out, index = [], 0
    while index <= max(keep):
        ok, bgr = cap.read()
        if not ok:
            break
        if index in keep:
            out.append((index, cap.get(cv2.CAP_PROP_POS_MSEC), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        index += 1
    cap.release()
    return out


@pytest.fixture(scope="module")
def vtest_frames(data_dir):
    from sensorium.stages.pose.stage import PoseStage

    pose = PoseStage({"tiles": 4, "score_threshold": 0.3, "max_people": 20, "sigma_head": None, "threads": 1})
    pose.setup()
    frames = []
    for index, msec, rgb in read_frames(data_dir / "video" / "vtest.avi", set(range(16, 149, 4))):
        ((boxes, _, scores),) = pose.detect_people([rgb])
        det = Detections(boxes=boxes, scores=scores, class_id=np.zeros(len(boxes), np.int64), class_names=("person",))
        frames.append(Frame("vtest", index, image=rgb[:8, :8], meta={"pos_msec": msec}, results={"detect": det}))
    return frames


@pytest.mark.slow
def test_vtest_pedestrians_keep_their_id(vtest_frames):
    stage = TrackStage()
    ids = {}
    for frame in stage(vtest_frames):
        tracks = frame.results["track"]
        if frame.seq in COUPLE:
            centres = (tracks.boxes[:, :2] + tracks.boxes[:, 2:]) / 2
            d = np.hypot(*(centres - COUPLE[frame.seq]).T)
            k = int(np.argmin(d))
            assert d[k] < 25 and tracks.state[k] == TRACKED, (frame.seq, d[k])
            ids[frame.seq] = int(tracks.track_id[k])
    assert len(set(ids.values())) == 1, ids
    assert max(len(f.results["track"]) for f in vtest_frames) >= 3  # several pedestrians tracked at once


@pytest.fixture(scope="module")
def hamilton_frames(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("gallery") / "faces.sqlite"
    enrol = FaceStage({"recognizer": "dlib", "keep_chips": False, "threads": 1})
    photos = {p: sorted((data_dir / "faces" / "gallery" / p).iterdir()) for p in PEOPLE}
    photos["lin_manuel_miranda"] = [data_dir / "faces" / "lin-manuel-miranda.png"]
    with FaceGallery(path) as g:
        for name, files in photos.items():
            faces = enrol.analyze([read_image(f) for f in files])
            g.enroll(name, np.stack([f.embeddings[int(f.data["size"].argmax())] for f in faces]), enrol.backend_key)
    stage = FaceStage({"gallery": str(path), "keep_chips": False, "threads": 1, "identify_low_quality": True})
    keep = set(range(0, 19, 2)) | set(range(103, 171, 3))
    frames = []
    for index, msec, rgb in read_frames(data_dir / "video" / "short_hamilton_clip.mp4", keep):
        frames.append(Frame("hamilton", index, image=rgb[:8, :8], meta={"pos_msec": msec}, results={"face": stage.analyze([rgb])[0]}))
    return frames


@pytest.mark.slow
def test_hamilton_face_track_keeps_its_id_and_its_voted_name(hamilton_frames):
    stage = TrackStage({"of": "face"})
    out = {f.seq: f for f in stage(hamilton_frames)}
    # a false match on one frame alone (a 22-pixel background face; its other frames stay unknown)
    alone = out[6].results["face"].data["identity"].tolist()
    assert "alex_lacamoire" in alone, alone
    tracks = out[6].results["track"]
    k = tracks.item.tolist().index(alone.index("alex_lacamoire"))
    assert tracks.data["name"][k] is None
    voted = {n for f in out.values() for n in f.results["track"].data["name"].tolist()}
    assert voted <= {"lin_manuel_miranda", None}, voted
    # Lin-Manuel Miranda, the only face over seq 109-169: one id, and his name at seq 142
    ids = set()
    for seq in range(109, 171, 3):  # 103-106: the track starts (min_hits)
        tr = out[seq].results["track"]
        seen = tr.track_id[tr.state == TRACKED]
        assert len(seen) == 1, (seq, tr.track_id, tr.state)
        ids.add(int(seen[0]))
    assert len(ids) == 1, ids
    at142 = out[142].results["track"]
    assert at142.data["name"][at142.state == TRACKED].tolist() == ["lin_manuel_miranda"]
