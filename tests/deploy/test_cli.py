"""The console script's service commands: ``serve --local`` in its own process over real HTTP,
``agent act`` and the refusals in-process (their output and exit status are the subject)."""

from __future__ import annotations

import json
import os
import subprocess

import httpx

from tests.deploy.conftest import CLI, b64, free_port, png, screen_with_button, wait_healthy


def test_serve_command_over_real_http(tmp_path):
    """``sensorium serve --local`` in its own process answers with its token (its refusal of a
    public address without one: test_serve_refuses_the_empty_host_without_a_token)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE")}
    (tmp_path / "token").write_text("tok-123\n")
    port = free_port()
    proc = subprocess.Popen(CLI + ["serve", "--local", "--port", str(port), "--token-file", str(tmp_path / "token")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        r = wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=300)  # a bound: a start-up took 122 s at load 16
        assert r.status_code == 200 and r.json()["backend"] == "local"
        body = {"screenshot": b64(png(screen_with_button())), "instruction": "click Submit"}
        assert httpx.post(f"http://127.0.0.1:{port}/v1/agent/act", json=body, timeout=60).status_code == 401
        ok = httpx.post(f"http://127.0.0.1:{port}/v1/agent/act", json=body, headers={"Authorization": "Bearer tok-123"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["actions"][0]["type"] == "click"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_agent_act_prints_json_and_executes_nothing(tmp_path):
    """``sensorium agent act`` without --execute: the JSON answer in screen pixels, nothing run;
    without a screenshot to read it says what is missing."""
    from typer.testing import CliRunner

    from sensorium.deploy.cli import app

    shot = tmp_path / "s.png"
    shot.write_bytes(png(screen_with_button()))
    out = CliRunner().invoke(app, ["agent", "act", "--screenshot", str(shot), "-i", "click Submit", "--dpr", "2"])
    assert out.exit_code == 0, (out.stderr, out.exception)
    [click] = json.loads(out.stdout)["actions"]
    assert click["type"] == "click" and 100 <= click["x"] <= 180 and 100 <= click["y"] <= 125  # the button, in half the pixels
    missing = CliRunner().invoke(app, ["agent", "act", "-i", "click Submit"])
    assert missing.exit_code == 2 and "--screenshot is needed" in missing.stderr


def test_serve_refuses_the_empty_host_without_a_token(monkeypatch):
    """``--host ''`` binds every interface: it needs a token like 0.0.0.0 (it was taken for loopback)."""
    from typer.testing import CliRunner

    from sensorium.deploy.cli import app

    for name in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE", "SENSORIUM_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for host in ("", "0.0.0.0", "::"):
        res = CliRunner().invoke(app, ["serve", "--local", "--host", host])
        assert res.exit_code == 2 and f"refusing to listen on {host!r} without a bearer token" in " ".join(res.output.split()), res.output


def test_serve_refuses_an_unknown_log_format():
    from typer.testing import CliRunner

    from sensorium.deploy.cli import app

    res = CliRunner().invoke(app, ["serve", "--local", "--log-format", "xml"])
    assert res.exit_code == 2 and "--log-format: expected text or json, got 'xml'" in " ".join(res.output.split())
