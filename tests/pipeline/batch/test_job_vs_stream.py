"""Issue #14 end to end: the same real photos through ``batch`` (Ray Data, mixed-size batches)
and ``run`` (the stream engine's micro-batches) give each photo its single-frame results, for
detect, face and embed, on a real local Ray.

Tolerance: boxes and landmarks within 1e-2 px, scores, embeddings and vectors within 1e-4
(float32 results through JSON on the batch side; onnxruntime on other batch sizes elsewhere).
"""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from sensorium.pipeline.batch.job import BatchStage, iter_rows, run_batch
from sensorium.pipeline.io.sources import ImageFilesSource
from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.stream.engine import Pipeline
from sensorium.stages.base import get_stage_class
from sensorium.stages.frame import Frame
from sensorium.stages.results.registry import result_from_dict

PHOTOS = ("photos/bus.jpg", "photos/zidane.jpg", "faces/two_people.jpg", "faces/lin-manuel-miranda.png",
          "faces/obama_partial_face.jpg", "faces/gallery/biden/biden.jpg")
SMALL_CLIP = {"embed_dim": 64, "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
              "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}
#: the array fields compared per stage, and their tolerance
FIELDS = {"detect": {"boxes": 1e-2, "scores": 1e-4, "class_id": 0},
          "face": {"boxes": 1e-2, "landmarks": 1e-2, "scores": 1e-4, "embeddings": 1e-4},
          "embed": {"boxes": 1e-2, "vectors": 1e-4}}


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_dir):
    """The photos, named in an order that interleaves their sizes."""
    out = tmp_path_factory.mktemp("photos")
    for i, rel in enumerate(PHOTOS):
        shutil.copy(data_dir / rel, out / f"{i:02d}_{(data_dir / rel).name}")
    return out


@pytest.fixture(scope="module")
def options(tmp_path_factory):
    clip = tmp_path_factory.mktemp("clip") / "small.json"
    clip.write_text(json.dumps(SMALL_CLIP))
    return {"detect": {"score_threshold": 0.3}, "face": {"recognizer": "dlib", "keep_chips": False},
            "embed": {"model": None, "config_json": str(clip)}}


@pytest.fixture(scope="module")
def single(folder, options):
    """Each photo's results with the stages run in this process, one frame at a time."""
    stages = [get_stage_class(name)(opts) for name, opts in options.items()]
    out = {}
    for path in sorted(folder.iterdir()):
        frames = [Frame(path.name, 0, image=np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]))]
        for stage in stages:
            frames = stage(frames)
        assert frames[0].ok, frames[0].errors
        out[path.name] = frames[0].results
    assert sum(len(r["detect"]) for r in out.values()) > 0 and sum(len(r["face"]) for r in out.values()) >= 5
    return out


def assert_same(got, ref, what: str) -> None:
    for stage, fields in FIELDS.items():
        g, r = got[stage], ref[stage]
        assert len(g) == len(r), (what, stage, len(g), len(r))
        for name, tol in fields.items():
            a, b = getattr(g, name), getattr(r, name)
            assert (a is None) == (b is None), (what, stage, name)
            if a is not None:
                np.testing.assert_allclose(a, b, atol=tol, rtol=0, err_msg=f"{what}: {stage}.{name}")


def test_batch_job_gives_every_photo_its_single_frame_results(ray_cluster, folder, options, single, tmp_path):
    stages = [BatchStage(name, opts, batch_size=len(PHOTOS), num_cpus=0.5) for name, opts in options.items()]
    summary = run_batch(folder, stages, tmp_path / "out", build_index=False)
    assert summary.written == len(PHOTOS) and summary.failed == 0
    rows = list(iter_rows(tmp_path / "out"))
    assert len(rows) == len(PHOTOS)
    for row in rows:
        results = {k: result_from_dict(v) for k, v in json.loads(row["results"]).items()}
        name = row["path"].rsplit("/", 1)[-1]
        assert_same(results, single[name], f"batch {name}")


def test_stream_run_gives_every_photo_its_single_frame_results(ray_cluster, folder, options, single):
    # a long wait lets each call gather several photos of different sizes
    specs = tuple(StageSpec(name, opts, num_cpus=0.5, max_batch=4, max_wait_ms=2000) for name, opts in options.items())
    with Pipeline(PipelineConfig(stages=specs, max_in_flight=len(PHOTOS))) as p:
        frames = list(p.stream([ImageFilesSource.from_folder(folder, source_id="photos")]))
        batches = p.metrics.stage_summary()
    assert len(frames) == len(PHOTOS) and all(f.ok for f in frames), [f.errors for f in frames if not f.ok]
    print("mean photos per stage call:", {s: batches[s]["mean_batch"] for s in options})
    assert max(batches[s]["mean_batch"] for s in options) > 1, f"no stage call held two photos: {batches}"
    names = sorted(single)
    for f in frames:
        assert_same(f.results, single[names[f.seq]], f"stream {names[f.seq]}")
