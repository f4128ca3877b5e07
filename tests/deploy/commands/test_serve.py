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


def _serve(*args: str):
    env = {"COLUMNS": "400", "SENSORIUM_TOKEN": "", "RAY_ADDRESS": ""}
    result = CliRunner().invoke(app, ["serve", "--stages", "embed", *args], env=env)
    return result.exit_code, " ".join((result.output or "").split())


@pytest.mark.timeout(120)
def test_served_weights_are_fetched_only_with_allow_download_before_anything_starts(tmp_path, weights_mirror):
    """``serve --set embed.weights=NAME`` names a registered model that is not here: refused
    (exit 2, file, URL, cache path, the flag to pass) unless ``--allow-download`` fetches it,
    verified, before the service starts. A bad agent flag, checked after the weights, stops the
    command there: no Ray, no server."""
    from tests.conftest import MIRRORED_FILE, MIRRORED_NAME, MIRRORED_PUBLISHED

    body, requested = weights_mirror
    cached = tmp_path / "cache" / MIRRORED_FILE
    code, text = _serve("--set", f"embed.weights={MIRRORED_NAME}")
    assert code == 2 and requested == [] and not cached.exists(), text
    for part in (f"weights {MIRRORED_NAME!r} ({MIRRORED_FILE}) not found", MIRRORED_PUBLISHED, str(cached), "--allow-download"):
        assert part in text, (part, text)
    code, text = _serve("--set", f"embed.weights={MIRRORED_NAME}", "--allow-download", "--uitars-version", "9")
    assert code == 2 and "uitars_version: expected 1.0 or 1.5" in text and "not found" not in text, text
    assert requested == [f"/{MIRRORED_FILE}"] and cached.read_bytes() == body


@pytest.mark.timeout(120)
def test_stage_options_by_set_are_checked_and_refused_beside_a_config(tmp_path):
    code, text = _serve("--set", "embed.crops=many")
    assert code == 2 and "crops" in text and "many" in text, text
    code, text = _serve("--set", "embed.batch_size=4")
    assert code == 2 and "unknown option(s) batch_size" in text, text
    (tmp_path / "serve.yaml").write_text("applications: [{args: {stages: [embed]}}]\n")
    code, text = _serve("--config", str(tmp_path / "serve.yaml"), "--set", "embed.weights=clip_small")
    assert code == 2 and "with --config, stage options go in the config file's args.options" in text, text
