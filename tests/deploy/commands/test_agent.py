"""``sensorium agent act``: bad agent settings are refused before any work, naming the value."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sensorium.deploy.cli import app


@pytest.mark.parametrize("args, message", [
    (["--backend", "bogus"], "error: backend: expected local or openai, got 'bogus'"),
    (["--uitars-version", "2.0"], "error: uitars_version: expected 1.0 or 1.5, got '2.0'"),
    (["--prompt", "tablet"], "error: prompt_kind: expected one of computer, mobile, grounding, got 'tablet'"),
    (["--backend", "openai"], "error: the openai backend needs a base URL and a model name"),
])
def test_bad_agent_settings_exit_2_before_the_screenshot_is_read(tmp_path, args, message):
    # the screenshot does not exist: the settings error must come first
    res = CliRunner().invoke(app, ["agent", "act", "--screenshot", str(tmp_path / "missing.png"), "-i", "click OK", *args])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split()), res.output
