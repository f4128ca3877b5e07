"""``sensorium serve`` refuses a bad config file or stage list at once, naming what was wrong,
before any Ray or server starts."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.deploy.conftest import CLI


@pytest.mark.parametrize("yaml_text, args, message", [
    ("applications:\n  - args: {stages: [detect]}\n    deployments: [{name: detect, max_ongoing: 3}]\n", [],
     "applications.0.deployments.0.max_ongoing: unknown key"),
    ("http_options: {host: 0.0.0.0, port: 8000}\n", [], "refusing to listen on '0.0.0.0' without a bearer token"),
    ("applications: [{args: {stages: [nope]}}]\n", ["--local"], "unknown stage 'nope'"),
    (None, ["--stages", "detect,nope"], "unknown stage 'nope'"),
])
def test_bad_configs_are_refused_naming_the_key(tmp_path, yaml_text, args, message):
    env = {k: v for k, v in os.environ.items() if k not in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE", "RAY_ADDRESS")}
    if yaml_text is not None:
        (tmp_path / "serve.yaml").write_text(yaml_text)
        args = ["--config", str(tmp_path / "serve.yaml"), *args]
    r = subprocess.run(CLI + ["serve", *args], env=env, capture_output=True, text=True, timeout=120)
    out = " ".join((r.stdout + r.stderr).split())
    assert r.returncode != 0 and message in out and "Traceback" not in out, r.stdout + r.stderr
