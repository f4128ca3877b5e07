"""Shared fixtures: where the real data lies (``SENSORIUM_DATA``, default ``../shared/data``)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return Path(os.environ.get("SENSORIUM_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder; tests that need it fail loudly if it is missing."""
    root = data_root()
    if not (root / "README.md").exists():
        pytest.fail(f"real test data not found at {root}: set SENSORIUM_DATA to the shared data folder")
    return root


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
