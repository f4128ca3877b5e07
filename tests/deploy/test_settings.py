"""Service settings: no public address without a token; where the token comes from."""

from __future__ import annotations

import pytest

from sensorium.deploy.settings import ServiceSettings, is_loopback, read_token


def test_refuses_a_public_address_without_a_token(monkeypatch, tmp_path):
    monkeypatch.delenv("SENSORIUM_TOKEN", raising=False)
    with pytest.raises(ValueError, match="without a bearer token"):
        ServiceSettings(host="0.0.0.0")
    ServiceSettings(host="0.0.0.0", token="t")
    ServiceSettings(host="0.0.0.0", tokens_file=str(tmp_path / "tokens.json"))  # an empty table: auth on, nobody gets in yet
    (tmp_path / "tok").write_text("from-file\n")
    assert read_token(token_file=tmp_path / "tok") == "from-file"
    with pytest.raises(FileNotFoundError):
        read_token(token_file=tmp_path / "none")


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
                                            ("", False), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
                                            ("LOCALHOST.", False), (" 127.0.0.1", False), ("example.org", False)])
def test_only_exact_loopback_hosts_go_without_a_token(host, loopback):
    """The empty host binds every interface (uvicorn and asyncio read it as all addresses)."""
    assert is_loopback(host) is loopback
    if loopback:
        ServiceSettings(host=host)
    else:
        with pytest.raises(ValueError, match=f"refusing to listen on {host!r} without a bearer token"):
            ServiceSettings(host=host)


@pytest.mark.parametrize("kwargs, message", [
    ({"log_format": "xml"}, "log_format: expected text or json"),
    ({"max_request_pixels": 10, "max_image_pixels": 20}, "max_request_pixels"),
    ({"max_json_depth": 10_000}, "max_json_depth: expected 2..512"),
])
def test_bad_settings_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ServiceSettings(**kwargs)


def test_a_broken_tokens_file_fails_at_the_edge(tmp_path):
    (tmp_path / "t.json").write_text('{"tokens": [{"name": "a", "sha256": "short", "scopes": ["agent"]}]}')
    with pytest.raises(ValueError, match="entry 0: token a: sha256"):
        ServiceSettings(tokens_file=str(tmp_path / "t.json"))
