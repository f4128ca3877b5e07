"""Shared fixtures: where the real data lies (``SENSORIUM_DATA``, default ``../shared/data``), and
what the tests read there, checked against the data manifest (``data/manifest.toml``).

Every file a test reads under ``SENSORIUM_DATA`` must be in the manifest, or a machine that got
its data with ``make data`` fails that test. What was read is recorded two ways, because neither
sees everything on this suite:

- ``data_dir`` is a :class:`DataPath`: it notes each path the test derives from it
  (``data_dir / "video" / "vtest.avi"``) and each path rendered for a reader
  (``cv2.imread(str(p))``, ``open(p)``, a subprocess's argv, ``p.iterdir()``). This is what
  sees the reads made in C (OpenCV, onnxruntime, decoders), in Ray workers and in
  subprocesses, which audit hooks miss; all 2000-odd tests already reach the data through it.
- an audit hook (``sys.addaudithook``) on ``open``, ``os.listdir`` and ``os.scandir`` sees the
  Python-level reads under the folder that do not come from ``data_dir``: the code under test
  resolving ``SENSORIUM_DATA`` itself (registered weights with a local path).

A folder that was read as a whole (listed, globbed, handed to a command, or the data folder
itself given as ``SENSORIUM_DATA`` to a subprocess) must hold only listed files. At the end of
the session :func:`pytest_sessionfinish` fails the run, naming each path the manifest lacks.
tests/test_data_manifest.py checks the rest: the manifest's sha256 values match the local copy,
registered weights' local paths are listed, and no test reads the data folder except through
``data_dir``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path, PosixPath

import pytest

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "data" / "manifest.toml"
#: every path under the data folder that a test handed to code, or that was opened or listed
DATA_READS: set[str] = set()


def data_root() -> Path:
    return Path(os.environ.get("SENSORIUM_DATA", REPO.parent / "shared" / "data")).resolve()


class DataPath(PosixPath):
    """A path under the data folder that records in :data:`DATA_READS` each path derived from it
    (``/``, ``joinpath``: what the test names, even when the code it is handed to copies it with
    ``Path(p)`` and reads it in C) and each time it is rendered (``str``, ``os.fspath``: what
    every reader of a path calls, the data folder itself included). Derived paths (``/``,
    ``.parent``, ``iterdir``, ``glob``) are DataPaths too. Copied or pickled it is a plain Path,
    so it crosses into Ray workers and subprocesses as one."""

    def __str__(self) -> str:
        text = super().__str__()
        DATA_READS.add(text)
        return text

    def __truediv__(self, key):
        child = super().__truediv__(key)
        DATA_READS.add(PosixPath.__str__(child))
        return child

    def joinpath(self, *segments):
        child = super().joinpath(*segments)
        DATA_READS.add(PosixPath.__str__(child))
        return child

    def __reduce__(self):
        return (Path, (PosixPath.__str__(self),))


_AUDITED = ("open", "os.listdir", "os.scandir")


def _audit(event: str, args: tuple) -> None:
    """Record Python-level opens and listings under the data folder (set in pytest_configure)."""
    if event in _AUDITED and args and isinstance(args[0], (str, bytes)) and _AUDIT_ROOT:
        path = os.fsdecode(args[0])
        if path.startswith(_AUDIT_ROOT):
            DATA_READS.add(path)


_AUDIT_ROOT = ""


def pytest_configure(config) -> None:
    global _AUDIT_ROOT
    _AUDIT_ROOT = str(data_root()) + os.sep
    if not getattr(sys, "_sensorium_data_audit", False):  # a hook cannot be removed: install it once per process
        sys.addaudithook(_audit)
        sys._sensorium_data_audit = True


def pytest_sessionstart(session) -> None:
    """Say once, before any test runs, when the data folder lacks files (each test that reads it
    fails too, through ``data_dir``, but only when its turn comes)."""
    from sensorium.pipeline.tools.data_manifest import load_manifest, problems

    bad = problems(load_manifest(MANIFEST), data_root())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if bad and reporter is not None:
        reporter.write_line(f"test data: {len(bad)} file(s) missing or wrong in {data_root()} (first: {bad[0]}): run `make data`; "
                            "the tests that read it will fail", yellow=True, bold=True)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Fail the session when a test read a file under the data folder the manifest does not list."""
    if not DATA_READS:
        return
    from sensorium.pipeline.tools.data_manifest import load_manifest, uncovered

    missing = uncovered(load_manifest(MANIFEST), data_root(), set(DATA_READS))
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        line = (f"tests read {len(missing)} file(s) under SENSORIUM_DATA that {MANIFEST.relative_to(REPO)} does not list: {shown}. "
                "Add each with its public URL, sha256 and licence, so `make data` fetches it.")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line, red=True, bold=True)
        else:
            sys.stderr.write(line + "\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder (a :class:`DataPath`: what is read through it is checked
    against the manifest); tests that need it fail loudly, saying how to get it, if it is not there."""
    from sensorium.pipeline.tools.data_manifest import load_manifest, problems

    root = data_root()
    bad = problems(load_manifest(MANIFEST), root)
    if bad:
        pytest.fail(f"real test data not found at {root}: {len(bad)} file(s) missing or wrong (first: {bad[0]}). "
                    "Run `make data` (sensorium data fetch), or set SENSORIUM_DATA to the shared data folder")
    return DataPath(root)


class Loopback:
    """A real HTTP server on 127.0.0.1 for download tests (weights, test data): ``put(path, body)``
    serves ``body`` at ``base + path``; ``length`` above the body's announces more than is sent and
    closes the connection (a transfer that broke off). ``requested``: the paths asked for, in order."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.files: dict[str, tuple[bytes, int]] = {}
        self.requested: list[str] = []
        files, requested = self.files, self.requested

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                requested.append(self.path)
                if self.path not in files:
                    self.send_error(404)
                    return
                body, length = files[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def put(self, path: str, body: bytes, length: int | None = None) -> str:
        self.files[path] = (body, len(body) if length is None else length)
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback():
    """A :class:`Loopback` HTTP server, closed after the test."""
    server = Loopback()
    yield server
    server.close()


#: a real registered entry (CLIP ViT-B/32, laion2b: no published hash, so trust on first use)
#: that the weights-download tests serve from a mirror on loopback
MIRRORED_NAME = "clip-vit-b-32-laion2b"
MIRRORED_FILE = f"{MIRRORED_NAME}.open_clip.bin"
MIRRORED_PUBLISHED = "https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/"


@pytest.fixture
def weights_mirror(tmp_path, monkeypatch, loopback):
    """A weights mirror on loopback holding :data:`MIRRORED_FILE` (random bytes), set through
    ``SENSORIUM_MODELS_MIRROR`` as users behind a proxy set it, and an empty cache at
    ``tmp_path/cache``; returns (the file's bytes, the paths requested so far)."""
    body = os.urandom(1 << 16)
    loopback.put(f"/{MIRRORED_FILE}", body)
    monkeypatch.setenv("SENSORIUM_MODELS_MIRROR", loopback.base + "/")
    monkeypatch.setenv("SENSORIUM_CACHE", str(tmp_path / "cache"))
    return body, loopback.requested


@pytest.fixture(scope="session")
def local_agent():
    """The GUI agent with its local OCR grounding backend, built once (its OCR engine loads once)."""
    from sensorium.pipeline.agent.build import build_gui_agent

    return build_gui_agent()


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster (2 CPUs, as on the CI machine) shared by the tests that need one."""
    import ray

    if not ray.is_initialized():
        # address="local": a Ray of its own even when another one (`ray start`, another checkout's tests) runs on the machine
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray
    ray.shutdown()


#: Debian's chromium (``make test`` installs it) and the flags that keep it offline and quiet
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium driven by Playwright (the real browser of the e2e and docs tests)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium not found at {CHROMIUM} (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
