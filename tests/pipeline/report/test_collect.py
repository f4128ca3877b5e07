"""RunRecorder: bounded facts from real frames (a real photo, a real MJPEG stream that drops)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sources import ReconnectPolicy, open_source, read_image
from sensorium.pipeline.report import RunRecorder
from sensorium.pipeline.report.collect import THUMB_WIDTH
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections


def _frame(image: np.ndarray, seq: int, ms: float, *, source: str = "bus", error: str = "") -> Frame:
    h, w = image.shape[:2]
    depth = np.full((h, w), 1.0 + seq, np.float32)
    depth[: h // 4] = 0  # unknown pixels are not sampled
    det = Detections(boxes=np.array([[50, 400, 250, 900]], np.float32), scores=np.array([0.5 + seq / 100], np.float32),
                     class_id=np.array([0]), class_names=("person",))
    K = np.array([[500.0, 0, w / 2], [0, 500.0, h / 2], [0, 0, 1]])
    return Frame(source, seq, image=image, results={"detect": det, "depth": Depth(depth=depth, confidence=(depth > 0).astype(np.float32), K=K)},
                 timings={"detect": ms / 2000, "depth": ms / 2000}, errors={"face": error} if error else {})


@pytest.fixture(scope="module")
def bus(data_dir) -> np.ndarray:
    return read_image(data_dir / "photos/bus.jpg")


def test_contact_sheet_holds_first_slowest_and_failed_frames_only(bus):
    rec = RunRecorder(keep=2)
    times = [30, 10, 90, 20, 80, 40, 70, 10, 60, 50]
    for seq, ms in enumerate(times):
        rec.write(_frame(bus, seq, ms, error="no model" if seq in (3, 5, 7) else ""))
    held = {id(f) for f in [*rec.first.values(), *rec.failed, *(f for *_, f in rec.slowest)]}
    assert len(held) <= 3 * rec.keep  # never all frames
    sheet = rec.thumbs()
    assert [(t.seq, t.why) for t in sheet] == [(0, "first"), (2, "slowest"), (4, "slowest"), (3, "error"), (5, "error")]
    assert sheet[1].compute_ms == pytest.approx(90) and sheet[3].errors == {"face": "no model"}
    picture = cv2.imdecode(np.frombuffer(sheet[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] == THUMB_WIDTH and picture.std() > 10  # the annotated frame, scaled down
    assert rec.close()["frames"] == len(times)


def test_samples_latency_scores_and_valid_depths(bus):
    rec = RunRecorder()
    for seq in range(3):
        rec.write(_frame(bus, seq, 40))
    assert list(rec.latency) == ["detect", "depth"] and list(rec.latency["detect"]) == pytest.approx([20, 20, 20])
    assert list(rec.scores) == pytest.approx([0.5, 0.51, 0.52])
    depths = np.array(rec.depths)
    assert len(depths) > 3 * 250 and set(np.unique(depths)) == {1.0, 2.0, 3.0}  # no unknown (0) pixel sampled


def test_sequence_gaps_are_drops_and_errors_are_events(bus):
    rec = RunRecorder()
    for seq in (0, 1, 4, 5, 9):  # what a live source's drop policy leaves: frames 2-3 and 6-8 never arrive
        rec.write(_frame(bus, seq, 10, error="boom" if seq == 5 else ""))
    assert [(kind, n) for _s, _t, kind, n in rec.events] == [("drop", 2), ("error", 1), ("drop", 3)]


def test_a_stream_that_drops_its_connection_is_a_reconnect_event(mjpeg_server):
    source = open_source(mjpeg_server.url, reconnect=ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.2), open_timeout_s=2.0, read_timeout_s=2.0)
    rec = RunRecorder(sources=[source])
    frames = source.frames()
    for _ in range(mjpeg_server.per_connection + 2):  # through the first drop, into the second connection
        rec.write(next(frames))
    frames.close()
    assert [(sid, kind, n) for sid, _t, kind, n in rec.events] == [(source.source_id, "reconnect", 1)]
