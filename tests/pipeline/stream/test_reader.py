"""SourceReader: real threads over real sources; drop policies, backpressure, stop, failures."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.stream.reader import DropPolicy, SourceReader
from sensorium.pipeline.io.sources import ReconnectPolicy, Source, SourceItem, SourceState, open_source


class BurstSource(Source):
    """A live source that emits ``n`` tiny frames as fast as it can (a camera outrunning its consumer),
    then raises ``fail_with`` if given."""

    live = True

    def __init__(self, n: int, fail_with: Exception | None = None) -> None:
        super().__init__("burst")
        self.n, self.fail_with = n, fail_with

    def _read(self):
        for i in range(self.n):
            if self.closed:
                return
            yield SourceItem(image=np.full((4, 4, 3), i % 256, np.uint8), meta={"i": i})
        if self.fail_with is not None:
            raise self.fail_with


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def drain(reader: SourceReader, limit: int = 10_000) -> list:
    frames = []
    while (f := reader.get(timeout=0)) is not None:
        frames.append(f)
        assert len(frames) <= limit
    return frames


@pytest.fixture
def image_folder(data_dir, tmp_path) -> Path:
    base = cv2.resize(cv2.imread(str(data_dir / "photos/zidane.jpg")), (32, 24))
    for i in range(12):
        assert cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.roll(base, i, axis=1))
    return tmp_path


def test_drop_oldest_keeps_the_newest_frames_and_counts_drops():
    source = BurstSource(300)
    with SourceReader(source, queue_size=4) as reader:
        assert reader.drop_policy is DropPolicy.DROP_OLDEST  # the default for a live source
        first = reader.get(timeout=5)
        wait_until(lambda: not reader.alive)  # the slow consumer sleeps through the burst
        rest = drain(reader)

    assert first is not None
    # the queue ends holding the newest frames (fewer only if the first get came that late)
    assert [f.seq for f in rest] == list(range(300 - min(4, 299 - first.seq), 300))
    assert reader.dropped > 0 and reader.dropped + 1 + len(rest) == 300
    assert reader.finished and reader.state is SourceState.ENDED and reader.error is None


def test_latest_only_returns_the_latest_frame():
    reader = SourceReader(BurstSource(300), queue_size=8, drop_policy="latest_only").start()
    try:
        wait_until(lambda: not reader.alive)
        latest = reader.get(timeout=1)
        assert reader.get(timeout=0.05) is None
    finally:
        reader.stop()

    assert latest.seq == 299 and latest.meta["i"] == 299
    assert reader.dropped == 299 and reader.finished


def test_block_policy_on_files_delivers_everything_in_order_with_backpressure(image_folder):
    source = open_source(str(image_folder))
    reader = SourceReader(source, queue_size=2).start()
    try:
        assert reader.drop_policy is DropPolicy.BLOCK  # the default for files
        wait_until(lambda: reader.received == 2)
        time.sleep(0.2)
        assert reader.received == 2 and len(reader) == 2  # the thread waits for room, reads no further
        frames = []
        deadline = time.monotonic() + 10
        while not reader.finished and time.monotonic() < deadline:
            if (f := reader.get(timeout=0.1)) is not None:
                frames.append(f)
                time.sleep(0.01)  # slow consumer
    finally:
        reader.stop()

    assert [f.seq for f in frames] == list(range(12))
    assert [Path(f.meta["path"]).name for f in frames] == [f"{i:03d}.png" for i in range(12)]
    assert reader.dropped == 0 and reader.state is SourceState.ENDED


def test_stop_is_prompt_when_the_thread_waits_for_room(image_folder):
    reader = SourceReader(open_source(str(image_folder)), queue_size=1, drop_policy="block").start()
    wait_until(lambda: reader.received == 1)
    started = time.monotonic()
    reader.stop(timeout=2)

    assert time.monotonic() - started < 1.0 and not reader.alive
    assert reader.get(timeout=0).seq == 0  # what was queued stays gettable
    assert reader.finished and reader.state is SourceState.ENDED


def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/stream"


def test_stop_is_prompt_during_a_reconnect_backoff_and_get_honours_its_timeout():
    source = open_source(_refused_url(), reconnect=ReconnectPolicy(initial_delay_s=30.0, max_delay_s=30.0), open_timeout_s=1.0)
    reader = SourceReader(source).start()
    wait_until(lambda: source.failures == 1)  # the first open failed: now in its 30 s backoff

    started = time.monotonic()
    assert reader.get(timeout=0.2) is None
    assert 0.15 < time.monotonic() - started < 1.0
    assert reader.state is SourceState.CONNECTING

    started = time.monotonic()
    reader.stop(timeout=2)
    assert time.monotonic() - started < 1.0 and not reader.alive and reader.finished


def test_exhausted_reconnects_end_the_reader_in_error():
    source = open_source(_refused_url(), reconnect=ReconnectPolicy(initial_delay_s=0.01, max_delay_s=0.01, max_attempts=1), open_timeout_s=1.0)
    with SourceReader(source) as reader:
        wait_until(lambda: reader.finished)

    assert reader.state is SourceState.ERROR and "gave up after 1 retries" in reader.error
    assert reader.received == 0


def test_an_exception_in_the_source_thread_becomes_state_error():
    errors_seen_by_thread_hook = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: errors_seen_by_thread_hook.append(args)
    try:
        reader = SourceReader(BurstSource(3, fail_with=RuntimeError("sensor unplugged")), drop_policy="block").start()
        frames = []
        deadline = time.monotonic() + 5
        while not reader.finished and time.monotonic() < deadline:
            if (f := reader.get(timeout=0.1)) is not None:
                frames.append(f)
        reader.stop()
    finally:
        threading.excepthook = old_hook

    assert [f.seq for f in frames] == [0, 1, 2]  # what came before the failure is delivered
    assert reader.finished and reader.state is SourceState.ERROR
    assert "RuntimeError" in reader.error and "sensor unplugged" in reader.error
    assert errors_seen_by_thread_hook == []  # handled in the thread, not an unhandled crash


@pytest.mark.parametrize(
    "options, expectation, names",
    [
        ({"drop_policy": "newest"}, pytest.raises(ValueError), "newest"),
        ({"queue_size": 0}, pytest.raises(ValueError), "queue_size"),
        ({"drop_policy": "latest_only", "queue_size": 5}, does_not_raise(), None),
        ({"drop_policy": DropPolicy.BLOCK}, does_not_raise(), None),
    ],
)
def test_reader_options_are_validated(options, expectation, names):
    with expectation as exc:
        SourceReader(BurstSource(1), **options)
    if names:
        assert names in str(exc.value)
