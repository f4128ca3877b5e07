"""The stream runner in this process (its stage actors on a real local Ray): a finite folder
of real photos plus a corrupt file, read to its end; the ring buffer, the long polls, the
preview and the counters."""

from __future__ import annotations

import shutil
import time

import cv2
import numpy as np
import pytest

from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.serve.streams.runner import StreamRunner
from sensorium.pipeline.serve.streams.spec import StreamRequest, build_spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(ray_cluster, data_dir, tmp_path_factory):
    """A runner over three images (two real photos, one corrupt), run to the end; results_buffer 2."""
    root = tmp_path_factory.mktemp("root")
    folder = root / "photos"
    folder.mkdir()
    shutil.copy(data_dir / "faces" / "two_people.jpg", folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    shutil.copy(data_dir / "photos" / "zidane.jpg", folder / "c.jpg")
    policy = StreamPolicy(file_roots=(str(root),), results_buffer=2, preview_fps=1000.0)
    spec = build_spec(policy, StreamRequest(str(folder), ("face",), {"face": {"recognizer": "none", "threads": 1, "keep_chips": False}}))
    runner = StreamRunner(spec)
    assert runner.stats()["state"] == "starting"
    runner.start()
    deadline = time.monotonic() + 180
    while runner.stats()["state"] not in ("stopped", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
    yield runner
    runner.stop()


def test_a_finite_source_ends_stopped_with_its_counters(finished):
    stats = finished.stats()
    assert stats["state"] == "stopped" and stats["frames"] == 3
    assert stats["errors"] == {"source": 1} and "b.jpg" in stats["last_error"]
    assert sum(stats["latency"]["counts"]) == 3 and stats["latency"]["sum"] > 0


def test_the_ring_buffer_keeps_the_newest_records(finished):
    records, ended = finished.results(0, timeout=0)
    assert ended and [seq for seq, _ in records] == [2, 3]  # results_buffer=2: the first is gone
    assert finished.results(2, timeout=0)[0][0][0] == 3
    assert finished.results(3, timeout=0) == ([], True)  # nothing newer, and none will come: no wait
    assert [seq for seq, _ in finished.results(99, timeout=0)[0]] == [2, 3]  # a stale id from elsewhere: from the oldest kept


def test_the_preview_is_the_last_annotated_frame(finished):
    number, jpeg, ended = finished.preview(0, timeout=0)
    assert ended and number == 3
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == cv2.imread(str(finished.spec.source) + "/c.jpg").shape[:2]
    assert finished.preview(3, timeout=0) == (3, None, True)


def test_stop_after_the_end_keeps_the_outcome(finished):
    assert finished.stop()["state"] == "stopped"


def test_a_stage_that_cannot_set_up_fails_the_stream_with_the_reason(ray_cluster, data_dir):
    policy = StreamPolicy(file_roots=(str(data_dir / "photos"),))
    runner = StreamRunner(build_spec(policy, StreamRequest(str(data_dir / "photos"), ("face",), {"face": {"detector": "nope"}})))
    runner.start()
    deadline = time.monotonic() + 120
    while runner.stats()["state"] == "starting" and time.monotonic() < deadline:
        time.sleep(0.2)
    stats = runner.stats()
    assert stats["state"] == "failed" and "unknown weights 'nope'" in stats["last_error"] and stats["frames"] == 0
    assert runner.results(0, timeout=5) == ([], True)  # its SSE clients are told at once
    assert runner.stop()["state"] == "failed"


def test_a_stream_runs_ordered_stages_in_capture_order(ray_cluster, tmp_path):
    """/v1/streams uses the stream engine: detect, track and zones (lines under "*", for the
    source id the service assigns) on the generated disc clip count its two crossings."""
    import json

    from tests.pipeline.conftest import disc_clip

    clip = tmp_path / "disc.avi"
    disc_clip(clip)
    policy = StreamPolicy(file_roots=(str(tmp_path),), results_buffer=100)
    options = {"detect": {"max_detections": "1"}, "zones": {"lines": {"*": [{"name": "gate", "start": [128, 0], "end": [128, 256]}]}}}
    runner = StreamRunner(build_spec(policy, StreamRequest(str(clip), ("detect", "track", "zones"), options)))
    runner.start()
    deadline = time.monotonic() + 180
    while runner.stats()["state"] not in ("stopped", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
    records, ended = runner.results(0, timeout=0)
    runner.stop()
    frames = [json.loads(r) for _, r in records]
    assert ended and [f["seq"] for f in frames] == list(range(40)), runner.stats()
    gate = frames[-1]["results"]["zones"]["lines"][0]
    assert (gate["in_count"], gate["out_count"]) == (1, 1)
