"""The JSONL sink on real frames, read back as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from sensorium.pipeline.io.sinks import JsonlSink, build_sinks, frame_stem
from sensorium.pipeline.io.sinks.base import safe_name
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Gaze, Keypoints
from tests.pipeline.io.sinks.conftest import SRC, make_frames


def test_jsonl_has_every_frame_and_round_trips(written):
    out, frames, summaries = written
    lines = [json.loads(ln) for ln in (out / "frames.jsonl").read_text().splitlines()]
    assert len(lines) == len(frames) and summaries["jsonl"]["written"] == len(frames)
    for line, frame in zip(lines, frames):
        back = Frame.from_dict(line)
        assert (back.source_id, back.seq, back.errors, back.timestamp) == (frame.source_id, frame.seq, frame.errors, frame.timestamp)
        assert (back.pose is None) == (frame.pose is None)
        if frame.pose is not None:
            np.testing.assert_array_equal(back.pose, frame.pose)
        # depth is summarised, not embedded; everything else is the container itself
        depth = {n: r for n, r in frame.results.items() if isinstance(r, Depth)}
        assert set(back.results) == set(frame.results) - set(depth)
        for name in back.results:
            assert back.results[name] == frame.results[name]
        if depth:
            ((stage, result),) = depth.items()
            summary = line["depth"][stage]
            npz = summary.pop("npz")
            assert summary == result.summary()
            assert npz == f"arrays/{frame_stem(frame)}.npz" and (out / npz).is_file()
        else:
            assert "depth" not in line
    assert lines[3]["errors"] == {"depth": f"{SRC}#3: depth: sensor dropped out"}
    assert len((out / "frames.jsonl").read_text()) < 200_000  # no full depth maps in the log


def test_jsonl_names_npz_only_when_the_npz_sink_runs(data_dir: Path, tmp_path: Path):
    frame = make_frames(data_dir / "rgbd" / "redwood")[0]
    for names, npz in (("jsonl", None), ("jsonl,npz", f"arrays/{frame_stem(frame)}.npz")):
        out = tmp_path / names.replace(",", "_")
        (sink,) = [s for s in build_sinks(names, out) if isinstance(s, JsonlSink)]
        sink.write(frame)
        sink.close()
        assert json.loads((out / "frames.jsonl").read_text())["depth"]["depth"]["npz"] == npz


def _keypoints(sigma: bool) -> Keypoints:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 600, (2, 4, 2)).astype(np.float32)
    xy[1, 2] = np.nan  # a joint the model did not place
    return Keypoints(xy=xy, sigma=rng.uniform(0.5, 9, (2, 4, 2)).astype(np.float32) if sigma else None,
                     scores=rng.uniform(0, 1, (2, 4)).astype(np.float32), boxes=np.array([[1, 2, 300, 400], [5, 6, 50, 70]], np.float32),
                     names=("nose", "left_eye", "right_eye", "mouth"),
                     data={"presence": np.array([0.9, 0.4], np.float32), "world": rng.normal(size=(2, 4, 3)).astype(np.float32),
                           "track": np.array(["a", "b"], dtype=object)},
                     metadata={"skeleton": [[0, 1], [0, 2], [0, 3]], "model": "rle-pose", "sigma_source": "head" if sigma else None})


def _gaze(sigma: bool) -> Gaze:
    return Gaze(yaw_pitch=np.array([[0.3, -0.1], [-0.5, 0.2]], np.float32),
                sigma=np.array([[0.05, 0.08], [0.2, 0.1]], np.float32) if sigma else None,
                origin=np.array([[320, 200], [100, 90]], np.float32),
                data={"head_yaw_pitch_roll": np.zeros((2, 3), np.float32), "target": np.array(["face:1", ""], dtype=object)},
                metadata={"model": "gaze-rle"})


def test_jsonl_round_trips_keypoints_and_gaze_with_and_without_sigma(data_dir: Path, tmp_path: Path):
    image = cv2.cvtColor(cv2.imread(str(data_dir / "photos" / "zidane.jpg")), cv2.COLOR_BGR2RGB)
    frames = [Frame("cam", i, image=image, results={"pose": _keypoints(sigma), "gaze": _gaze(sigma)}) for i, sigma in enumerate((True, False))]
    frames.append(Frame("cam", 2, image=image, results={"pose": Keypoints.empty(), "gaze": Gaze.empty()}))
    sink = JsonlSink(tmp_path)
    for f in frames:
        sink.write(f)
    sink.close()
    lines = [json.loads(ln) for ln in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    assert lines[1]["results"]["pose"]["sigma"] is None and lines[1]["results"]["gaze"]["sigma"] is None  # null, never invented
    assert lines[0]["results"]["pose"]["sigma"] is not None
    for line, frame in zip(lines, frames):
        back = Frame.from_dict(line)
        for name in ("pose", "gaze"):
            assert back.results[name] == frame.results[name]
            assert type(back.results[name]) is type(frame.results[name])
    assert Frame.from_dict(lines[0]).results["pose"].names == ("nose", "left_eye", "right_eye", "mouth")
    assert Frame.from_dict(lines[0]).results["pose"].metadata["skeleton"] == [[0, 1], [0, 2], [0, 3]]


def _faces_frame(data_dir: Path, keep_chips: bool) -> Frame:
    from sensorium.stages.face.stage import FaceStage

    image = cv2.cvtColor(cv2.imread(str(data_dir / "faces" / "two_people.jpg")), cv2.COLOR_BGR2RGB)
    stage = FaceStage({"recognizer": "none", "threads": 1, **({"keep_chips": True} if keep_chips else {})})
    return stage([Frame("lobby cam", 7, 0.0, image=image)])[0]


def test_face_chips_are_png_files_beside_the_lines_not_inside_them(tmp_path, data_dir):
    frame = _faces_frame(data_dir, keep_chips=True)
    chips = frame.results["face"].data["chip"]
    assert chips.shape[0] == 2 and chips.dtype == np.uint8
    with JsonlSink(tmp_path) as sink:
        sink.write(frame)
    (line,) = [json.loads(ln) for ln in (tmp_path / "frames.jsonl").read_text().splitlines()]
    paths = line["results"]["face"]["data"]["chip"]["str"]
    assert paths == [f"chips/{safe_name('lobby cam')}/000007_face_{i}.png" for i in range(2)]
    for path, chip in zip(paths, chips):
        png = cv2.cvtColor(cv2.imread(str(tmp_path / path)), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(png, chip)  # PNG is lossless: the file is the crop
    back = Frame.from_dict(line)
    assert back.results["face"].data["chip"].tolist() == paths and len(back.results["face"]) == 2
    assert frame.results["face"].data["chip"] is chips  # the frame itself keeps its crops for other sinks


def test_face_chips_stay_out_of_the_jsonl_by_default(tmp_path, data_dir):
    frame = _faces_frame(data_dir, keep_chips=False)
    assert "chip" not in frame.results["face"].data and len(frame.results["face"]) == 2
    with JsonlSink(tmp_path) as sink:
        sink.write(frame)
    assert "chip" not in (tmp_path / "frames.jsonl").read_text() and not (tmp_path / "chips").exists()
