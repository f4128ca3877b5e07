"""Live sources on a real MJPEG-over-HTTP server on 127.0.0.1, a dead port and a missing webcam."""

from __future__ import annotations

import socket
import time

import cv2
import pytest

from sensorium.pipeline.io.sources.base import ReconnectPolicy, SourceState
from sensorium.pipeline.io.sources.capture import CaptureSource
from sensorium.pipeline.io.sources.open import open_source
from sensorium.pipeline.stream.reader import SourceReader


def free_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_stream_gives_up_after_max_attempts(read_all):
    source = open_source(f"http://127.0.0.1:{free_port()}/stream.mjpg", reconnect=ReconnectPolicy(initial_delay_s=0.01, max_delay_s=0.02, max_attempts=2), open_timeout_s=1.0)
    frames = read_all(source, limit=0)

    assert frames == []
    assert source.state is SourceState.ERROR
    assert "gave up after 2 retries" in source.error and "127.0.0.1" in source.error


def test_missing_webcam_gives_up(read_all):
    source = open_source(97, reconnect={"initial_delay_s": 0.01, "max_attempts": 1})
    assert isinstance(source, CaptureSource)
    assert read_all(source, limit=0) == []
    assert source.state is SourceState.ERROR and "camera 97" in source.error


def test_mjpeg_stream_reconnects_while_other_sources_keep_flowing(data_dir, mjpeg_server):
    assert "FFMPEG:" in cv2.getBuildInformation()  # the backend that reads HTTP MJPEG here
    policy = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.2)
    live = open_source(mjpeg_server.url, reconnect=policy, open_timeout_s=2.0, read_timeout_s=2.0)
    video = open_source(str(data_dir / "video/vtest.avi"))
    dead = open_source(f"http://127.0.0.1:{free_port()}/gone", reconnect=policy, open_timeout_s=1.0)
    readers = [SourceReader(s).start() for s in (live, video, dead)]
    live_frames, video_frames = [], []
    wanted = 3 * mjpeg_server.per_connection
    try:
        deadline = time.monotonic() + 20
        while len(live_frames) < wanted and time.monotonic() < deadline:
            if (f := readers[0].get(timeout=0.05)) is not None:
                live_frames.append(f)
            if (f := readers[1].get(timeout=0)) is not None:
                video_frames.append(f)
            assert readers[2].get(timeout=0) is None
    finally:
        started = time.monotonic()
        for r in readers:
            r.stop()
        assert time.monotonic() - started < 5 and not any(r.alive for r in readers)

    assert len(live_frames) >= wanted, f"only {len(live_frames)} live frames, states {list(live.state_log)}"
    assert mjpeg_server.connections >= 3
    seqs = [f.seq for f in live_frames]
    assert seqs == sorted(set(seqs))  # numbering continues across reconnections
    assert all(f.ok and f.image.shape == (48, 64, 3) and f.image[24, 32, 0] > 200 > f.image[24, 32, 2] for f in live_frames)
    states = [s for _, s, _ in live.state_log]
    first_reconnect = states.index(SourceState.RECONNECTING)
    assert SourceState.RUNNING in states[first_reconnect:]
    # the file source kept flowing in order, the dead one never produced and never blocked the others
    assert len(video_frames) >= 10 and [f.seq for f in video_frames] == list(range(len(video_frames)))
    assert readers[2].received == 0 and SourceState.RUNNING not in [s for _, s, _ in dead.state_log]


def test_unreachable_stream_gives_up_after_the_no_frame_time(read_all):
    """No limit on attempts, but give_up_after_s without a frame: the source ends on time, the
    last backoff cut short (not after a full max_delay_s wait)."""
    policy = ReconnectPolicy(initial_delay_s=0.2, max_delay_s=30.0, give_up_after_s=1.5)
    source = open_source(f"http://127.0.0.1:{free_port()}/stream.mjpg", reconnect=policy, open_timeout_s=1.0)
    started = time.monotonic()
    assert read_all(source, limit=0) == []
    assert source.state is SourceState.ERROR and "without a frame (limit 1.5 s" in source.error
    assert time.monotonic() - started < 15  # bounded by the policy (the open timeouts add a little), never 30 s backoffs


def test_one_dropped_connection_is_one_counted_reconnect(mjpeg_server):
    policy = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.2)
    source = open_source(mjpeg_server.url, reconnect=policy, open_timeout_s=2.0, read_timeout_s=2.0)
    frames = source.frames()
    got = [next(frames) for _ in range(mjpeg_server.per_connection + 2)]  # through the first drop and into the second connection
    frames.close()
    assert [f.seq for f in got] == list(range(len(got)))
    assert source.reconnects == 1 and mjpeg_server.connections == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"give_up_after_s": 0}, "give_up_after_s > 0"),
    ({"max_attempts": -1}, "max_attempts >= 0"),
    ({"initial_delay_s": 2.0, "max_delay_s": 1.0}, "initial_delay_s <= max_delay_s"),
])
def test_a_bad_policy_is_refused_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReconnectPolicy(**kwargs)


def test_the_backoff_is_cut_short_by_the_give_up_clock():
    policy = ReconnectPolicy(initial_delay_s=1.0, max_delay_s=8.0, give_up_after_s=10.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.wait_before_retry(4, silent_s=7.0) == 3.0 and policy.wait_before_retry(2, silent_s=1.0) == 2.0
    assert policy.timed_out(10.0) and not policy.timed_out(9.9) and not ReconnectPolicy().timed_out(1e9)
