"""Rerun's web viewer for a recording being written: the ``rerun`` CLI in a child process,
serving on loopback only, stopped with the sink.

A child process rather than ``rr.serve_web_viewer``: that one listens on every interface and
lives until the Python process ends, so a run could neither keep it to this machine nor stop
it. The child hosts the web viewer over HTTP and a gRPC proxy the recording streams into.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time

log = logging.getLogger(__name__)


class WebViewer:
    """``rerun --serve-web`` on 127.0.0.1: the viewer page on ``web_port``, the gRPC proxy on
    ``grpc_port`` (0: a free port for either). ``url`` opens the viewer on this recording."""

    def __init__(self, web_port: int = 9090, grpc_port: int = 9876, *, start_timeout_s: float = 30.0) -> None:
        self.web_port = web_port or free_port()
        self.grpc_port = grpc_port or free_port()
        cmd = [rerun_binary(), "--serve-web", "--bind", "127.0.0.1", "--port", str(self.grpc_port),
               "--web-viewer-port", str(self.web_port), "--expect-data-soon"]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait_listening(start_timeout_s)
        except Exception:
            self.close()
            raise

    @property
    def grpc_url(self) -> str:
        """Where a recording streams to (``rr.GrpcSink(url)``)."""
        return f"rerun+http://127.0.0.1:{self.grpc_port}/proxy"

    @property
    def url(self) -> str:
        """The web viewer, connected to this recording."""
        return f"http://127.0.0.1:{self.web_port}/?url={self.grpc_url}"

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = {self.web_port, self.grpc_port}
        while pending:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
                raise RuntimeError(f"rerun web viewer exited with {self._proc.returncode} (ports {self.web_port}, {self.grpc_port} taken?): {err[-500:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"rerun web viewer not listening on 127.0.0.1:{sorted(pending)} after {timeout_s:.0f} s")
            pending = {p for p in pending if not _listening(p)}
            if pending:
                time.sleep(0.1)

    def close(self, timeout_s: float = 10.0) -> int | None:
        """Stop the viewer (SIGTERM, then SIGKILL); its exit code. Idempotent."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("rerun web viewer did not stop within %.0f s; killing it", timeout_s)
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        return self._proc.returncode


def rerun_binary() -> str:
    """The ``rerun`` executable of the installed rerun-sdk (``RERUN_CLI_PATH`` overrides it, as for
    the ``rerun`` command). Run directly: ``python -m rerun`` starts it as a grandchild, which
    stopping the child would leave running."""
    import rerun_cli

    path = os.environ.get("RERUN_CLI_PATH") or os.path.join(os.path.dirname(rerun_cli.__file__), "rerun")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"rerun viewer binary not found at {path} (reinstall rerun-sdk, or set RERUN_CLI_PATH)")
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False
