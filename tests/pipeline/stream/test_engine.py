"""The Ray engine on a real local Ray cluster: order, backpressure, drops, failures.

The stages here are small real stages written for the tests (sleeping or failing on chosen
frames) so that out-of-order completion, slow consumers and dying workers happen on purpose.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.stream.engine import Pipeline
from sensorium.pipeline.io.sources import CaptureSource, ImageFilesSource
from sensorium.stages.base import Stage, register_stage
from sensorium.stages.config import StageConfig
from sensorium.stages.results import Embeddings


from dataclasses import dataclass


@dataclass(frozen=True)
class ProbeConfig(StageConfig):
    slow_even_ms: float = 0.0   # even seqs sleep this long (odd ones don't): forces out-of-order completion
    sleep_ms: float = 0.0       # every frame
    fail_seq: int = -1          # raise ValueError on this seq
    crash_seq: int = -1         # kill the worker process on this seq


class Probe(Stage):
    """Records (seq, worker pid, completion time) per frame; sleeps or fails on purpose."""

    name = "probe"
    Config = ProbeConfig

    def process(self, frames):
        out = []
        for f in frames:
            if f.seq == self.config.crash_seq and f.source_id != "survivor":
                os._exit(3)
            if f.seq == self.config.fail_seq:
                raise ValueError(f"refusing seq {f.seq}")
            time.sleep((self.config.sleep_ms + (self.config.slow_even_ms if f.seq % 2 == 0 else 0.0)) / 1e3)
            out.append(Embeddings(vectors=np.array([[f.seq, os.getpid(), time.time()]], dtype=np.float32), metadata={"done": time.time()}))
        return out


class Second(Stage):
    """A second stage that needs the probe's result (checks chaining and ``requires``)."""

    name = "second"
    requires = ("probe",)

    def process(self, frames):
        return [Embeddings(vectors=f.results["probe"].vectors[:, :1] * 2) for f in frames]


register_stage(Probe)
register_stage(Second)


@pytest.fixture(scope="module", autouse=True)
def _ship_test_stages(ray_cluster):
    # Ray workers cannot import this test module by name: ship its classes by value.
    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, data_dir) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for i in range(16):
        shutil.copy(data_dir / "photos" / "bus.jpg", folder / f"img_{i:02d}.jpg")
    return folder


def _run(cfg, sources, **kw):
    with Pipeline(cfg) as p:
        frames = list(p.stream(sources, **kw))
    return frames, p


def test_order_kept_under_parallel_actors(image_folder):
    cfg = PipelineConfig(stages=(StageSpec("probe", {"slow_even_ms": 60}, replicas=2, num_cpus=0.5, max_batch=1),
                                 StageSpec("second", num_cpus=0.25, max_batch=4)), max_in_flight=8)
    frames, _ = _run(cfg, [ImageFilesSource.from_folder(image_folder, source_id="a")])
    assert [f.seq for f in frames] == list(range(16))
    assert all(f.ok for f in frames), [f.errors for f in frames if not f.ok]
    pids = {int(f.results["probe"].vectors[0, 1]) for f in frames}
    assert len(pids) == 2, "both replicas should have worked"
    done = [f.results["probe"].metadata["done"] for f in frames]
    assert done != sorted(done), "completion was in order: the test did not exercise reordering"
    assert [float(f.results["second"].vectors[0, 0]) for f in frames] == [2.0 * i for i in range(16)]


def test_two_sources_each_in_order(image_folder):
    cfg = PipelineConfig(stages=(StageSpec("probe", {"slow_even_ms": 20}, replicas=2, num_cpus=0.5, max_batch=3),), max_in_flight=6)
    srcs = [ImageFilesSource.from_folder(image_folder, source_id="a"), ImageFilesSource.from_glob(str(image_folder / "*.jpg"), source_id="b")]
    frames, _ = _run(cfg, srcs)
    for sid in ("a", "b"):
        assert [f.seq for f in frames if f.source_id == sid] == list(range(16))


def test_backpressure_bounds_in_flight(image_folder):
    cfg = PipelineConfig(stages=(StageSpec("probe", {"sleep_ms": 15}, num_cpus=0.5, max_batch=2),), max_in_flight=3)
    frames, p = _run(cfg, [ImageFilesSource.from_folder(image_folder, source_id="a")])
    assert len(frames) == 16
    assert p.metrics.max_in_flight_seen == 3  # reached, never exceeded


def test_batches_form_under_load(image_folder):
    cfg = PipelineConfig(stages=(StageSpec("probe", {"sleep_ms": 10}, num_cpus=0.5, max_batch=4, max_wait_ms=50, calls_per_actor=1),), max_in_flight=16)
    _, p = _run(cfg, [ImageFilesSource.from_folder(image_folder, source_id="a")])
    summary = p.metrics.stage_summary()["probe"]
    assert summary["mean_batch"] > 2.0, summary


def test_bad_items_keep_good_neighbours(image_folder, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(image_folder, folder)
    (folder / "img_05.jpg").write_bytes(b"this is not a jpeg")
    cfg = PipelineConfig(stages=(StageSpec("probe", {"fail_seq": 9}, num_cpus=0.5, max_batch=4, max_wait_ms=30),
                                 StageSpec("second", num_cpus=0.25)), max_in_flight=8)
    frames, p = _run(cfg, [ImageFilesSource.from_folder(folder, source_id="a")])
    assert [f.seq for f in frames] == list(range(16))
    bad5, bad9 = frames[5], frames[9]
    assert "img_05.jpg" in bad5.errors["source"] and "probe" not in bad5.results
    assert "refusing seq 9" in bad9.errors["probe"] and "a#9" in bad9.errors["probe"]
    assert "probe" in bad9.errors["second"]  # the dependent stage says why it could not run
    good = [f for f in frames if f.seq not in (5, 9)]
    assert all("second" in f.results and f.ok for f in good)


def test_worker_crash_marks_batch_and_pipeline_goes_on(image_folder):
    cfg = PipelineConfig(stages=(StageSpec("probe", {"crash_seq": 4}, num_cpus=0.5, max_batch=1, calls_per_actor=1),), max_in_flight=4)
    frames, _ = _run(cfg, [ImageFilesSource.from_folder(image_folder, source_id="a")])
    assert [f.seq for f in frames] == list(range(16))
    assert "worker failed" in frames[4].errors["probe"]
    after = [f for f in frames if f.seq > 4]
    assert all("probe" in f.results for f in after), [f.errors for f in after if not f.ok]


def test_fast_live_source_drops_but_stays_ordered(tmp_path, data_dir):
    # A video file opened as a live capture: OpenCV reads it as fast as it can, like a fast camera.
    video = tmp_path / "fast.avi"
    import cv2

    img = cv2.imread(str(data_dir / "photos" / "bus.jpg"))
    img = cv2.resize(img, (320, 240))
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(120):
        w.write(np.roll(img, i, axis=1))
    w.release()
    src = CaptureSource(str(video), source_id="cam")
    cfg = PipelineConfig(stages=(StageSpec("probe", {"sleep_ms": 30}, num_cpus=0.5, max_batch=1, calls_per_actor=1),),
                         max_in_flight=2, source_queue=2, drop_policy="drop_oldest")
    with Pipeline(cfg) as p:
        readers: list = []
        frames = []
        for f in p.stream([src], readers_out=readers, max_frames=30):
            frames.append(f)
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(frames) == 30
    assert readers[0].dropped > 0  # the camera outran a 30 ms stage: old frames were dropped, not queued
    assert seqs[-1] > 29  # gaps in seq: frames were dropped between the ones that came through


def test_dead_stream_reconnects_while_other_source_flows(mjpeg_server, data_dir):
    from sensorium.pipeline.io.sources import ReconnectPolicy, open_source

    policy = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.2)
    live = open_source(mjpeg_server.url, source_id="cam", reconnect=policy, open_timeout_s=2.0, read_timeout_s=2.0)
    video = open_source(str(data_dir / "video" / "vtest.avi"), source_id="file")
    cfg = PipelineConfig(stages=(StageSpec("probe", num_cpus=0.5, max_batch=2),), max_in_flight=6, drop_policy=None)
    wanted = 3 * mjpeg_server.per_connection
    got: dict[str, list] = {"cam": [], "file": []}
    with Pipeline(cfg) as p:
        deadline = time.monotonic() + 60
        for f in p.stream([live, video]):
            got[f.source_id].append(f)
            if len(got["cam"]) >= wanted or time.monotonic() > deadline:
                break
    assert mjpeg_server.connections >= 3, "the server closed its socket twice: the source must have reconnected"
    assert len(got["cam"]) >= wanted
    for sid, frames in got.items():
        seqs = [f.seq for f in frames]
        assert seqs == sorted(set(seqs)), sid
        assert all("probe" in f.results for f in frames), sid
    assert len(got["file"]) >= 10  # the file source kept flowing while the stream was down
    assert live.state.value in ("ended", "running", "reconnecting")
    reconnects = p.metrics.registry.get_sample_value("sensorium_source_reconnects_total", {"source": "cam"})
    assert reconnects == live.reconnects >= 2  # each closed socket, counted in the Prometheus series


def test_metrics_are_served_over_http(image_folder):
    import urllib.request

    cfg = PipelineConfig(stages=(StageSpec("probe", {"sleep_ms": 5}, num_cpus=0.5, max_batch=2),), max_in_flight=4, metrics_port=0)
    with Pipeline(cfg) as p:
        frames = list(p.stream([ImageFilesSource.from_folder(image_folder, source_id="a")]))
        body = urllib.request.urlopen(f"http://127.0.0.1:{p.metrics_port}/metrics", timeout=5).read().decode()
    assert len(frames) == 16

    def value(line_start: str) -> float:
        (line,) = [ln for ln in body.splitlines() if ln.startswith(line_start)]
        return float(line.rsplit(" ", 1)[1])

    assert value('sensorium_stage_latency_seconds_count{stage="probe"}') == 16
    assert value('sensorium_frames_total{source="a",status="ok"}') == 16
    assert value('sensorium_dropped_frames{source="a"}') == 0
    assert value('sensorium_queue_depth{stage="probe"}') == 0
    assert value('sensorium_source_state{source="a",state="ended"}') == 1
    assert value('sensorium_fps{source="a"}') > 0


def test_actors_that_cannot_all_start_are_refused_at_once(ray_cluster):
    """Three 1-CPU actors on the 2-CPU cluster would leave one pending forever: a clear error instead."""
    cfg = PipelineConfig(stages=(StageSpec("probe", num_cpus=1), StageSpec("second", num_cpus=1, replicas=2)))
    with pytest.raises(ValueError, match="num_cpus=3 together; the cluster has CPU=2"):
        Pipeline(cfg).start()


def test_run_summary_counts_each_run_per_source(image_folder, tmp_path):
    """The summary's frames and errors per source are this run's (a second run on the same
    pipeline starts from zero, while the Prometheus counters keep adding up)."""
    folder = tmp_path / "mixed"
    shutil.copytree(image_folder, folder)
    (folder / "img_03.jpg").write_bytes(b"not a jpeg")
    cfg = PipelineConfig(stages=(StageSpec("probe", {"fail_seq": 7}, num_cpus=0.5, max_batch=4),), max_in_flight=8)
    seen: list = []
    with Pipeline(cfg) as p:
        first = p.run([ImageFilesSource.from_folder(folder, source_id="a"), ImageFilesSource.from_folder(image_folder, source_id="b")],
                      on_frame=seen.append)
        second = p.run([ImageFilesSource.from_folder(image_folder, source_id="b")])
    assert first.frames == {"a": 16, "b": 16} and first.errors == {"a": 2, "b": 1}  # a: the bad file and seq 7; b: seq 7
    assert first.total_frames == len(seen) == 32 and first.source_states == {"a": "ended", "b": "ended"}
    assert second.frames == {"b": 16} and second.errors == {"b": 1}
    assert p.metrics.registry.get_sample_value("sensorium_frames_total", {"source": "b", "status": "ok"}) == 30  # the exported series: both runs


def _stop_after(stop, n: int, seen: list):
    def on_frame(frame):
        seen.append(frame)
        if len(seen) == n:
            stop.request("test")
    return on_frame


def test_a_requested_stop_finishes_the_frames_in_flight(image_folder, tmp_path):
    """Stop after 3 frames: nothing more is admitted, every frame in flight is finished and
    written, and the report adds up (emitted = before the stop + finished in flight)."""
    from sensorium.pipeline.io.sinks import build_sinks
    from sensorium.pipeline.stream.stop import StopRequest

    stop, seen = StopRequest(drain_timeout_s=120), []
    cfg = PipelineConfig(stages=(StageSpec("probe", {"sleep_ms": 20}, num_cpus=0.5, max_batch=2),), max_in_flight=6)
    with Pipeline(cfg) as p:
        summary = p.run([ImageFilesSource.from_folder(image_folder, source_id="a")], build_sinks(["jsonl"], tmp_path),
                        on_frame=_stop_after(stop, 3, seen), stop=stop)
    report = summary.stop
    assert report.requested and report.reason == "test" and not report.forced and report.dropped_in_flight == 0
    assert report.finished_in_flight == report.in_flight_at_stop >= 1
    assert summary.frames == {"a": len(seen)} and len(seen) == 3 + report.in_flight_at_stop < 16
    assert [f.seq for f in seen] == list(range(len(seen)))
    assert len((tmp_path / "frames.jsonl").read_text().splitlines()) == len(seen)


def test_a_forced_stop_drops_the_frames_in_flight_and_counts_them(image_folder):
    from sensorium.pipeline.stream.stop import StopRequest

    stop, seen = StopRequest(drain_timeout_s=0), []
    cfg = PipelineConfig(stages=(StageSpec("probe", {"sleep_ms": 300}, num_cpus=0.5, max_batch=1, calls_per_actor=1),), max_in_flight=4)
    with Pipeline(cfg) as p:
        summary = p.run([ImageFilesSource.from_folder(image_folder, source_id="a")], on_frame=_stop_after(stop, 1, seen), stop=stop)
    report = summary.stop
    assert report.requested and report.in_flight_at_stop >= 1
    assert report.dropped_in_flight + report.finished_in_flight == report.in_flight_at_stop and report.dropped_in_flight >= 1
    assert summary.frames == {"a": len(seen)} == {"a": 1 + report.finished_in_flight}


def test_max_frames_is_the_stop_reason_when_it_ends_the_run(image_folder):
    cfg = PipelineConfig(stages=(StageSpec("probe", num_cpus=0.5),), max_in_flight=4)
    with Pipeline(cfg) as p:
        summary = p.run([ImageFilesSource.from_folder(image_folder, source_id="a")], max_frames=5)
        whole = p.run([ImageFilesSource.from_folder(image_folder, source_id="a")])
    assert summary.stop.reason == "max_frames" and not summary.stop.requested and summary.frames == {"a": 5}
    assert whole.stop.reason == "sources ended" and whole.failed_sources == [] and whole.reconnects == {}
