"""Pipeline test helpers: an MJPEG camera server on loopback."""

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
