"""``/v1/streams`` end to end: real MJPEG cameras on loopback, a real local Ray, the face stage,
real HTTP (uvicorn) with server-sent events and the MJPEG preview.

One service and one Ray for the module; the tests run in order on the streams the earlier
ones started (two streams, then one camera stopped and restarted, then one stream deleted).
Waits are bounds on a poll, never speed checks.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import httpx
import numpy as np
import pytest

from sensorium.deploy.rest.app import create_app
from sensorium.deploy.settings import ServiceSettings
from sensorium.pipeline.serve.streams.client import LocalStreams
from sensorium.pipeline.serve.streams.manager import StreamManager
from sensorium.pipeline.serve.streams.policy import StreamPolicy

from tests.deploy.conftest import AUTH, free_port

pytestmark = pytest.mark.slow

FACE = {"face": {"recognizer": "none", "threads": 1, "keep_chips": False}}


class Camera:
    """A real MJPEG camera: ``multipart/x-mixed-replace`` JPEG frames on 127.0.0.1 until
    :meth:`stop` (which also cuts the open connections, as a camera losing power would);
    :meth:`start` brings it back on the same port."""

    def __init__(self, image: np.ndarray, fps: float = 8.0) -> None:
        self.jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        self.interval, self.port, self.connections = 1.0 / fps, 0, set()
        self.start()

    def start(self) -> None:
        camera, self.stopping = self, threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                camera.connections.add(self.connection)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not camera.stopping.is_set():
                        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(camera.jpeg)
                        self.wfile.write(head + camera.jpeg + b"\r\n")
                        self.wfile.flush()
                        time.sleep(camera.interval)
                except OSError:
                    pass
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connections.clear()
        self.thread.join(5)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` (a bound)."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last})")


@pytest.fixture(scope="module")
def cameras(data_dir):
    image = cv2.resize(cv2.imread(str(data_dir / "faces" / "two_people.jpg")), (320, 240))
    cams = [Camera(image), Camera(image[:, ::-1].copy())]
    yield cams
    for cam in cams:
        cam.stop()


@pytest.fixture(scope="module")
def short_clip(data_dir, tmp_path_factory) -> Path:
    """The first 40 frames of the Hamilton clip as a video file of their own: a file stream's end
    is the same at 40 frames as at 275, at a seventh of the face stage's work."""
    path = tmp_path_factory.mktemp("clips") / "hamilton_40.avi"
    cap = cv2.VideoCapture(str(data_dir / "video" / "short_hamilton_clip.mp4"))
    fps, size = cap.get(cv2.CAP_PROP_FPS), (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for _ in range(40):
        ok, frame = cap.read()
        assert ok, "the Hamilton clip has fewer than 40 frames"
        out.write(frame)
    cap.release()
    out.release()
    return path


@pytest.fixture(scope="module")
def manager(ray_cluster, data_dir, short_clip, tmp_path_factory) -> StreamManager:
    """The policy: http only, files under the data's video folder (and the short clip's),
    sinks under a temporary root, at most two streams, a one-second keep-alive."""
    policy = StreamPolicy(schemes=("http",), file_roots=(str(data_dir / "video"), str(short_clip.parent)),
                          output_root=str(tmp_path_factory.mktemp("streams")), max_streams=2, keepalive_s=1.0, preview_fps=4.0)
    return StreamManager(policy)


@pytest.fixture(scope="module")
def service(manager, local_agent):
    """uvicorn on a free loopback port serving the app with a token and ``manager``'s streams."""
    import uvicorn

    port = free_port()
    settings = ServiceSettings(port=port, token="s3cret-token", rate_limit_per_minute=60000, rate_limit_burst=10000, streams=manager.policy)
    app = create_app(settings, local_agent, streams=LocalStreams(manager))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for("the service up", lambda: _healthy(url), timeout=30, every=0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=60)
    assert manager.ids() == [], "the app's shutdown stops every stream"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def streams(service, cameras) -> dict[str, str]:
    """Two running streams, one per camera: name → id."""
    ids = {}
    for name, cam in zip(("a", "b"), cameras):
        r = httpx.post(service + "/v1/streams", json={"source": cam.url, "stages": ["face"], "options": FACE, "name": name}, headers=AUTH, timeout=120)
        assert r.status_code == 201, r.text
        assert r.headers["location"] == f"/v1/streams/{r.json()['id']}"
        ids[name] = r.json()["id"]
    for sid in ids.values():
        wait_for(f"stream {sid} running with frames", lambda sid=sid: (s := status(service, sid))["state"] == "running" and s["frames"] > 2 and s)
    return ids


def status(url: str, sid: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/v1/streams/{sid}", headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def sse_events(url: str, sid: str, n: int, headers: dict[str, str] | None = None) -> tuple[list[tuple[int, dict]], int]:
    """The first ``n`` events of the stream's results (id, data) and the keep-alive comments seen."""
    events, comments, event_id = [], 0, None
    with httpx.stream("GET", f"{url}/v1/streams/{sid}/results", headers={**AUTH, **(headers or {})}, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith(":"):
                comments += 1
            elif line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                events.append((event_id, json.loads(line[6:])))
                if len(events) == n:
                    break
    return events, comments


# --- refusals, before any actor ------------------------------------------------------------------
@pytest.mark.parametrize("body, status_code, words", [
    ({"source": "file:///etc/passwd", "stages": ["face"]}, 403, "file:// URLs are not accepted"),
    ({"source": "/etc/passwd", "stages": ["face"]}, 403, "outside the allowed file roots"),
    ({"source": "{video}/../faces/two_people.jpg", "stages": ["face"]}, 403, "outside the allowed file roots"),
    ({"source": "gopher://127.0.0.1:70/x", "stages": ["face"]}, 400, "unsupported URL scheme 'gopher'"),
    ({"source": "rtsp://cam.local/s1", "stages": ["face"]}, 403, "scheme 'rtsp' is not allowed"),
    ({"source": 0, "stages": ["face"]}, 403, "cameras are not allowed"),
    ({"source": "http://127.0.0.1:9/x", "stages": ["face"], "sinks": ["shell"]}, 400, "unknown sink"),
    ({"source": "http://127.0.0.1:9/x", "stages": ["nope"]}, 422, "nope"),
    ({"source": "http://127.0.0.1:9/x", "stages": ["face"], "options": {"face": {"max_side": "huge"}}}, 422, "max_side"),
    ({"source": "http://127.0.0.1:9/x", "stages": ["face"], "options": {"detect": {}}}, 422, "does not run"),
    ({"source": "http://127.0.0.1:9/x", "stages": ["face"], "options": {"face": {"gallery": "/tmp/planted.sqlite"}}}, 403, "names a file"),
    ({"source": "http://127.0.0.1:9/x", "stages": []}, 422, "stages"),
])
def test_refused_streams_name_the_rule_and_start_nothing(service, data_dir, body, status_code, words):
    body = {**body, "source": body["source"].replace("{video}", str(data_dir / "video")) if isinstance(body["source"], str) else body["source"]}
    r = httpx.post(service + "/v1/streams", json=body, headers=AUTH, timeout=30)
    assert r.status_code == status_code, r.text
    assert words in r.json()["error"]["message"]
    assert httpx.get(service + "/v1/streams", headers=AUTH, timeout=30).json() == {"streams": []}


def test_streams_need_the_token(service):
    assert httpx.get(service + "/v1/streams", timeout=30).status_code == 401
    r = httpx.post(service + "/v1/streams", json={"source": "http://127.0.0.1:9/x", "stages": ["face"]},
                   headers={"Authorization": "Bearer wrong"}, timeout=30)
    assert r.status_code == 401
    assert httpx.get(service + "/v1/streams/s-missing", headers=AUTH, timeout=30).status_code == 404


# --- two live streams ------------------------------------------------------------------------------
def test_two_streams_report_their_health(service, streams, cameras):
    listed = {s["id"]: s for s in httpx.get(service + "/v1/streams", headers=AUTH, timeout=30).json()["streams"]}
    assert set(listed) == set(streams.values())
    a = listed[streams["a"]]
    assert a["source"] == cameras[0].url and a["stages"] == ["face"] and a["name"] == "a" and a["created"] <= time.time()
    assert a["state"] == "running" and a["frames"] > 2 and a["reconnects"] == 0 and a["errors"] == {}
    assert sum(a["latency"]["counts"]) == a["frames"] or sum(a["latency"]["counts"]) >= a["frames"] - 1


def test_a_third_stream_is_refused_at_the_limit(service, streams, cameras):
    r = httpx.post(service + "/v1/streams", json={"source": cameras[0].url, "stages": ["face"]}, headers=AUTH, timeout=30)
    assert r.status_code == 429 and "at most 2 streams" in r.json()["error"]["message"]


def test_results_arrive_as_server_sent_events_and_resume(service, streams):
    events, _ = sse_events(service, streams["a"], 3)
    ids = [i for i, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == 3
    for _, record in events:
        assert record["source_id"] == streams["a"] and record["image_shape"] == [240, 320, 3]
        assert record["results"]["face"]["kind"] == "faces" and record["errors"] == {}
    assert any(r["results"]["face"]["boxes"]["shape"][0] == 2 for _, r in events)  # the two people in the picture
    resumed, _ = sse_events(service, streams["a"], 1, {"Last-Event-ID": str(ids[-1])})
    assert resumed[0][0] > ids[-1]


def test_preview_is_annotated_jpeg(service, streams):
    with httpx.stream("GET", f"{service}/v1/streams/{streams['b']}/preview.mjpg", headers=AUTH, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            if buf.count(b"--frame") >= 2:
                break
    part = buf.split(b"--frame")[1]
    head, _, body = part.partition(b"\r\n\r\n")
    assert b"Content-Type: image/jpeg" in head
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    image = cv2.imdecode(np.frombuffer(body[:length], np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (240, 320, 3)


def test_metrics_carry_each_stream(service, streams):
    text = httpx.get(service + "/metrics", headers=AUTH, timeout=30).text
    for sid in streams.values():
        assert f'sensorium_stream_frames_total{{stream="{sid}"}}' in text
        assert f'sensorium_stream_state{{state="running",stream="{sid}"}} 1.0' in text
        assert f'sensorium_stream_latency_seconds_bucket{{le="+Inf",stream="{sid}"}}' in text


# --- faults ------------------------------------------------------------------------------------------
def test_stopped_camera_reconnects_while_the_other_stream_flows(service, streams, cameras):
    a, b = streams["a"], streams["b"]
    cameras[0].stop()
    wait_for("stream a reconnecting", lambda: status(service, a)["state"] == "reconnecting", timeout=60, every=0.2)
    b_before, a_before = status(service, b)["frames"], status(service, a)["frames"]
    assert keepalive_while_idle(service, a, a_before), "an idle results stream hears a keep-alive comment"
    wait_for("stream b still flowing while a is down", lambda: status(service, b)["frames"] > b_before + 3, timeout=60)
    assert status(service, a)["state"] == "reconnecting"
    cameras[0].start()  # same port
    wait_for("stream a running again with new frames", lambda: (s := status(service, a))["state"] == "running" and s["frames"] > a_before + 2 and s)
    assert status(service, a)["reconnects"] >= 1
    text = httpx.get(service + "/metrics", headers=AUTH, timeout=30).text
    assert f'sensorium_stream_reconnects_total{{stream="{a}"}}' in text


def keepalive_while_idle(url: str, sid: str, after: int) -> bool:
    """Whether the results after ``after`` bring a ``: keep-alive`` comment (the stream has no new frames)."""
    with httpx.stream("GET", f"{url}/v1/streams/{sid}/results?after={after}", headers=AUTH, timeout=60) as r:
        for i, line in enumerate(r.iter_lines()):
            if line.startswith(": keep-alive"):
                return True
            if i > 40:  # a few frames still in flight when the camera stopped, then silence
                return False
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone too
        return f.read().split(") ")[-1][:1] != "Z"


def test_deleting_a_stream_releases_its_actors_and_spares_the_other(service, streams, manager):
    a, b = streams["a"], streams["b"]
    pids = manager.processes(a)
    other = manager.processes(b)
    assert pids["stages"] and all(_alive(p) for p in [pids["runner"], *pids["stages"]])
    r = httpx.delete(f"{service}/v1/streams/{a}", headers=AUTH, timeout=60)
    assert r.status_code == 200 and r.json()["state"] == "stopped" and r.json()["id"] == a
    wait_for("stream a's runner and stage actors gone", lambda: not any(_alive(p) for p in [pids["runner"], *pids["stages"]]), timeout=60)
    assert httpx.get(f"{service}/v1/streams/{a}", headers=AUTH, timeout=30).status_code == 404
    assert httpx.get(f"{service}/v1/streams/{a}/results", headers=AUTH, timeout=30).status_code == 404
    before = status(service, b)["frames"]
    wait_for("stream b still flowing after a was deleted", lambda: status(service, b)["frames"] > before + 3, timeout=60)
    assert all(_alive(p) for p in [other["runner"], *other["stages"]])
    assert f'stream="{a}"' not in httpx.get(service + "/metrics", headers=AUTH, timeout=30).text


def test_a_file_stream_ends_and_its_events_end(service, streams, short_clip, manager):
    body = {"source": str(short_clip), "stages": ["face"], "options": FACE, "sinks": ["jsonl"]}
    r = httpx.post(service + "/v1/streams", json=body, headers=AUTH, timeout=120)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    events = []
    with httpx.stream("GET", f"{service}/v1/streams/{sid}/results", headers=AUTH, timeout=120) as resp:
        for line in resp.iter_lines():  # ends by itself when the file does
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    final = status(service, sid)
    assert final["state"] == "stopped" and final["frames"] >= len(events) > 0
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    lines = (Path(manager.policy.output_root) / sid / "frames.jsonl").read_text().splitlines()
    assert len(lines) == final["frames"]  # the jsonl sink under the operator's root wrote every frame
    httpx.delete(f"{service}/v1/streams/{sid}", headers=AUTH, timeout=60)
