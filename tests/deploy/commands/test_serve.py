"""``sensorium serve`` refuses a bad config file or stage list at once, naming what was wrong,
before any Ray or server starts.

In-process (the command's own exit, not a process's start-up, is the subject): a command that
started a server instead would block, and the timeout fails it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sensorium.deploy.cli import app


@pytest.mark.parametrize("yaml_text, args, message", [
    ("applications:\n  - args: {stages: [detect]}\n    deployments: [{name: detect, max_ongoing: 3}]\n", [],
     "applications.0.deployments.0.max_ongoing: unknown key"),
    ("http_options: {host: 0.0.0.0, port: 8000}\n", [], "refusing to listen on '0.0.0.0' without a bearer token"),
    ("applications: [{args: {stages: [nope]}}]\n", ["--local"], "unknown stage 'nope'"),
    (None, ["--stages", "detect,nope"], "unknown stage 'nope'"),
])
@pytest.mark.timeout(120)
def test_bad_configs_are_refused_naming_the_key(tmp_path, monkeypatch, yaml_text, args, message):
    for name in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE", "SENSORIUM_TOKENS_FILE", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    if yaml_text is not None:
        (tmp_path / "serve.yaml").write_text(yaml_text)
        args = ["--config", str(tmp_path / "serve.yaml"), *args]
    r = CliRunner().invoke(app, ["serve", *args])
    out = " ".join(r.output.split())
    # a SystemExit is the command's own refusal; any other exception would be a traceback
    assert r.exit_code != 0 and isinstance(r.exception, SystemExit) and message in out, (r.output, r.exception)
