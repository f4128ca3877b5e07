"""The face stage in the streaming pipeline on a real local Ray: every frame of a cut of the
real Hamilton clip (every third frame, losslessly re-encoded: the same shots and people), a
gallery of the 5 enrolled people plus Lin-Manuel Miranda (who is in the clip), and an image
folder with a truncated JPEG among good photos."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.stream.engine import Pipeline
from sensorium.pipeline.io.sources import ImageFilesSource, VideoFileSource, read_image
from sensorium.stages.face.stage import FaceStage
from sensorium.stages.face.gallery import FaceGallery

PEOPLE = ("alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie")


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, data_dir):
    path = tmp_path_factory.mktemp("gallery") / "faces.sqlite"
    stage = FaceStage({"recognizer": "dlib", "keep_chips": False})
    photos = {p: sorted((data_dir / "faces" / "gallery" / p).iterdir()) for p in PEOPLE}
    photos["lin_manuel_miranda"] = [data_dir / "faces" / "lin-manuel-miranda.png"]
    with FaceGallery(path) as g:
        for name, files in photos.items():
            faces = stage.analyze([read_image(f) for f in files])
            g.enroll(name, np.stack([f.embeddings[int(f.data["size"].argmax())] for f in faces]), stage.backend_key)
    return path


#: every STRIDE-th frame of the 275-frame clip is kept: all its shots (Lin-Manuel Miranda, a stretch
#: without him, him again, then a group of up to 6 faces where a false match could occur) at a third of the cost
STRIDE = 3


@pytest.fixture(scope="module")
def hamilton_cut(tmp_path_factory, data_dir):
    """Every STRIDE-th frame of the clip in a lossless FFV1 AVI (decoded as the original's frames,
    bit for bit) and how many frames it holds."""
    cap = cv2.VideoCapture(str(data_dir / "video" / "short_hamilton_clip.mp4"))
    fps, size = cap.get(cv2.CAP_PROP_FPS), (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    path = tmp_path_factory.mktemp("hamilton") / "cut.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps / STRIDE, size)
    read = kept = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if read % STRIDE == 0:
            writer.write(bgr)
            kept += 1
        read += 1
    cap.release()
    writer.release()
    assert read >= 270, f"the clip has {read} frames"
    return path, kept


@pytest.mark.slow
def test_every_frame_of_a_cut_of_the_hamilton_clip(ray_cluster, gallery, hamilton_cut):
    video, n_frames = hamilton_cut
    cfg = PipelineConfig(stages=(StageSpec("face", {"gallery": str(gallery), "keep_chips": False, "threads": 1},
                                           replicas=2, num_cpus=1, max_batch=4),), max_in_flight=8)
    with Pipeline(cfg) as p:
        frames = list(p.stream([VideoFileSource(video, source_id="hamilton")]))
    assert [f.seq for f in frames] == list(range(n_frames))  # every frame, in order
    assert all(f.ok for f in frames), [f.errors for f in frames if not f.ok][:3]
    faces = [f.results["face"] for f in frames]
    with_face = sum(len(x) > 0 for x in faces)
    named = [n for x in faces for n in x.data["identity"] if n is not None]
    lmm_frames = sum("lin_manuel_miranda" in list(x.data["identity"]) for x in faces)
    # a face is visible in every frame of this clip; nobody of the 5-person gallery is in it
    assert with_face == len(frames)
    assert set(named) <= {"lin_manuel_miranda"}, f"false matches: {sorted(set(named) - {'lin_manuel_miranda'})}"
    assert lmm_frames >= 0.3 * len(frames)


def test_truncated_jpeg_between_good_photos(ray_cluster, data_dir, tmp_path, gallery):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(data_dir / "faces" / "two_people.jpg", folder / "a.jpg")
    (folder / "b.jpg").write_bytes((data_dir / "faces" / "two_people.jpg").read_bytes()[:20000])
    shutil.copy(data_dir / "faces" / "obama_partial_face.jpg", folder / "c.jpg")
    cfg = PipelineConfig(stages=(StageSpec("face", {"gallery": str(gallery), "threads": 1}, num_cpus=1, max_batch=4),))
    with Pipeline(cfg) as p:
        frames = list(p.stream([ImageFilesSource.from_folder(folder, source_id="imgs")]))
    assert len(frames) == 3
    a, b, c = frames
    assert sorted(a.results["face"].data["identity"]) == ["biden", "obama"]
    assert "face" not in b.results and "b.jpg" in b.errors["source"]
    assert list(c.results["face"].data["identity"]) == ["obama"]
