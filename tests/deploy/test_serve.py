"""``sensorium serve --local`` in its own process: a SIGTERM while a request is in flight (its
body half sent) lets that request finish with its answer, then the process exits cleanly."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from .conftest import CLI, free_port, wait_healthy


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(data_dir, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k not in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE")}
    with open(log, "w") as out:
        proc = subprocess.Popen(CLI + ["serve", "--local", "--stages", "detect", "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=300, output=log.read_text)
        body = json.dumps({"image": base64.b64encode((data_dir / "photos" / "bus.jpg").read_bytes()).decode(), "stages": ["detect"]}).encode()
        head = (f"POST /v1/perceive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port), timeout=120) as conn:
            conn.sendall(head + body[: len(body) // 2])  # the request has begun: the server holds it
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)  # the server is shutting down now, and must still wait for this request
            conn.sendall(body[len(body) // 2:])
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        status, _, rest = answer.partition(b"\r\n")
        assert status.startswith(b"HTTP/1.1 200"), answer[:500]
        result = json.loads(rest.partition(b"\r\n\r\n")[2])
        assert result["errors"] == {} and result["results"]["detect"]["kind"] == "detections"
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
