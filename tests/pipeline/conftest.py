"""Pipeline test helpers: an MJPEG camera server on loopback, a generated clip the shipped detector sees."""

from __future__ import annotations

import http.server
import threading
import time

import cv2
import numpy as np

import pytest


class MJPEGServer:
    """multipart/x-mixed-replace JPEG stream on 127.0.0.1; each connection gets ``per_connection``
    frames, then its socket is closed (a camera dropping the stream)."""

    def __init__(self, per_connection: int = 6, interval_s: float = 0.01) -> None:
        self.per_connection, self.interval_s = per_connection, interval_s
        self.connections = 0
        image = np.zeros((48, 64, 3), np.uint8)
        image[8:40, 8:56] = (0, 0, 255)  # a red square (BGR)
        self.jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for _ in range(server.per_connection):
                        part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(server.jpeg)
                        self.wfile.write(part + server.jpeg + b"\r\n")
                        self.wfile.flush()
                        time.sleep(server.interval_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def mjpeg_server():
    server = MJPEGServer()
    yield server
    server.close()


def disc_clip(path, n=40, size=256):
    """A red disc (r = 24 px, a shape the shipped detector is trained on) over a noisy flat
    background, walking right from x=30 to x=226 over n/2 frames, then back: MJPG at 10 fps.
    Returns the true centre x per frame."""
    rng = np.random.default_rng(0)
    background = np.clip(np.full((size, size, 3), (90, 110, 100), np.float32) + rng.normal(0, 6, (size, size, 3)), 0, 255).astype(np.uint8)
    half = n // 2
    xs = [30 + 196 * (t / (half - 1) if t < half else (n - 1 - t) / (half - 1)) for t in range(n)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (size, size))
    for x in xs:
        rgb = background.copy()
        cv2.circle(rgb, (int(x * 16), 128 * 16), 24 * 16, (230, 40, 40), -1, cv2.LINE_AA, 4)
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return xs


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory, ray_cluster):
    """One in-process ``sensorium run`` over the bundled sample (stereo + RGB-D) through depth,
    detect and face into JSONL and Rerun, with the report (on by default): the report and Rerun
    sink tests only read its OUT folder, so the run is paid once. Depth runs its ``fast`` preset:
    these tests check what the sinks and the report record, not the depth chain (tests/stages/depth
    does), and a denser default chain would cost every run of the suite."""
    from typer.testing import CliRunner

    from sensorium.pipeline.cli.run import app

    out = tmp_path_factory.mktemp("sample_run")
    res = CliRunner().invoke(app, ["run", "--stages", "depth,detect,face", "--set", "depth.preset=fast", "--sinks", "jsonl,rerun",
                                 "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"report: {out / 'report.html'}" in res.output.replace("\n", "")
    return out
