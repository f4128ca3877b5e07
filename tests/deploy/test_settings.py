"""Service settings: no public address without a token; where the token comes from."""

from __future__ import annotations

import pytest

from sensorium.deploy.settings import ServiceSettings, read_token


def test_refuses_a_public_address_without_a_token(monkeypatch, tmp_path):
    monkeypatch.delenv("SENSORIUM_TOKEN", raising=False)
    with pytest.raises(ValueError, match="without a bearer token"):
        ServiceSettings(host="0.0.0.0")
    ServiceSettings(host="0.0.0.0", token="t")
    (tmp_path / "tok").write_text("from-file\n")
    assert read_token(token_file=tmp_path / "tok") == "from-file"
    with pytest.raises(FileNotFoundError):
        read_token(token_file=tmp_path / "none")
