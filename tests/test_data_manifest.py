"""The data manifest (``data/manifest.toml``) covers what the tests read under ``SENSORIUM_DATA``,
and says the truth about it: each listed file's sha256 and size are the local copy's.

How reads are recorded, and why that way, is in tests/conftest.py's docstring; here the
recording itself is run end to end on a pytest session of its own, and the two things it cannot
see are checked statically: paths the code under test builds from ``SENSORIUM_DATA`` (registered
weights' local paths) and tests that would reach the folder without ``data_dir``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sensorium.pipeline.tools.data_manifest import is_data, load_manifest, problems

REPO = Path(__file__).resolve().parents[1]
MANIFEST = load_manifest(REPO / "data" / "manifest.toml")


def test_every_listed_file_has_the_size_and_sha256_of_the_local_copy(data_dir):
    assert problems(MANIFEST, data_dir, hashes=True) == []


def test_every_file_in_the_data_folder_is_listed(data_dir):
    """A file put into the shared folder for a new test must come with its manifest entry."""
    root = Path(os.fspath(data_dir))
    here = {rel for p in root.rglob("*") if p.is_file() and is_data(rel := p.relative_to(root).as_posix())}
    assert sorted(here - set(MANIFEST.files)) == [] and sorted(set(MANIFEST.files) - here) == []


def test_every_source_says_where_its_files_come_from_and_under_which_licence():
    for source in MANIFEST.sources:
        assert source.license and source.checked, source.name
        assert (source.base or source.archive or "").startswith("https://") or source.unavailable, source.name
        assert source.files, f"source {source.name} lists no file"


def test_registered_weights_found_in_the_data_folder_are_listed(data_dir):
    """The code under test resolves these itself (``LocalPath``), out of data_dir's sight. One
    that is not here (ArcFace: opt-in, never in the shared folder) cannot be read by a test."""
    from sensorium.models.hub.weights import LocalPath, list_weights

    root = Path(os.fspath(data_dir))
    local = {s.path for w in list_weights() for s in w.sources if isinstance(s, LocalPath) and not Path(s.path).is_absolute()}
    here = {p for p in local if (root / p).is_file()}
    assert len(here) >= 8 and sorted(here - set(MANIFEST.files)) == []


#: lines that name SENSORIUM_DATA without reading the data folder, with the reason
ALLOWED = {
    ("tests/models/hub/test_weights.py", 'markers = (os.environ["SENSORIUM_DATA"]'):
        "a probe run with SENSORIUM_DATA set to an empty marker folder, asserting nothing there is touched at import",
}
#: ways to reach the data folder without data_dir: reading the variable, or spelling its default place
BYPASS = re.compile(r"""environ(\.get)?\s*[\[(]\s*["']SENSORIUM_DATA|getenv\(\s*["']SENSORIUM_DATA|["']shared["']\s*/\s*["']data["']"""
                    r"""|shared/data|\bdata_root\(|\bweights\.data_dir\(|import\s+data_dir\b""")


def test_no_test_reaches_the_data_folder_except_through_data_dir():
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in ("tests/conftest.py", "tests/test_data_manifest.py"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if BYPASS.search(line) and not any(rel == f and part in line for f, part in ALLOWED):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "read the data through the data_dir fixture (its reads are checked against the manifest):\n" + "\n".join(found)


_PROBE_CONFTEST = """
import importlib.util
spec = importlib.util.spec_from_file_location("sensorium_tests_conftest", {conftest!r})
real = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real)
pytest_configure, pytest_sessionfinish, data_dir = real.pytest_configure, real.pytest_sessionfinish, real.data_dir
"""
_PROBE_TESTS = """
import os
import cv2

def test_a_listed_photo_read_in_c(data_dir):
    assert cv2.imread(str(data_dir / "photos" / "bus.jpg")) is not None

def test_an_unlisted_file_read_in_c(data_dir):
    cv2.imread(str(data_dir / "extra_c" / "unlisted.png"))

def test_an_unlisted_file_opened_without_data_dir():
    open(os.path.join(os.environ["SENSORIUM_DATA"], "extra_py", "opened.bin"), "rb").read()
"""


@pytest.fixture
def probe(tmp_path, data_dir):
    """A pytest session of its own under tests/conftest.py's hooks, on a data folder that is the
    real one (linked) plus two folders the manifest does not list."""
    data = tmp_path / "data"
    data.mkdir()
    real = Path(os.fspath(data_dir))
    for entry in real.iterdir():
        (data / entry.name).symlink_to(entry)
    for folder, name in (("extra_c", "unlisted.png"), ("extra_py", "opened.bin")):
        (data / folder).mkdir()
        (data / folder / name).write_bytes(b"not listed")
    (tmp_path / "conftest.py").write_text(_PROBE_CONFTEST.format(conftest=str(REPO / "tests" / "conftest.py")))
    (tmp_path / "test_probe.py").write_text(_PROBE_TESTS)

    def run(*select: str) -> subprocess.CompletedProcess:
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "-c", os.devnull,
                *(f"test_probe.py::{s}" for s in select)]
        return subprocess.run(args, cwd=tmp_path, env={**os.environ, "SENSORIUM_DATA": str(data)}, capture_output=True,
                              text=True, timeout=300)

    return run


@pytest.mark.slow
def test_a_session_that_reads_only_listed_files_passes(probe):
    out = probe("test_a_listed_photo_read_in_c")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "does not list" not in out.stdout


@pytest.mark.slow
def test_a_session_that_reads_unlisted_files_fails_naming_each(probe):
    """One read in C through data_dir (what the recording path sees), one opened in Python without
    data_dir (what the audit hook sees); every test passes, the session does not."""
    out = probe("test_a_listed_photo_read_in_c", "test_an_unlisted_file_read_in_c", "test_an_unlisted_file_opened_without_data_dir")
    text = " ".join(out.stdout.split())
    assert out.returncode == 1 and "3 passed" in text, out.stdout[-3000:] + out.stderr[-3000:]
    assert ("tests read 2 file(s) under SENSORIUM_DATA that data/manifest.toml does not list: "
            "extra_c/unlisted.png, extra_py/opened.bin.") in text
