"""``sensorium token``: the token printed once, only its hash stored, list and revoke."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sensorium.deploy.cli import app
from sensorium.deploy.tokens import TokenTable, hash_token


def test_create_list_revoke(tmp_path):
    path = tmp_path / "tokens.json"
    runner = CliRunner()
    out = runner.invoke(app, ["token", "create", "ci-bot", "--scopes", "perceive,agent", "--file", str(path)])
    assert out.exit_code == 0, out.output
    token = out.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and token not in path.read_text()
    assert json.loads(path.read_text())["tokens"] == [{"name": "ci-bot", "sha256": hash_token(token), "scopes": ["perceive", "agent"]}]
    assert TokenTable(path=path).verify(token).scopes == ("perceive", "agent")
    listed = runner.invoke(app, ["token", "list", "--file", str(path)])
    assert listed.exit_code == 0 and listed.stdout.strip() == "ci-bot\tperceive,agent"
    again = runner.invoke(app, ["token", "create", "ci-bot", "--scopes", "agent", "--file", str(path)])
    assert again.exit_code == 2 and "exists" in again.output
    bad = runner.invoke(app, ["token", "create", "x", "--scopes", "root", "--file", str(path)])
    assert bad.exit_code == 2 and "scopes: expected" in " ".join(bad.output.split())
    assert runner.invoke(app, ["token", "revoke", "ci-bot", "--file", str(path)]).exit_code == 0
    assert TokenTable(path=path).verify(token) is None
    assert runner.invoke(app, ["token", "revoke", "ci-bot", "--file", str(path)]).exit_code == 2
