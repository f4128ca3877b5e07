"""Keypoints and Gaze through a real local Ray batch job: every field (sigma as an array or
None, names, per-item data, metadata) comes back out of the Parquet rows equal to what the
stages made. The stages are tiny ones registered here (the pose and gaze stages land apart):
they only have to return the containers, computed from the real photos' pixels."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from sensorium.pipeline.batch.job import BatchStage, iter_rows, run_batch
from sensorium.pipeline.io.images import read_image
from sensorium.stages.base import Stage, register_stage
from sensorium.stages.frame import Frame
from sensorium.stages.results import Gaze, Keypoints, result_from_dict

PHOTOS = ("photos/zidane.jpg", "photos/bus.jpg", "faces/two_people.jpg", "faces/lin-manuel-miranda.png",
          "faces/obama_partial_face.jpg")
NAMES = ("nose", "left_eye", "right_eye", "left_wrist", "right_wrist")


def landmarks_of(image: np.ndarray) -> Keypoints:
    """Keypoints at each instance's brightest pixels: one instance per 500 px of width (none
    below), sigma only on images wider than 800 px (elsewhere None, as without a trained head),
    the last joint of each instance not placed (NaN)."""
    h, w = image.shape[:2]
    n = w // 500
    if n == 0:
        return Keypoints.empty(names=NAMES, metadata={"skeleton": [[0, 1], [0, 2]]})
    grey = image.mean(axis=-1)
    xy = np.zeros((n, len(NAMES), 2), np.float32)
    for i in range(n):
        strip = grey[:, i * w // n:(i + 1) * w // n]
        best = np.argsort(strip, axis=None)[-len(NAMES):]
        ys, xs = np.unravel_index(best, strip.shape)
        xy[i] = np.stack([xs + i * w // n, ys], axis=1)
    xy[:, -1] = np.nan
    sigma = (1.0 + xy % 7).astype(np.float32) if w > 800 else None
    scores = (xy[..., 0] % 1 + 0.5 + np.arange(len(NAMES)) / 10).astype(np.float32)
    return Keypoints(xy=xy, sigma=sigma, scores=np.nan_to_num(scores), boxes=np.array([[i * w / n, 0, (i + 1) * w / n, h] for i in range(n)], np.float32),
                     names=NAMES, data={"presence": np.linspace(0.5, 1, n).astype(np.float32),
                                        "world": np.nan_to_num(xy / 1000.0)[..., [0, 1, 1]],
                                        "label": np.array([f"person {i}" for i in range(n)], dtype=object)},
                     metadata={"skeleton": [[0, 1], [0, 2], [1, 3], [2, 4]], "model": "brightest-pixels"})


def gaze_of(image: np.ndarray, kps: Keypoints) -> Gaze:
    """A gaze per instance from between its eyes, yaw and pitch from the mean colour; sigma as the keypoints'."""
    n = len(kps)
    origin = kps.xy[:, 1:3].mean(axis=1) if n else np.zeros((0, 2), np.float32)
    r, g, b = (float(c) / 255 for c in image.reshape(-1, 3).mean(axis=0))
    yaw_pitch = np.tile(np.array([[r - b, g - 0.5]], np.float32), (n, 1))
    sigma = None if kps.sigma is None else np.full((n, 2), 0.1, np.float32)
    return Gaze(yaw_pitch=yaw_pitch, sigma=sigma, origin=origin.astype(np.float32),
                data={"target": np.array(["" for _ in range(n)], dtype=object)}, metadata={"model": "mean-colour"})


class _Landmarks(Stage):
    name = "batch-landmarks"

    def process(self, frames):
        return [landmarks_of(f.image) for f in frames]


class _Gaze(Stage):
    name = "batch-gaze"
    requires = ("batch-landmarks",)

    def process(self, frames):
        return [gaze_of(f.image, f.results["batch-landmarks"]) for f in frames]


register_stage(_Landmarks)
register_stage(_Gaze)


@pytest.fixture(scope="module", autouse=True)
def _ship_test_stages(ray_cluster):
    # Ray workers cannot import this test module by name: ship its classes by value.
    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield


@pytest.mark.slow
def test_keypoints_and_gaze_round_trip_through_a_batch_job(data_dir, tmp_path):
    paths = [str(data_dir / p) for p in PHOTOS]
    stages = [BatchStage("batch-landmarks", batch_size=2), BatchStage("batch-gaze", batch_size=3)]
    summary = run_batch(paths, stages, tmp_path / "out", build_index=False)
    assert (summary.written, summary.failed) == (len(PHOTOS), 0)
    rows = {r["path"]: r for r in iter_rows(tmp_path / "out")}
    assert sorted(rows) == sorted(paths)
    kinds = set()
    for path in paths:
        image = read_image(path)
        want_kps = landmarks_of(image)
        want_gaze = gaze_of(image, want_kps)
        raw = json.loads(rows[path]["results"])
        kps, gaze = result_from_dict(raw["batch-landmarks"]), result_from_dict(raw["batch-gaze"])
        assert isinstance(kps, Keypoints) and isinstance(gaze, Gaze)
        assert kps == want_kps, path
        assert gaze == want_gaze, path
        assert kps.names == NAMES and kps.metadata["skeleton"] == want_kps.metadata["skeleton"]
        if want_kps.sigma is None:
            assert raw["batch-landmarks"]["sigma"] is None and raw["batch-gaze"]["sigma"] is None  # null, never invented
        kinds.add((len(kps) > 0, kps.sigma is not None))
    # the photos cover: instances with sigma, instances without, and none at all
    assert kinds == {(True, True), (True, False), (False, False)}


def test_the_stages_here_give_what_the_job_is_checked_on(data_dir):
    """The expectations above are not vacuous: the photos give instances, NaN joints and both kinds of sigma."""
    frames = [Frame(p, i, image=read_image(data_dir / p)) for i, p in enumerate(PHOTOS)]
    kps = [landmarks_of(f.image) for f in frames]
    assert [len(k) for k in kps] == [2, 1, 2, 1, 0]
    assert any(k.sigma is None and len(k) for k in kps) and any(k.sigma is not None for k in kps)
    assert all(np.isnan(k.xy[:, -1]).all() for k in kps if len(k))
