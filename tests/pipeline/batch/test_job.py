"""Batch jobs on a real local Ray (Ray Data): every good image exactly once, every bad one in
the failure report, and an interrupted job (the driver killed mid-run) resumed to completion."""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.models.data.shapes import ShapesConfig, make_image
from sensorium.pipeline.batch.job import FAILURES, PARTS, BatchStage, done_paths, iter_rows, list_inputs, plan_actors, run_batch
from sensorium.stages.base import Stage, register_stage
from sensorium.stages.results import Embeddings

N_GOOD = 240


def _png_bomb(w: int = 65535, h: int = 65535) -> bytes:
    """A complete PNG of a few dozen bytes whose header declares w x h (issue 12: OpenCV raised
    cv2.error on it, which aborted the whole job)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """240 generated images, 4 corrupt files and one path that cannot be read (a dangling link)."""
    root = tmp_path_factory.mktemp("collection")
    shapes = ShapesConfig(size=96, min_scale=10, max_scale=60)
    for k in range(3):
        (root / f"sub{k}").mkdir()
    for i in range(N_GOOD):
        img, _, _ = make_image(77, i, shapes)
        cv2.imwrite(str(root / f"sub{i % 3}" / f"img{i:04d}.png"), img[..., ::-1])
    (root / "bad_text.jpg").write_bytes(b"this is not a jpeg")
    (root / "bad_empty.png").write_bytes(b"")
    good = cv2.imencode(".jpg", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
    (root / "bad_cut.jpg").write_bytes(good[: len(good) // 2])
    (root / "bad_header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (root / "bad_bomb.png").write_bytes(_png_bomb())
    os.symlink(root / "does-not-exist.png", root / "gone.png")
    bad = {str(root / n) for n in ("bad_text.jpg", "bad_empty.png", "bad_cut.jpg", "bad_header.png", "bad_bomb.png", "gone.png")}
    return root, bad


def _cli(*args):
    return [sys.executable, "-c", "from sensorium.deploy.cli import app; app()", *args]


def _check_complete(out: Path, root: Path, bad: set[str]):
    paths = [r["path"] for r in iter_rows(out)]
    counts = Counter(paths)
    assert max(counts.values()) == 1, f"duplicate rows: {[p for p, c in counts.items() if c > 1][:3]}"
    fails = [json.loads(line) for line in (out / FAILURES).read_text().splitlines()]
    assert Counter(f["path"] for f in fails) == Counter({p: 1 for p in bad})
    assert all(f["reason"] for f in fails)
    assert set(paths) == set(list_inputs(root)) - bad and len(paths) == N_GOOD


def _batch_here(args: list[str]) -> dict:
    """``sensorium batch`` in this process, on the tests' shared Ray: its JSON summary."""
    from typer.testing import CliRunner

    from sensorium.deploy.cli import app

    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output[-3000:] + repr(r.exception)
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_interrupted_job_resumes_to_a_complete_result(ray_cluster, collection, tmp_path):
    """The first run is a driver process of its own on the tests' Ray, SIGKILLed mid-run (no
    clean-up: Ray ends its job, and the job's actors, when the driver's connection drops); the
    resumed runs read only the output folder it left, so they run in this process.

    Not a local Ray of its own for the first run: that is a second cluster starting beside the
    tests' one, and on a loaded 2-core machine its start can fail: ``ray.init`` raises when the
    raylet has not registered within 30 s (Ray's fixed bound), and the process exits with code 1
    before it writes a part (the symptom of this test's flake under load). What is tested is
    the resumption, not Ray's start."""
    root, bad = collection
    out = tmp_path / "out"
    args = ["batch", "--input", str(root), "--stages", "detect", "--output", str(out), "--batch-size", "8",
            "--part-rows", "8", "--task-images", "8", "--set", "detect.threads=1",
            "--ray-address", ray_cluster.get_runtime_context().gcs_address]
    log = tmp_path / "first.log"
    with open(log, "w") as output:  # a file, not a pipe nobody reads while it runs (a full pipe would block the driver)
        first = subprocess.Popen(_cli(*args), stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 400
    while time.time() < deadline and first.poll() is None:
        parts = list((out / PARTS).glob("part-*.parquet")) if (out / PARTS).is_dir() else []
        if len(parts) >= 2:
            break
        time.sleep(0.2)
    assert first.poll() is None, f"the job ended (exit code {first.returncode}) before it could be interrupted: " + log.read_text()[-3000:]
    os.killpg(first.pid, signal.SIGKILL)  # the driver, mid-run
    first.wait(timeout=60)
    good, failed = done_paths(out)
    assert 0 < len(good) < N_GOOD, "the kill should have left the job part-done"
    summary = _batch_here(args)
    assert summary["already_done"] == len(good) + len(failed) and summary["written"] == N_GOOD - len(good)
    _check_complete(out, root, bad)
    rows = list(iter_rows(out))
    dets = json.loads(rows[0]["results"])["detect"]
    assert dets["kind"] == "detections"
    assert _batch_here(args)["written"] == 0  # nothing left to do
    _check_complete(out, root, bad)


def test_a_cut_off_failure_line_is_dropped_and_redone(tmp_path):
    (tmp_path / FAILURES).write_text(f'{{"path": "{tmp_path}/a.jpg", "stage": "source", "reason": "x"}}\n{{"path": "b.j')
    good, bad = done_paths(tmp_path)
    assert bad == {str(tmp_path / "a.jpg")} and (tmp_path / FAILURES).read_text().endswith("\n") and "b.j" not in (tmp_path / FAILURES).read_text()


def test_list_inputs(tmp_path):
    (tmp_path / "a").mkdir()
    for n in ("a/1.png", "a/2.JPG", "a/notes.txt", "3.webp"):
        (tmp_path / n).write_bytes(b"x")
    assert [Path(p).name for p in list_inputs(tmp_path)] == ["3.webp", "1.png", "2.JPG"]
    assert [Path(p).name for p in list_inputs(str(tmp_path / "a" / "*"))] == ["1.png", "2.JPG"]
    (tmp_path / "list.txt").write_text(f"{tmp_path}/a/1.png\n\n/missing.png\n{tmp_path}/./a//1.png\n")
    assert list_inputs(tmp_path / "list.txt") == ["/missing.png", f"{tmp_path}/a/1.png"]
    assert list_inputs(["s3://b/p/x.jpg", "S3://b//p/./x.jpg", "s3://b/p/y.jpg"]) == ["s3://b/p/x.jpg", "s3://b/p/y.jpg"]


@pytest.fixture
def batch_in(data_dir, tmp_path, monkeypatch):
    """``batch_in/`` under the working directory: three real photos, the PNG bomb and a corrupt JPEG."""
    folder = tmp_path / "batch_in"
    folder.mkdir()
    for name in ("photos/bus.jpg", "photos/zidane.jpg", "faces/two_people.jpg"):
        (folder / Path(name).name).write_bytes((data_dir / name).read_bytes())
    (folder / "bomb.png").write_bytes(_png_bomb())
    (folder / "corrupt.jpg").write_bytes(b"a text file named .jpg, no image at all " * 20)
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.mark.slow
def test_bad_files_fail_alone_and_a_rerun_by_another_spelling_redoes_nothing(ray_cluster, batch_in, tmp_path):
    """Issue 12: the bomb aborted the whole job (no parts, no failures.jsonl, every rerun the
    same); and ``batch_in/*`` then ``/abs/batch_in/*`` into one output wrote everything twice."""
    stages = [BatchStage("face", {"threads": 1}, batch_size=4)]
    first = run_batch("batch_in/*", stages, "out", build_index=False)
    assert (first.total, first.written, first.failed) == (5, 3, 2)
    fails = {Path(f["path"]).name: f for f in map(json.loads, (tmp_path / "out" / FAILURES).read_text().splitlines())}
    assert sorted(fails) == ["bomb.png", "corrupt.jpg"] and {f["stage"] for f in fails.values()} == {"source"}
    assert "65535x65535 is above OpenCV's limit" in fails["bomb.png"]["reason"] and "not a decodable image" in fails["corrupt.jpg"]["reason"]
    assert sorted(r["path"] for r in iter_rows(tmp_path / "out")) == sorted(str(batch_in / n) for n in ("bus.jpg", "two_people.jpg", "zidane.jpg"))
    again = run_batch(f"{batch_in}/*", stages, tmp_path / "out", build_index=False)  # absolute now; the bad ones are not retried
    assert (again.total, again.skipped, again.written, again.failed) == (5, 5, 0, 0)
    one = run_batch(["batch_in/bus.jpg", "./batch_in/bus.jpg", f"{tmp_path}/batch_in/../batch_in/bus.jpg"], stages, "one", build_index=False)
    assert (one.total, one.written) == (1, 1) and [r["path"] for r in iter_rows(tmp_path / "one")] == [str(batch_in / "bus.jpg")]


# the planner builds each stage's config (bad options fail on the driver): embed needs weights named
EMBED = {"weights": "clip.pt"}


@pytest.mark.parametrize(
    ("stages", "cluster", "expected", "error"),
    [
        ([BatchStage("detect")], {"CPU": 2.0}, [1.0], None),
        ([BatchStage("detect"), BatchStage("face"), BatchStage("embed", EMBED)], {"CPU": 2.0}, [2 / 3] * 3, None),  # shared, none left pending
        ([BatchStage("detect", actors=2), BatchStage("embed", EMBED, num_cpus=1.0)], {"CPU": 2.0}, [0.5, 1.0], None),
        ([BatchStage("detect", actors=2, num_cpus=1.0)], {"CPU": 2.0}, [1.0], None),
        ([BatchStage("detect", actors=3, num_cpus=1.0)], {"CPU": 2.0}, None, "num_cpus=3 together; the cluster has CPU=2"),
        ([BatchStage("detect", num_cpus=2.0), BatchStage("embed", EMBED)], {"CPU": 2.0}, None, "lower num_cpus or actors"),
    ],
)
def test_actor_resources_are_shared_or_refused(stages, cluster, expected, error):
    if error is None:
        assert [c for c, _g in plan_actors(stages, cluster)] == pytest.approx(expected)
    else:
        with pytest.raises(ValueError, match=error):
            plan_actors(stages, cluster)


CUDA = {"providers": "cuda,cpu"}


@pytest.mark.parametrize(
    ("stages", "cluster", "expected", "error"),
    [
        ([BatchStage("detect"), BatchStage("embed", EMBED)], {"CPU": 2.0}, [0.0, 0.0], None),  # CPU machine: none asked
        ([BatchStage("detect", CUDA)], {"CPU": 2.0}, [0.0], None),  # a CUDA provider on a cluster without GPUs: 0
        ([BatchStage("detect", CUDA), BatchStage("embed", EMBED)], {"CPU": 8.0, "GPU": 1.0}, [1.0, 0.0], None),  # embed stays on CPU
        ([BatchStage("detect", CUDA, actors=2), BatchStage("embed", {"providers": ("tensorrt", "cuda", "cpu"), **EMBED})],
         {"CPU": 8.0, "GPU": 1.0}, [1 / 3, 1 / 3], None),  # three GPU actors share one GPU
        ([BatchStage("detect", CUDA), BatchStage("embed", {**CUDA, **EMBED}, num_gpus=0.5)], {"CPU": 8.0, "GPU": 1.0}, [0.5, 0.5], None),
        ([BatchStage("detect", num_gpus=1.0)], {"CPU": 2.0}, None, "num_gpus=1 together; the cluster has GPU=0"),
        ([BatchStage("detect", CUDA), BatchStage("embed", EMBED, num_gpus=1.0)], {"CPU": 8.0, "GPU": 1.0}, None, "no GPU left for \\['detect'\\]"),
    ],
)
def test_gpus_go_to_stages_on_gpu_providers(stages, cluster, expected, error):
    if error is None:
        assert [g for _c, g in plan_actors(stages, cluster)] == pytest.approx(expected)
    else:
        with pytest.raises(ValueError, match=error):
            plan_actors(stages, cluster)


@pytest.mark.slow
def test_two_stages_pass_images_and_results_along(ray_cluster, tmp_path):
    """detect then embed (a small random open_clip config): the first stage decodes, the second
    gets the images and the detections; a corrupt file fails once, in the source."""
    from sensorium.pipeline.batch.job import run_batch

    small = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
             "text_cfg": {"context_length": 8, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}

    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(10):
        img, _, _ = make_image(9, i, ShapesConfig(size=80, min_scale=20, max_scale=60))
        cv2.imwrite(str(root / f"img{i}.png"), img[..., ::-1])
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(small))
    stages = [BatchStage("detect", {"threads": 1}, batch_size=4), BatchStage("embed", {"config_json": str(cfg)}, batch_size=3)]
    summary = run_batch(root, stages, tmp_path / "out", build_index=False)
    assert (summary.written, summary.failed) == (10, 1)
    rows = list(iter_rows(tmp_path / "out"))
    assert sorted(Path(r["path"]).name for r in rows) == sorted(f"img{i}.png" for i in range(10))
    for r in rows:
        res = json.loads(r["results"])
        assert set(res) == {"detect", "embed"} and (r["width"], r["height"]) == (80, 80) and len(r["embedding"]) == small["embed_dim"]
    (fail,) = [json.loads(line) for line in (tmp_path / "out" / FAILURES).read_text().splitlines()]
    assert fail["path"].endswith("bad.png") and fail["stage"] == "source" and "truncated PNG" in fail["reason"]


@pytest.mark.slow
def test_faces_in_a_batch_job_on_real_photos(ray_cluster, data_dir, tmp_path):
    """The face stage over the real gallery photos: every photo a row with its faces (boxes,
    5 landmarks), and no aligned crops in the rows unless asked for (they would dwarf them)."""
    from sensorium.pipeline.batch.job import run_batch
    from sensorium.stages.results import result_from_dict

    photos = sorted((data_dir / "faces" / "gallery").glob("*/*.jpg"))
    out = tmp_path / "out"
    summary = run_batch([str(p) for p in photos], [BatchStage("face", {"threads": 1}, batch_size=4)], out, build_index=False)
    assert (summary.written, summary.failed) == (len(photos), 0)
    rows = list(iter_rows(out))
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in photos)
    for r in rows:
        faces = result_from_dict(json.loads(r["results"])["face"])
        assert len(faces) >= 1 and faces.landmarks.shape[1:] == (5, 2), r["path"]
        assert "chip" not in faces.data, "aligned crops leaked into the batch rows"
    # options as the typed config has them, defaults left out: keep_chips is off by default (and in batch)
    assert json.loads((out / "job.json").read_text())["stages"][0]["options"] == {"threads": 1}


class _Bright(Stage):
    """Mean brightness as a one-vector Embeddings (so it also gives an image vector)."""

    name = "batch-bright"

    def process(self, frames):
        return [Embeddings(vectors=np.array([[f.image.mean(), 1.0]], np.float32) / np.hypot(f.image.mean(), 1.0), model="m") for f in frames]

    @classmethod
    def image_vector(cls, result):
        return result.vectors[0]


class _Half(Stage):
    """Needs the brightness: fails on black images (no result to read), halves the rest."""

    name = "batch-half"
    requires = ("batch-bright",)

    def process(self, frames):
        if any(not f.image.any() for f in frames):
            raise ValueError("black")
        return [Embeddings(vectors=f.results["batch-bright"].vectors * 0.5, model="m") for f in frames]


register_stage(_Bright)
register_stage(_Half)


def test_stages_pass_results_as_objects_and_json_is_written_once(tmp_path):
    """The two actors of a job, in process: the dataset between them carries pickled deltas (no
    JSON); the last one gives each stage's result as JSON, the image vector, and the failure."""
    from sensorium.pipeline.batch.job import _rows, _StageActor
    from sensorium.pipeline.batch.storage import Storage
    from sensorium.pipeline.runner import Delta

    paths = []
    for i, v in enumerate((40, 0, 200)):
        paths.append(str(tmp_path / f"{i}.png"))
        cv2.imwrite(paths[-1], np.full((6, 8, 3), v, np.uint8))
    batch = {"path": np.array(paths + [str(tmp_path / "missing.png")], dtype=object)}
    mid = _StageActor("batch-bright", {}, Storage(), last=False, chunk=2)(batch)
    assert set(mid) == {"path", "width", "height", "error", "deltas", "image"}
    first = [pickle.loads(b) for b in mid["deltas"]]
    assert all(isinstance(d, Delta) for ds in first[:3] for d in ds) and first[3] == []
    out = _StageActor("batch-half", {}, None, last=True, chunk=3)(mid)
    assert "image" not in out and "deltas" not in out
    good, bad = _rows(out)
    assert [r["path"] for r in good] == [paths[0], paths[2]]
    assert sorted((b["path"], b["stage"]) for b in bad) == [(paths[1], "batch-half"), (str(tmp_path / "missing.png"), "source")]
    for r, v in zip(good, (40.0, 200.0)):
        bright = Embeddings(vectors=np.array([[v, 1.0]], np.float32) / np.hypot(v, 1.0), model="m")
        assert r["results"] == json.dumps({"batch-bright": bright.to_dict(), "batch-half": Embeddings(vectors=bright.vectors * 0.5, model="m").to_dict()})
        assert (r["width"], r["height"]) == (8, 6) and r["embedding"] == bright.vectors[0].tolist()


def test_an_ordered_stage_is_refused_before_the_output_is_touched(tmp_path):
    from sensorium.stages.config import ConfigError

    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="'zones' keep state across one source's frames .* `sensorium run` over a video or camera"):
        run_batch([str(tmp_path / "a.jpg")], [BatchStage("detect"), BatchStage("zones", {"tracks": "detect"})], out)
    assert not out.exists()  # no job.json to block the corrected rerun
